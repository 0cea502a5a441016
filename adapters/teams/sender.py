"""Proactive Teams delivery: the stored conversation reference + ``CloudAdapter.continue_conversation``.

Errors become :class:`~coaching.ports.DeliveryError` so the outbox can retry with backoff: 429 and 5xx
carry Teams' ``Retry-After`` when it sends one; 403/404 (bot blocked or removed, conversation gone) are
permanent. A person with no stored reference yet (a colleague a hand-off note is for, who has not
installed DealCoach) is *waiting*: the nudge is kept and tried again every hour, and goes out once they
install the app or write to the bot (which stores their reference). A small token bucket keeps
DealCoach inside Teams' limits (7 messages/s per conversation, 50 requests/s per tenant): short waits
are waited out, longer ones go back to the outbox as a retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp
from botbuilder.core import TurnContext
from botbuilder.schema import ConversationReference
from botframework.connector.models import ErrorResponseException
from msrest.exceptions import ClientRequestError

from adapters.teams.connector import ServiceUrlRefused
from adapters.teams.render import activities
from coaching.messages import Message
from coaching.ports import Address, DeliveryError

log = logging.getLogger(__name__)

PER_CONVERSATION_PER_SECOND = 7.0
PER_TENANT_PER_SECOND = 50.0
MAX_INLINE_WAIT = 1.0  # seconds a send may wait for the rate limit before handing back to the outbox
UNREACHABLE_RETRY = 3600.0  # seconds between tries for someone who cannot be reached yet


class ReferenceStore(Protocol):
    async def conversation_ref(self, address: Address) -> dict[str, Any] | None: ...


def retry_after_of(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/unreadable."""
    raw = headers.get("Retry-After") if headers is not None else None
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def delivery_error(error: BaseException) -> DeliveryError:
    """Classify a connector failure for the outbox."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, ServiceUrlRefused):
        return DeliveryError(str(error), permanent=True)
    response = getattr(error, "response", None)
    if isinstance(error, ErrorResponseException) and response is not None:
        # msrest hands over either its own response wrapper (status_code) or aiohttp's (status)
        status = int(getattr(response, "status_code", None) or getattr(response, "status", 0))
        retry_after = retry_after_of(response.headers)
        if status == 429:
            return DeliveryError(
                "Teams throttled the bot (429)", retry_after=1.0 if retry_after is None else retry_after
            )
        if status >= 500 or status in (408, 412):
            return DeliveryError(f"Teams connector error {status}", retry_after=retry_after)
        if status in (403, 404, 410):
            reason = f"Teams refused the message ({status}): bot blocked or removed"
            return DeliveryError(reason, permanent=True)
        if status == 401:
            return DeliveryError("Teams rejected the bot's credentials (401); check MicrosoftAppId/Password")
        return DeliveryError(f"Teams rejected the message ({status})", permanent=True)
    if isinstance(error, ClientRequestError | aiohttp.ClientError | TimeoutError | ConnectionError):
        return DeliveryError(f"Teams connector unreachable: {error}")
    return DeliveryError(f"Teams delivery failed: {type(error).__name__}: {error}")


class RateLimiter:
    """Token buckets per key. :meth:`reserve` books a slot and says how long to wait for it."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000):
        self._rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)

    def reserve(self, key: str) -> float:
        now = self._clock()
        tokens, at = self._buckets.get(key, (self._rate, now))
        tokens = min(self._rate, tokens + (now - at) * self._rate) - 1.0
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / self._rate

    def release(self, key: str) -> None:
        """Give back a slot booked by :meth:`reserve` that was not used."""
        if key in self._buckets:
            tokens, at = self._buckets[key]
            self._buckets[key] = (tokens + 1.0, at)

    def _prune(self, now: float) -> None:
        rate = self._rate
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * rate >= rate]
        for key in full:
            del self._buckets[key]


class TeamsSender:
    """The Teams :class:`~coaching.ports.Sender`."""

    def __init__(
        self,
        adapter: Any,
        store: ReferenceStore,
        *,
        app_id: str | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.adapter = adapter
        self._sleep = sleep
        self._store = store
        self._app_id = app_id or None
        self._conversations = RateLimiter(PER_CONVERSATION_PER_SECOND, clock=clock)
        self._tenants = RateLimiter(PER_TENANT_PER_SECOND, clock=clock)

    async def reference(self, address: Address) -> ConversationReference:
        stored = await self._store.conversation_ref(address)
        if not stored:
            reason = "no Teams conversation with this person yet (DealCoach is not installed for them)"
            raise DeliveryError(reason, retry_after=UNREACHABLE_RETRY, waiting=True)
        try:
            reference = ConversationReference().deserialize(stored)
        except Exception as error:
            raise DeliveryError(
                f"stored Teams conversation reference is unreadable: {error}", permanent=True
            ) from error
        if not reference.service_url or reference.conversation is None or not reference.conversation.id:
            reason = "stored Teams conversation reference lacks serviceUrl/conversation"
            raise DeliveryError(reason, permanent=True)
        return reference

    async def _pace(self, reference: ConversationReference, address: Address) -> None:
        conversation_key = reference.conversation.id
        tenant_key = address.workspace
        wait = max(self._conversations.reserve(conversation_key), self._tenants.reserve(tenant_key))
        if wait > MAX_INLINE_WAIT:
            self._conversations.release(conversation_key)
            self._tenants.release(tenant_key)
            raise DeliveryError("Teams rate limit reached; retry shortly", retry_after=wait)
        if wait > 0:
            await self._sleep(wait)

    async def send(self, address: Address, message: Message) -> None:
        await self.deliver(await self.reference(address), address, message)

    async def deliver(self, reference: ConversationReference, address: Address, message: Message) -> None:
        """Send ``message`` into the conversation ``reference`` names (the personal chat of ``address``)."""
        outgoing = activities(message, address.user)  # the message, then a consent card per file (the export)
        for _ in outgoing:
            await self._pace(reference, address)

        async def deliver(turn_context: TurnContext) -> None:
            # The continuation activity has a made-up id; without this the nudge would "reply" to it.
            turn_context.activity.id = None
            for activity in outgoing:
                await turn_context.send_activity(activity)

        try:
            await self.adapter.continue_conversation(reference, deliver, bot_app_id=self._app_id)
        except Exception as error:
            failure = delivery_error(error)
            log.warning(
                "teams send to %s/%s failed: %s (retry_after=%s, permanent=%s)",
                address.workspace,
                address.user,
                failure,
                failure.retry_after,
                failure.permanent,
            )
            raise failure from error
