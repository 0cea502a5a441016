"""Microsoft Teams for DealCoach, on the Bot Framework SDK (botbuilder 4.17).

``setup(web_app, settings, coach)`` adds ``POST /api/messages`` to DealCoach's aiohttp app and returns
the Teams :class:`~coaching.ports.Sender` for the outbox. Every botbuilder import stays inside this
package, so moving to the Microsoft 365 Agents SDK later is this package's work alone.

Authentication is the SDK's: ``CloudAdapter(ConfigurationBotFrameworkAuthentication(config))``, wrapped
(see :mod:`adapters.teams.connector`) so that connector clients are reused and bad tokens give 401.
Safe by default: with an app id every request is JWT-checked and replies only go to allowed
``serviceUrl``s (:mod:`adapters.teams.trust`); Bot Framework emulator mode (no authentication) needs
``DEALCOACH_TEAMS_EMULATOR=1`` and then serves loopback clients and loopback ``serviceUrl``s only; with
neither, ``/api/messages`` is not mounted, and the log says why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.config import ConfigError, Settings
from coaching.ports import Sender

log = logging.getLogger(__name__)

PATH = "/api/messages"
AUTHENTICATED = "authenticated"
EMULATOR = "emulator"


@dataclass
class Teams:
    """The pieces of one Teams set-up (tests and the bench look inside)."""

    adapter: Any
    bot: Any
    sender: Any
    pool: Any
    mode: str  # AUTHENTICATED | EMULATOR


TEAMS: web.AppKey[Teams] = web.AppKey("dealcoach.teams", Teams)


class SdkConfig:
    """The attribute bag ``ConfigurationBotFrameworkAuthentication`` reads (``APP_ID``, ``APP_TYPE``, …)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if value is not None:
                setattr(self, key, value)

    def __repr__(self) -> str:
        shown = {k: ("***" if "PASSWORD" in k else v) for k, v in vars(self).items()}
        return f"SdkConfig({shown})"


def sdk_config(settings: Settings, overrides: Mapping[str, Any] | None = None) -> SdkConfig:
    """Settings → SDK configuration; ConfigError (naming the setting) for combinations the SDK rejects."""
    app_type = (settings.microsoft_app_type or "MultiTenant").strip()
    kind = app_type.lower()
    if kind not in ("multitenant", "singletenant", "userassignedmsi"):
        allowed = "MultiTenant, SingleTenant or UserAssignedMSI"
        raise ConfigError(f"MicrosoftAppType must be {allowed}, not {app_type!r}")
    if kind != "multitenant" and settings.microsoft_app_id:
        if not settings.microsoft_app_tenant_id:
            raise ConfigError(f"MicrosoftAppType {app_type} needs MicrosoftAppTenantId")
        if kind == "singletenant" and not settings.microsoft_app_password:
            raise ConfigError("MicrosoftAppType SingleTenant needs MicrosoftAppPassword")
    if settings.microsoft_app_id and kind != "userassignedmsi" and not settings.microsoft_app_password:
        raise ConfigError("MicrosoftAppId is set but MicrosoftAppPassword is not")
    values: dict[str, Any] = {
        "APP_ID": settings.microsoft_app_id,
        "APP_PASSWORD": settings.microsoft_app_password,
        "APP_TYPE": app_type if settings.microsoft_app_id else "MultiTenant",
        "APP_TENANTID": settings.microsoft_app_tenant_id,
    }
    values.update(overrides or {})
    return SdkConfig(values)


def mode_of(settings: Settings) -> str | None:
    """AUTHENTICATED with an app id, EMULATOR with DEALCOACH_TEAMS_EMULATOR=1 and none, else None."""
    if settings.microsoft_app_id:
        return AUTHENTICATED
    return EMULATOR if settings.teams_emulator else None


