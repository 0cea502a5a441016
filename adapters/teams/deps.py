"""What the Teams bot's handlers need, in one small object (``Deps``) passed to each of them."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from botbuilder.schema import Activity

from coaching.commands import Actor, Command
from coaching.messages import Attachment as MessageAttachment
from coaching.messages import Message
from coaching.ports import Address


class Coach(Protocol):
    async def handle(self, command: Command, *, shared: bool = False) -> Message: ...

    async def handle_text(self, actor: Actor, text: str, *, shared: bool = False) -> Message: ...

    async def upsert_user(
        self, actor: Actor, *, channel: str | None = None, conversation_ref: dict[str, Any] | None = None
    ) -> Any: ...

    async def conversation_ref(self, address: Address) -> dict[str, Any] | None: ...

    async def forget_user(self, address: Address) -> None: ...

    async def export_file(self, address: Address) -> MessageAttachment | None: ...

    async def import_calendar(self, actor: Actor, data: bytes, *, filename: str) -> Message: ...


class ReferenceMemo:
    """What was last written per user, so unchanged references are not rewritten on every message."""

    def __init__(self, *, ttl: float = 60.0, size: int = 50_000) -> None:
        self._seen: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._ttl = ttl
        self._size = size

    @staticmethod
    def _key(address: Address) -> tuple[str, str, str]:
        return (address.platform, address.workspace, address.user)

    def unchanged(self, address: Address, fingerprint: str) -> bool:
        seen = self._seen.get(self._key(address))
        return seen is not None and seen[0] == fingerprint and seen[1] > time.monotonic()

    def remember(self, address: Address, fingerprint: str) -> None:
        if len(self._seen) >= self._size:
            self._seen.clear()
        self._seen[self._key(address)] = (fingerprint, time.monotonic() + self._ttl)

    def forget(self, address: Address) -> None:
        self._seen.pop(self._key(address), None)


class Emails:
    """The email of each person who used a calendar command, from the Teams member lookup, kept ``ttl``
    seconds (a failed lookup too, so a person whose lookup fails costs one per ``ttl``, not one per message)."""

    def __init__(self, *, ttl: float = 12 * 3600, size: int = 50_000) -> None:
        self._known: dict[tuple[str, str], tuple[str | None, float]] = {}
        self._ttl = ttl
        self._size = size

    def get(self, address: Address) -> tuple[bool, str | None]:
        """(known, email): known is False when it must be looked up (again)."""
        known = self._known.get((address.workspace, address.user))
        if known is None or known[1] <= time.monotonic():
            return False, None
        return True, known[0]

    def put(self, address: Address, email: str | None) -> None:
        if len(self._known) >= self._size:
            self._known.clear()
        self._known[(address.workspace, address.user)] = (email, time.monotonic() + self._ttl)


class SeenActivities:
    """Recently handled (conversation, activity id) pairs: a redelivered activity does not run twice."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._size = size

    def repeated(self, activity: Activity) -> bool:
        if not activity.id or activity.conversation is None:
            return False
        key = (str(activity.conversation.id), str(activity.id))
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return False


@dataclass
class Deps:
    coach: Coach
    sender: Any  # adapters.teams.sender.TeamsSender: delivers into personal chats (nudges, private answers)
    app_id: str | None = None  # the bot's Microsoft app id; None in emulator mode
    emulator: bool = False
    memo: ReferenceMemo = field(default_factory=ReferenceMemo)
    seen: SeenActivities = field(default_factory=SeenActivities)
    emails: Emails = field(default_factory=Emails)
    downloads: Any = None  # adapters.calendar.feed.FeedFetcher: the calendar files sent in a personal chat
