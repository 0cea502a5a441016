"""What every room of the coach is built from.

A room (``coaching/negotiations.py``, ``commitments.py``, …) holds the command handlers and the nudge
composers of one concept and exports them in tables: ``HANDLERS`` (command type → handler),
``COMPOSERS`` (nudge kind → :class:`Composer`), for ``later``, ``SNOOZES`` (what is snoozed →
handler), and for the questions it asks, ``ANSWERS`` (question kind → :data:`Answer`). Each handler
and composer gets a :class:`Turn`, never the coach itself, so rooms depend on
nothing above them; ``coaching.engine`` runs the transaction and dispatches over the tables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import nudges as n
from coaching import store
from coaching.messages import Message
from coaching.models import Negotiation, Nudge, User
from coaching.parser import CommandError, Context
from coaching.ports import CalendarFeeds
from coaching.questions import Rerun
from coaching.sealing import Cipher
from coaching.timelang import beyond_reach


@dataclass(frozen=True)
class CoachDefaults:
    """PRODUCT.md's defaults, each changeable per install (``bot.config`` reads them from the environment)."""

    duration_minutes: int = 60
    channel: str = "video"
    daily_nudges: int = 3  # coaching nudges per rep per local day before the rest are merged
    lead_minutes: int = 30  # a new user's pre-call lead time...
    quiet_hours: tuple[str, str] | None = ("19:00", "08:00")  # ...and quiet hours (local HH:MM); both are settings
    timing: n.Timing = n.Timing()

    def new_user(self) -> dict[str, Any]:
        """The columns a person starts with, until they change them with ``settings``."""
        start, end = self.quiet_hours or (None, None)
        return {"lead_minutes": self.lead_minutes, "quiet_start": start, "quiet_end": end}


_OWN_NEGOTIATION = select(Negotiation).where(
    Negotiation.owner_id == bindparam("owner"), Negotiation.number == bindparam("number")
)


@dataclass(frozen=True)
class CalendarSetup:
    """What calendar import needs of the install: the fetcher (None: only .ics files can be read), the cipher
    for feed addresses (``DEALCOACH_SECRET_KEY``), the install's own email domains
    (``DEALCOACH_INTERNAL_DOMAINS``), how often feeds are polled (``DEALCOACH_CALENDAR_MINUTES``) and how
    long a poller's claim on a feed lasts."""

    feeds: CalendarFeeds | None = None
    cipher: Cipher | None = None
    internal_domains: tuple[str, ...] = ()
    interval: timedelta = timedelta(minutes=15)
    lease: timedelta = timedelta(minutes=2)
    allow_private: bool = False  # DEALCOACH_CALENDAR_ALLOW_PRIVATE: only for the refusal's advice


@dataclass(frozen=True)
class Turn:
    """One command (or one due nudge) being handled: its transaction, whose it is, and when.

    ``now`` is read once per turn; ``tz`` is the person's zone as the turn began; ``admin``: the person manages
    this workspace or tenant (their platform says so, or ``DEALCOACH_ADMINS`` names them)."""

    session: AsyncSession
    user: User
    now: datetime
    tz: ZoneInfo
    defaults: CoachDefaults
    admin: bool = False
    calendar: CalendarSetup = CalendarSetup()

    @property
    def timing(self) -> n.Timing:
        return self.defaults.timing

    @property
    def context(self) -> Context:
        """How this person's words are read (their clock, zone and day/month order)."""
        return Context(now=self.now, tz=self.tz, dates=store.date_order(self.user))

    async def negotiation(self, number: int) -> Negotiation:
        """The person's own negotiation #``number``, or a clear error."""
        found = await self.session.scalar(_OWN_NEGOTIATION, {"owner": self.user.id, "number": number})
        if found is None:
            raise CommandError(f"You have no negotiation #{number}. Type `list` to see yours.")
        return found


def check_moment(turn: Turn, at: datetime, field: str) -> None:
    """A moment from a command (typed words were checked by the time language; a form's picker was not) that
    is too far away to store or schedule is a clear error about ``field``."""
    if beyond_reach(at, turn.now):
        raise CommandError("That is more than ten years away; check the year.", field=field)


@dataclass(frozen=True)
class Skip:
    """A due nudge that no longer applies (already handled, nudges off)."""

    reason: str


@dataclass(frozen=True)
class Defer:
    """A due nudge to hold until ``until`` (quiet hours)."""

    until: datetime


Composed = Message | Skip | Defer
Handler = Callable[[Turn, Any], Awaitable[Message]]
# A room's reading of what the person typed after it asked a question (``coaching.questions``): a reply, a
# command to run instead (``Rerun``), or None when the text is no answer and should be read as a command.
Answer = Callable[[Turn, dict[str, Any], str], Awaitable["Message | Rerun | None"]]


@dataclass(frozen=True)
class Composer:
    """How a due nudge of one kind is written, from the latest state, when it is sent."""

    write: Callable[[Turn, Nudge], Awaitable[Composed]]
    # Weekly rows line up next week's before anything else, so nudges off or quiet hours never break the rhythm.
    chain: Callable[[Turn, Nudge], Awaitable[None]] | None = None
    asked_for: bool = False  # asked for just now (an export): not a nudge, sent whatever the settings
    colleague: bool = False  # a colleague's message (a team invitation): sent with nudges off too, not at night


async def compose_due(composer: Composer | None, turn: Turn, nudge: Nudge) -> Composed:
    """The message for a due nudge of ``composer``'s kind (None: a kind no room writes), written now so it
    shows the latest state — or why not to send it: nudges off, quiet hours."""
    if composer is not None and composer.asked_for:
        return await composer.write(turn, nudge)
    if composer is not None and composer.chain is not None:
        await composer.chain(turn, nudge)
    # Checked before composing: a digest is a dozen queries and a chart, wasted if it has to wait.
    if not turn.user.nudges_enabled and not (composer is not None and composer.colleague):
        return Skip("nudges are off")
    if not nudge.exempt_quiet:
        until = n.quiet_until(turn.user, turn.now)
        if until:
            return Defer(until)
    if composer is None:
        return Skip(f"unknown kind {nudge.kind}")
    return await composer.write(turn, nudge)


K = TypeVar("K")
V = TypeVar("V")


def merged(tables: Iterable[Mapping[K, V]]) -> dict[K, V]:
    """One table from the rooms' tables; a key claimed by two rooms is a mistake, caught at import."""
    out: dict[K, V] = {}
    for table in tables:
        for key, value in table.items():
            if key in out:
                raise RuntimeError(f"{key!r} is claimed by two rooms")
            out[key] = value
    return out


class Coaching(Protocol):
    """What the scheduler's tick needs of the coach."""

    defaults: CoachDefaults

    async def compose(self, session: AsyncSession, nudge: Nudge, user: User) -> Composed: ...