def build(
    settings: Settings,
    coach: Any,
    *,
    sdk_overrides: Mapping[str, Any] | None = None,
    credentials_factory: Any = None,
    pooled: bool = True,
) -> Teams:
    """The adapter, bot and sender for ``settings``; ``pooled=False`` gives the stock SDK set-up (bench)."""
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    from adapters.teams.bot import TeamsBot
    from adapters.teams.connector import ConnectorPool, ReusingAuthentication, SigningKeys
    from adapters.teams.sender import TeamsSender

    mode = AUTHENTICATED if settings.microsoft_app_id else EMULATOR
    config = sdk_config(settings, sdk_overrides)
    auth: Any = ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials_factory)
    pool = ConnectorPool(allows=service_urls(settings).allows)
    if pooled:
        keys = SigningKeys.for_config(config) if settings.microsoft_app_id else None
        auth = ReusingAuthentication(auth, pool, keys=keys)
    adapter = CloudAdapter(auth)
    sender = TeamsSender(adapter, coach, app_id=settings.microsoft_app_id)
    bot = TeamsBot(coach, private=sender, app_id=settings.microsoft_app_id, emulator=mode == EMULATOR)
    return Teams(adapter=adapter, bot=bot, sender=sender, pool=pool, mode=mode)


def service_urls(settings: Settings) -> Any:
    from adapters.teams.trust import ServiceUrls

    return ServiceUrls(settings.teams_service_urls, loopback_only=not settings.microsoft_app_id)


def setup(
    web_app: web.Application,
    settings: Settings,
    coach: Any,
    *,
    sdk_overrides: Mapping[str, Any] | None = None,
    credentials_factory: Any = None,
    path: str = PATH,
) -> Sender | None:
    """Mount Teams on ``web_app`` at ``path`` and return the Teams Sender; None (and a log line saying why)
    when Teams is not configured.

    ``sdk_overrides`` passes extra Bot Framework configuration keys (e.g.
    ``TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL``); ``credentials_factory`` replaces the SDK's
    password-based ``ServiceClientCredentialsFactory`` (certificates, managed identity, tests).
    """
    from adapters.teams.web import Endpoint, messages_handler

    mode = mode_of(settings)
    if mode is None:
        log.warning(
            "Teams: %s is NOT served: set MicrosoftAppId and MicrosoftAppPassword (Azure Bot Service), or "
            "DEALCOACH_TEAMS_EMULATOR=1 to try it with the Bot Framework Emulator on this machine",
            path,
        )
        return None
    teams = build(settings, coach, sdk_overrides=sdk_overrides, credentials_factory=credentials_factory)
    endpoint = Endpoint(teams.adapter, teams.bot, service_urls(settings), loopback_clients=mode == EMULATOR)
    web_app.router.add_post(path, messages_handler(endpoint))
    web_app[TEAMS] = teams

    async def close_connectors(_app: web.Application) -> None:
        await teams.pool.close()
        if teams.bot.deps.downloads is not None:  # the calendar files' downloader, made with the first file
            await teams.bot.deps.downloads.close()

    web_app.on_cleanup.append(close_connectors)
    _log_mode(settings, mode, path)
    return teams.sender


def _log_mode(settings: Settings, mode: str, path: str) -> None:
    if mode == EMULATOR:
        log.warning(
            "Teams: %s runs in Bot Framework EMULATOR MODE (DEALCOACH_TEAMS_EMULATOR=1, no MicrosoftAppId): "
            "requests are NOT authenticated, so only clients and serviceUrls on this machine are accepted.",
            path,
        )
        return
    if settings.teams_emulator:
        log.warning("Teams: DEALCOACH_TEAMS_EMULATOR is ignored because MicrosoftAppId is set")
    log.info(
        "Teams: %s validates Bot Framework tokens for app id %s (%s); replies go to Microsoft's hosts%s",
        path,
        settings.microsoft_app_id,
        settings.microsoft_app_type,
        f" and {', '.join(settings.teams_service_urls)}" if settings.teams_service_urls else "",
    )
