"""Delivering DealCoach's messages to Slack: the Web API client and the :class:`SlackSender`.

The client points at ``SLACK_API_URL`` (tests, proxies) and retries with slack_sdk's async retry
handlers: connection resets, and a 429 whose ``Retry-After`` is short enough to wait out inline.
A longer wait, or any other failure, becomes a :class:`~coaching.ports.DeliveryError` carrying
Slack's ``Retry-After``, so the outbox schedules the retry and the nudge is never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.handler import default_interval_calculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from coaching.messages import Attachment, Message
from coaching.ports import Address, DeliveryError

log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"

# Errors after which retrying cannot help: the token, the user or the conversation is gone.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "app_uninstalled",
        "team_access_not_granted",
        "channel_not_found",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "is_archived",
    }
)


def retry_after(headers: Mapping[str, Any] | None, default: float = 1.0) -> float:
    """Slack's ``Retry-After`` header in seconds (header names are case-insensitive)."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return default
    return default


class ShortRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, limited to waits of ``max_wait`` seconds.

    Slack's ``Retry-After`` can be a minute; a request handler or a scheduler tick should not sleep
    that long. Longer waits surface as an error and the caller (the outbox) reschedules.
    """

    def __init__(
        self,
        max_retry_count: int = 1,
        *,
        max_wait: float = 2.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self._sleep = sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and retry_after(response.headers, default=self.max_wait + 1) <= self.max_wait
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:  # pragma: no cover - only 429 responses get here
            raise error or RuntimeError("no response")
        state.next_attempt_requested = True
        await self._sleep(retry_after(response.headers))
        state.increment_current_attempt()


def retry_handlers(
    *, max_wait: float = 2.0, interval: RetryIntervalCalculator = default_interval_calculator
) -> list[AsyncRetryHandler]:
    """Connection resets: twice, with slack_sdk's backoff. 429: once, if Slack asks for a short wait."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
        ShortRateLimitRetryHandler(max_retry_count=1, max_wait=max_wait),
    ]


def api_url(url: str | None) -> str:
    url = url or SLACK_API_URL
    return url if url.endswith("/") else url + "/"


def make_client(
    base_url: str | None,
    *,
    token: str | None = None,
    timeout: int = 10,
    handlers: list[AsyncRetryHandler] | None = None,
) -> AsyncWebClient:
    """The one Web API client: Slack's URL or ``SLACK_API_URL``, our retry handlers."""
    return AsyncWebClient(
        token=token,
        base_url=api_url(base_url),
        timeout=timeout,
        retry_handlers=retry_handlers() if handlers is None else handlers,
    )


def delivery_error(error: Exception) -> DeliveryError:
    """A Slack or network failure, as the outbox understands it."""
    if isinstance(error, SlackApiError):
        response = error.response
        code = response.get("error") if hasattr(response, "get") else None
        status = getattr(response, "status_code", None)
        if status == 429 or code == "ratelimited":
            return DeliveryError("slack: ratelimited", retry_after=retry_after(getattr(response, "headers", None)))
        return DeliveryError(f"slack: {code or status}", permanent=code in PERMANENT_ERRORS)
    if isinstance(error, asyncio.TimeoutError | aiohttp.ClientError | OSError):
        return DeliveryError(f"slack unreachable: {type(error).__name__}: {error}")
    return DeliveryError(f"slack: {type(error).__name__}: {error}")


class TokenSource(Protocol):
    async def bot_token(self, team: str) -> str | None:
        """The bot token for a workspace, or None when the app is not installed there."""
        ...


class StaticToken:
    """Single-workspace mode: ``SLACK_BOT_TOKEN``."""

    def __init__(self, token: str):
        self._token = token

    async def bot_token(self, team: str) -> str | None:
        return self._token


class SlackSender:
    """The :class:`~coaching.ports.Sender` for Slack: a nudge becomes a DM with buttons.

    DMs go to the user id (Slack opens the app's DM with them) unless the address carries the DM
    channel. Sends to one channel are spaced ``min_interval`` apart (Slack allows about one message
    per second per channel).
    """

    def __init__(
        self,
        client: AsyncWebClient,
        tokens: TokenSource,
        *,
        min_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        self.client = client
        self.tokens = tokens
        self.min_interval = min_interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._next_slot: dict[str, float] = {}

    async def open(self) -> None:
        """One pool of kept-alive connections for every Web API call: without a session of its own,
        slack_sdk opens (and closes) one per call, a new TCP connection for every message."""
        if self.client.session is None or self.client.session.closed:
            timeout = aiohttp.ClientTimeout(total=self.client.timeout)
            self.client.session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=64))

    async def close(self) -> None:
        session, self.client.session = self.client.session, None
        if session is not None:
            await session.close()

    async def token(self, team: str) -> str:
        token = await self.tokens.bot_token(team)
        if not token:
            raise DeliveryError(f"slack: not installed in workspace {team}", permanent=True)
        return token

    async def _pace(self, channel: str) -> None:
        now = self._monotonic()
        ready = self._next_slot.get(channel, now)
        self._next_slot[channel] = max(now, ready) + self.min_interval
        if len(self._next_slot) > 10_000:
            self._next_slot = {c: t for c, t in self._next_slot.items() if t > now}
        if ready > now:
            await self._sleep(ready - now)

    async def call(self, team: str, method: str, **kwargs: Any) -> dict[str, Any]:
        """Any Web API method with the workspace's bot token; failures as DeliveryError."""
        token = await self.token(team)
        try:
            response = await self.client.api_call(method, json=kwargs, headers={"Authorization": f"Bearer {token}"})
        except Exception as error:  # noqa: BLE001 - every failure is reported to the caller the same way
            raise delivery_error(error) from error
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def send(self, address: Address, message: Message) -> None:
        if address.platform != "slack":
            raise DeliveryError(f"not a Slack address: {address.platform}", permanent=True)
        channel = address.channel or address.user
        await self._pace(channel)
        posted = await self.call(
            address.workspace, "chat.postMessage", channel=channel, **render.message_payload(message)
        )
        log.info("slack: sent %s to %s/%s", message.kind, address.workspace, address.user)
        for attachment in message.attachments:  # the digest's chart, into the same DM
            await self._upload(address.workspace, posted.get("channel") or channel, attachment)

    async def _upload(self, team: str, channel: str, attachment: Attachment) -> None:
        """files_upload_v2; a failed upload is logged, never fails the message that already went out."""
        try:
            await self.client.files_upload_v2(
                token=await self.token(team),
                channel=channel,
                file=attachment.data,
                filename=attachment.filename,
                title=attachment.title or attachment.filename,
            )
        except Exception as error:  # noqa: BLE001 - text-only fallback whatever went wrong
            log.warning("slack: could not upload %s (%s); sent the message without it", attachment.filename, error)
