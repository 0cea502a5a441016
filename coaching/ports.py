"""The ports at the edge of the core: what the engine needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from coaching.messages import Message


@dataclass(frozen=True)
class Address:
    """Where a person is, in platform-neutral terms.

    ``workspace`` is the Slack team id, the Teams tenant id, or "local" for the console;
    ``user`` is the platform's user id; ``channel`` a DM/conversation id when one is known.
    """

    platform: str  # "slack" | "teams" | "console"
    workspace: str
    user: str
    channel: str | None = None


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DeliveryError(Exception):
    """A sender could not deliver. ``retry_after`` (seconds) is the platform's own hint, if any;
    ``permanent`` means retrying cannot help (user gone, app uninstalled); ``waiting`` means the person
    cannot be reached *yet* (e.g. has not installed the app): the nudge is kept, and tried again after
    ``retry_after`` without using up its attempts."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False, waiting: bool = False
    ):
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent
        self.waiting = waiting


class Sender(Protocol):
    async def send(self, address: Address, message: Message) -> None:
        """Deliver ``message`` to ``address`` or raise :class:`DeliveryError`."""
        ...


class Abandon(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a callback the coach runs inside a command's transaction (``handle_text(..., also=)``) to
    roll the command back: it reaches the caller as is, instead of becoming an apology (an adapter's
    "this click was handled already", "I no longer hold this inbox row")."""


# --- calendar feeds ---------------------------------------------------------------------------------


class FeedOutcome(StrEnum):
    """How one fetch of a calendar feed ended, as the sync must treat it."""

    CHANGED = "changed"  # ``body`` holds the feed; store ``etag``/``last_modified`` for the next fetch
    UNCHANGED = "unchanged"  # 304: nothing to read, the last import stands
    GONE = "gone"  # 401/403/404/410: the provider refuses or does not know the address; pause the feed
    BLOCKED = "blocked"  # DealCoach's rules refuse the address (scheme, private or metadata address)
    FAILED = "failed"  # timeout, too large, too many redirects, network or server error: try again later


@dataclass(frozen=True)
class FeedResult:
    outcome: FeedOutcome
    body: bytes = field(default=b"", repr=False)
    etag: str | None = None
    last_modified: str | None = None
    status: int | None = None  # the HTTP status of the last response, if there was one
    reason: str = ""  # plain words for the rep; never the URL, never a library's exception text


class CalendarFeeds(Protocol):
    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FeedResult:
        """Fetch the feed at ``url`` (already checked by ``coaching.calendar.address.feed_url``),
        conditionally when ``etag``/``last_modified`` of the last fetch are given. Never raises for
        anything the network or the provider does: every end is a :class:`FeedResult`."""
        ...


class Personal(Abandon):
    """Raised by the coach, instead of answering, when a command asked in a shared chat (``shared=True``)
    would answer with the person's own data: the command is rolled back, and the adapter may run it again
    where only that person reads the answer (Teams: their personal chat)."""
