"""Who a Slack user is, for the coach: their time zone, name, locale, email (its domain is one of their own when
calendar meetings are sorted into negotiations and internal ones) and whether they are a workspace admin (an
admin's ``team add`` needs no consent), from ``users.info``, cached."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from coaching.commands import Actor

log = logging.getLogger(__name__)


class Upserts(Protocol):
    async def upsert_user(self, actor: Actor, channel: str | None = None, conversation_ref: Any = None) -> Any: ...


@dataclass
class _Profile:
    timezone: str | None
    display_name: str | None
    fetched: float
    locale: str | None = None  # "en-US": the day/month order of someone who hasn't set one
    admin: bool = False
    email: str | None = None  # profile.email, with the users:read.email scope


class Profiles:
    """Time zones (and locales, asked for with ``include_locale``) from ``users.info``, cached per (team, user);
    refreshed by ``user_change``.

    The first request of a person waits for one ``users.info`` (bounded by ``timeout``) because
    "tomorrow 3pm" must be read in their zone; every later request is a dict lookup.
    """

    def __init__(
        self,
        coach: Upserts,
        *,
        ttl: float = 12 * 3600,
        retry_after_failure: float = 60.0,
        timeout: float = 1.5,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._coach = coach
        self._ttl = ttl
        self._retry_after_failure = retry_after_failure
        self._timeout = timeout
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], _Profile] = {}

    async def actor(self, client: AsyncWebClient, team: str, user: str, display_name: str | None = None) -> Actor:
        profile = self._cache.get((team, user))
        if profile is None or self._monotonic() - profile.fetched > self._ttl:
            profile = await self._fetch(client, team, user, display_name, stale=profile)
        return translate.actor(
            team,
            user,
            display_name=profile.display_name or display_name,
            timezone=profile.timezone,
            locale=profile.locale,
            admin=profile.admin,
            email=profile.email,
        )

    async def _fetch(
        self, client: AsyncWebClient, team: str, user: str, display_name: str | None, stale: _Profile | None
    ) -> _Profile:
        try:
            response = await asyncio.wait_for(client.users_info(user=user, include_locale=True), self._timeout)
            info = response.get("user") or {}
        except Exception as error:  # noqa: BLE001 - a missing time zone must not fail the request
            log.warning("slack: users.info for %s/%s failed: %s", team, user, error)
            profile = stale or _Profile(None, display_name, 0.0)
            # try again in a minute, not on every request
            profile = _Profile(
                profile.timezone,
                profile.display_name,
                self._monotonic() - self._ttl + self._retry_after_failure,
                locale=profile.locale,
                admin=profile.admin,
                email=profile.email,
            )
            self._cache[(team, user)] = profile
            return profile
        return await self.update(team, info)

    async def update(self, team: str, info: Mapping[str, Any], channel: str | None = None) -> _Profile:
        """Store what Slack told us about a user (``users.info`` or a ``user_change`` event)."""
        user = str(info.get("id", ""))
        previous = self._cache.get((team, user))
        profile = _Profile(
            translate.timezone_of_profile(info),
            translate.display_name_of_profile(info),
            self._monotonic(),
            # a user_change event carries no locale (only users.info with include_locale does): keep the known one
            locale=translate.locale_of_profile(info) or (previous.locale if previous else None),
            admin=translate.admin_of_profile(info),
            email=translate.email_of_profile(info) or (previous.email if previous else None),
        )
        self._cache[(team, user)] = profile
        facts = (profile.timezone, profile.display_name, profile.locale, profile.email)
        known = (previous.timezone, previous.display_name, previous.locale, previous.email) if previous else None
        if user and known != facts:
            actor = translate.actor(
                team,
                user,
                display_name=profile.display_name,
                timezone=profile.timezone,
                locale=profile.locale,
                email=profile.email,
            )
            await self._coach.upsert_user(actor, channel=channel)
        return profile

    def forget_team(self, team: str) -> None:
        for key in [k for k in self._cache if k[0] == team]:
            del self._cache[key]
