"""Settings, read once from the environment (``Settings.from_env``) and passed down."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import time, timedelta
from typing import Any
from urllib.parse import urlsplit

from coaching.parser import CHANNELS, domain_name, quiet_hours
from coaching.room import CoachDefaults

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///dealcoach.db"


class ConfigError(ValueError):
    """A setting has a value DealCoach cannot use; the message says which and why."""


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``sqlite:///``) and pick the async driver."""
    url = url.strip()
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ConfigError(
        f"DATABASE_URL must be sqlite+aiosqlite:///FILE or postgresql+asyncpg://..., not {url.split(':')[0]}:..."
    )


def _secret(default: str | None = None) -> str | None:
    return field(default=default, repr=False)


@dataclass(frozen=True)
class Operations:
    """How the service behaves under load, faults and deploys (issue 15); README's configuration table."""

    lease_seconds: float = 120.0  # DEALCOACH_LEASE_SECONDS: a claimed nudge whose process died is sent after this
    shutdown_seconds: float = 8.0  # DEALCOACH_SHUTDOWN_SECONDS: SIGTERM to exit, inside Docker's default 10 s
    send_concurrency: int = 10  # DEALCOACH_SEND_CONCURRENCY: nudges in flight per process (what a crash can repeat)
    max_connections: int = 1000  # DEALCOACH_MAX_CONNECTIONS: open HTTP connections per process; more get a 503
    read_timeout: float = 10.0  # DEALCOACH_READ_TIMEOUT_SECONDS: for a request's headers, and again for its body


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "0.0.0.0"
    port: int = 3000
    tick_seconds: float = 15.0
    log_level: str = "INFO"
    log_format: str = "text"  # LOG_FORMAT: text | json (one object per line)
    # Slack: one workspace (bot token + signing secret) or OAuth (client id + secret) for many.
    slack_bot_token: str | None = _secret()
    slack_signing_secret: str | None = _secret()
    slack_client_id: str | None = None
    slack_client_secret: str | None = _secret()
    slack_api_url: str | None = None
    slack_command: str = "/negotiation"
    secret_key: str | None = _secret()  # DEALCOACH_SECRET_KEY: encrypts stored tokens
    # Teams / Bot Framework, named as Azure Bot Service names them.
    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = _secret()
    microsoft_app_tenant_id: str | None = None
    microsoft_app_type: str = "MultiTenant"
    teams_emulator: bool = False  # DEALCOACH_TEAMS_EMULATOR=1: no app id, no auth, loopback only
    teams_service_urls: tuple[str, ...] = ()  # DEALCOACH_TEAMS_SERVICE_URLS: more allowed serviceUrl prefixes
    # DEALCOACH_ADMINS: who manages this install besides what Slack reports (Teams AAD object ids, console names)
    admins: frozenset[str] = frozenset()
    chart_dir: str | None = None  # DEALCOACH_CHART_DIR: where `dealcoach chat` writes charts and files
    # Calendar import: how often feeds are read, whether private/loopback feed hosts are allowed (tests,
    # on-premise servers), and the install's own email domains (meetings among them are not negotiations).
    calendar_minutes: float = 15.0  # DEALCOACH_CALENDAR_MINUTES
    calendar_allow_private: bool = False  # DEALCOACH_CALENDAR_ALLOW_PRIVATE
    internal_domains: tuple[str, ...] = ()  # DEALCOACH_INTERNAL_DOMAINS
    # PRODUCT.md's coaching defaults for this install (DEALCOACH_DURATION_MINUTES ... below)
    coaching: CoachDefaults = CoachDefaults()
    operations: Operations = Operations()

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            if not f.repr:
                value = getattr(self, f.name)
                shown.append(f"{f.name}={'***' if value else None}")
            else:
                shown.append(f"{f.name}={getattr(self, f.name)!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_signing_secret and (self.slack_bot_token or self.slack_client_id))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = environ.get(name)
            return value.strip() if value and value.strip() else None

        def number(name: str, default: float, *, minimum: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, not {raw!r}") from None
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be a number, not {raw!r}")
            if value < minimum:
                raise ConfigError(f"{name} must be at least {minimum:g}, not {raw}")
            return value

        log_level = (get("LOG_LEVEL") or get("DEALCOACH_LOG_LEVEL") or "INFO").upper()
        if log_level not in logging.getLevelNamesMapping():
            raise ConfigError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, not {log_level!r}")
        log_format = (get("LOG_FORMAT") or "text").lower()
        if log_format not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be text or json, not {log_format!r}")
        port = number("PORT", 3000, minimum=1)
        if port != int(port) or port > 65535:
            raise ConfigError(f"PORT must be a whole number from 1 to 65535, not {get('PORT')}")
        command = get("SLACK_COMMAND") or "/negotiation"
        host = get("HOST") or "0.0.0.0"
        if any(ch.isspace() for ch in host) or "/" in host:
            raise ConfigError(f"HOST must be an address to listen on, such as 0.0.0.0 or 127.0.0.1, not {host!r}")
        return cls(
            coaching=_coaching_defaults(get, number),
            operations=_operations(number),
            database_url=normalize_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            host=host,
            port=int(port),
            tick_seconds=number("DEALCOACH_TICK_SECONDS", 15.0, minimum=0.1),
            log_level=log_level,
            log_format=log_format,
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_client_id=get("SLACK_CLIENT_ID"),
            slack_client_secret=get("SLACK_CLIENT_SECRET"),
            slack_api_url=get("SLACK_API_URL"),
            slack_command=command if command.startswith("/") else "/" + command,
            secret_key=get("DEALCOACH_SECRET_KEY"),
            microsoft_app_id=get("MicrosoftAppId") or get("MICROSOFT_APP_ID"),
            microsoft_app_password=get("MicrosoftAppPassword") or get("MICROSOFT_APP_PASSWORD"),
            microsoft_app_tenant_id=get("MicrosoftAppTenantId") or get("MICROSOFT_APP_TENANT_ID"),
            microsoft_app_type=get("MicrosoftAppType") or get("MICROSOFT_APP_TYPE") or "MultiTenant",
            teams_emulator=_flag("DEALCOACH_TEAMS_EMULATOR", get("DEALCOACH_TEAMS_EMULATOR")),
            teams_service_urls=_url_prefixes("DEALCOACH_TEAMS_SERVICE_URLS", get("DEALCOACH_TEAMS_SERVICE_URLS")),
            admins=frozenset(part.strip() for part in (get("DEALCOACH_ADMINS") or "").split(",") if part.strip()),
            chart_dir=get("DEALCOACH_CHART_DIR"),
            calendar_minutes=number("DEALCOACH_CALENDAR_MINUTES", 15.0, minimum=1),
            calendar_allow_private=_flag("DEALCOACH_CALENDAR_ALLOW_PRIVATE", get("DEALCOACH_CALENDAR_ALLOW_PRIVATE")),
            internal_domains=_domains("DEALCOACH_INTERNAL_DOMAINS", get("DEALCOACH_INTERNAL_DOMAINS")),
        )


_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _flag(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    if raw.lower() not in _FLAGS:
        raise ConfigError(f"{name} must be 1 or 0 (true/false), not {raw!r}")
    return _FLAGS[raw.lower()]


def _domains(name: str, raw: str | None) -> tuple[str, ...]:
    """``acme.com, acme.de`` → the domains, each checked."""
    found = []
    for part in (raw or "").replace(";", ",").replace(" ", ",").split(","):
        if not part.strip():
            continue
        domain = domain_name(part)
        if domain is None:
            raise ConfigError(f"{name} must be comma-separated email domains such as acme.com, not {part.strip()!r}")
        found.append(domain)
    return tuple(dict.fromkeys(found))


def _url_prefixes(name: str, raw: str | None) -> tuple[str, ...]:
    """``https://smba.example.net/,http://127.0.0.1:3978/`` → the prefixes, each an http(s) URL with a host."""
    prefixes = tuple(part.strip() for part in (raw or "").split(",") if part.strip())
    for prefix in prefixes:
        parsed = urlsplit(prefix)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.username or parsed.query:
            raise ConfigError(f"{name} must be comma-separated http(s) URL prefixes, not {prefix!r}")
    return prefixes


def _operations(number: Any) -> Operations:
    base = Operations()
    concurrency = number("DEALCOACH_SEND_CONCURRENCY", base.send_concurrency, minimum=1)
    connections = number("DEALCOACH_MAX_CONNECTIONS", base.max_connections, minimum=1)
    for name, value in (("DEALCOACH_SEND_CONCURRENCY", concurrency), ("DEALCOACH_MAX_CONNECTIONS", connections)):
        if value != int(value):
            raise ConfigError(f"{name} must be a whole number, not {value:g}")
    return Operations(
        lease_seconds=number("DEALCOACH_LEASE_SECONDS", base.lease_seconds, minimum=1),
        shutdown_seconds=number("DEALCOACH_SHUTDOWN_SECONDS", base.shutdown_seconds, minimum=0),
        send_concurrency=int(concurrency),
        max_connections=int(connections),
        read_timeout=number("DEALCOACH_READ_TIMEOUT_SECONDS", base.read_timeout, minimum=0.1),
    )


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock_time(name: str, raw: str) -> time:
    match = _HHMM.match(raw)
    if not match:
        raise ConfigError(f"{name} must be a time of day like 09:00, not {raw!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _coaching_defaults(get: Any, number: Any) -> CoachDefaults:
    """The coaching defaults PRODUCT.md lists in brackets, each changeable for the whole install."""
    base = CoachDefaults()
    timing = base.timing

    def whole(name: str, default: int, *, minimum: int = 1, maximum: int) -> int:
        value = number(name, default, minimum=minimum)
        if value != int(value):
            raise ConfigError(f"{name} must be a whole number, not {get(name)}")
        if value > maximum:
            raise ConfigError(f"{name} must be at most {maximum}, not {get(name)}")
        return int(value)

    channel = (get("DEALCOACH_CHANNEL") or base.channel).lower()
    if channel not in CHANNELS:
        raise ConfigError(f"DEALCOACH_CHANNEL must be one of {', '.join(CHANNELS)}, not {channel!r}")
    quiet: tuple[str, str] | None = base.quiet_hours
    raw_quiet = get("DEALCOACH_QUIET_HOURS")
    if raw_quiet is not None:
        try:
            quiet = quiet_hours(raw_quiet)
        except ValueError:
            raise ConfigError(f"DEALCOACH_QUIET_HOURS must look like 19:00-08:00 (or off), not {raw_quiet!r}") from None
    reminder = get("DEALCOACH_COMMITMENT_REMINDER_TIME")
    digest = get("DEALCOACH_DIGEST_TIME")
    day = 24 * 60  # minutes
    after, gap = _minutes(timing.followup_after), _minutes(timing.back_to_back_gap)
    return replace(
        base,
        duration_minutes=whole("DEALCOACH_DURATION_MINUTES", base.duration_minutes, maximum=24 * 60),
        channel=channel,
        daily_nudges=whole("DEALCOACH_DAILY_NUDGES", base.daily_nudges, maximum=100),
        lead_minutes=whole("DEALCOACH_LEAD_MINUTES", base.lead_minutes, minimum=0, maximum=24 * 60),
        quiet_hours=quiet,
        timing=replace(
            timing,
            followup_after=timedelta(minutes=whole("DEALCOACH_FOLLOWUP_AFTER_MINUTES", after, minimum=0, maximum=day)),
            followup_reminder_after=timedelta(
                hours=whole(
                    "DEALCOACH_FOLLOWUP_REMINDER_HOURS", _minutes(timing.followup_reminder_after) // 60, maximum=14 * 24
                )
            ),
            commitment_hour=(
                _clock_time("DEALCOACH_COMMITMENT_REMINDER_TIME", reminder) if reminder else timing.commitment_hour
            ),
            back_to_back_gap=timedelta(minutes=whole("DEALCOACH_BACK_TO_BACK_MINUTES", gap, minimum=0, maximum=day)),
            contact_gap=timedelta(days=whole("DEALCOACH_CONTACT_GAP_DAYS", timing.contact_gap.days, maximum=3650)),
            digest_time=_clock_time("DEALCOACH_DIGEST_TIME", digest) if digest else timing.digest_time,
        ),
    )


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
