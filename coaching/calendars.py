"""Calendar import: a rep follows their calendar (``calendar <secret iCal address>``, or sends an .ics file) and
its external meetings become negotiations, with their pre-call reminders and follow-ups — and stay in step when
the meetings move or are cancelled.

Reading a calendar, telling negotiations from other meetings and guessing the counterpart are
``coaching.calendar``'s pure functions; fetching is the :class:`~coaching.ports.CalendarFeeds` port. This room
keeps what was imported (``calendar_imports``, keyed by the meeting's UID + RECURRENCE-ID, so a re-read never
duplicates), turns each read's differences into negotiations, and polls the feeds: each feed is claimed like a
nudge (a lease in ``due_at``), so replicas never fetch one feed at once, and each feed keeps its own phase
within the poll interval, so a thousand feeds are spread over it rather than fetched in one burst.

The address is a secret: it is sealed before it is stored, only its host is ever shown, and in a shared chat
``calendar <url>`` is refused before it is read (:func:`shared_refusal`)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coaching import commands as c
from coaching import counterparts as known
from coaching import nudges as n
from coaching import store
from coaching.calendar.address import FeedAddressError, feed_url, redact
from coaching.calendar.changes import compare
from coaching.calendar.negotiations import Rep, channel, counterpart, negotiation
from coaching.calendar.reading import MAX_FEED_BYTES, CalendarError, CalendarRead, Meeting, Window, read_calendar
from coaching.messages import Button, Message, Section, error
from coaching.models import (
    CalendarFeed,
    CalendarImport,
    Commitment,
    Counterpart,
    CounterpartDomain,
    IgnoredSeries,
    Negotiation,
    NegotiationIssue,
    Nudge,
    Touchpoint,
    User,
)
from coaching.parser import USAGE, CommandError, quoted
from coaching.ports import CalendarFeeds, Clock, FeedOutcome, FeedResult
from coaching.room import CalendarSetup, Composed, Composer, Handler, Skip, Turn
from coaching.sealing import Cipher, NoKey, Unsealable
from coaching.texts import when_text

log = logging.getLogger(__name__)

WINDOW = Window()  # the last 2 days and the next 21
LINK_WITHIN = timedelta(minutes=30)  # a hand-logged negotiation this close to an imported meeting is that meeting
LISTED = 25  # meetings one message lists
MAX_KEY = 500  # an event UID longer than this (real ones are under 100 characters) is no meeting to follow
WITH_BUTTONS = 10  # ... of which this many get their two buttons (platforms cap the buttons of a message)
IMPORTED, LINKED, IGNORED, CANCELLED = "imported", "linked", "ignored", "cancelled"
ACTIVE, PAUSED = "active", "paused"
_PHASE = 0.6180339887498949  # the golden ratio's fraction: feed ids spread evenly over the poll interval


# -- the shared chat --------------------------------------------------------------------------------


def shared_refusal() -> Message:
    """``calendar <url>`` typed where others read it: nothing is stored, and the address is not repeated."""
    return Message(
        text="I won't take a calendar address here: everyone in this conversation can read it, and whoever has "
        "it can read your calendar.",
        sections=(
            Section(
                lines=(
                    "Reset the secret address at your calendar provider now (Google Calendar: Settings → your "
                    "calendar → Integrate calendar → Secret address in iCal format → Reset; Outlook: Settings → "
                    "Calendar → Shared calendars → Publish a calendar → Reset links).",
                    "Then send me the new one in a direct message: `calendar <secret address>`.",
                ),
            ),
        ),
        kind="error",
        personal=False,
    )


def refuse_when_shared(command: c.Command) -> Message | None:
    """The answer instead of running ``command`` in a shared chat, when it must not run there at all."""
    return shared_refusal() if isinstance(command, c.CalendarSubscribe) else None


# -- fetching before the transaction ----------------------------------------------------------------


async def prefetch(
    sessions: async_sessionmaker[AsyncSession], setup: CalendarSetup, actor: c.Actor, command: c.Command
) -> c.Command:
    """``calendar <url>`` and ``calendar sync`` with the feed fetched (up to 10 s of network) before the
    command's transaction begins, so no transaction waits on a calendar server."""
    if setup.feeds is None or setup.cipher is None or not setup.cipher.available:
        return command
    if isinstance(command, c.CalendarSubscribe):
        try:
            url = feed_url(command.url)
        except FeedAddressError:
            return command
        return replace(command, fetched=await setup.feeds.fetch(url))
    if isinstance(command, c.CalendarSync):
        async with sessions() as session:
            user = await store.user_at(session, address=actor.address)
            feed = await _feed_of(session, user.id) if user else None
        if feed is None:
            return command
        try:
            url = setup.cipher.open(feed.sealed_url)
        except Unsealable:
            return replace(command, fetched=_unsealable())
        etag, modified = (feed.etag, feed.last_modified) if feed.status == ACTIVE else (None, None)
        return replace(command, fetched=await setup.feeds.fetch(url, etag=etag, last_modified=modified))
    return command


def _unsealable() -> FeedResult:
    return FeedResult(
        FeedOutcome.GONE, reason="the stored address no longer opens with this install's key (was it changed?)"
    )


# -- who the rep is ---------------------------------------------------------------------------------


def rep_of(turn: Turn, calendar: CalendarRead | None = None) -> Rep:
    """The rep as calendar import sees them: their profile's address, the install's and their own domains. With
    none of those known (a console user, a platform that gave no email), the calendar's owner is whoever takes
    part in most of its meetings — every invitation in a person's calendar has them on it."""
    user = turn.user
    emails = [user.email] if user.email else []
    domains = (*turn.calendar.internal_domains, *(user.own_domains or []))
    if not emails and not domains and calendar is not None:
        emails = [owner] if (owner := calendar_owner(calendar)) else []
    return Rep.of(emails=emails, domains=domains, keywords=user.keywords or None)


def calendar_owner(calendar: CalendarRead) -> str | None:
    """The address on most meetings that list people, if it is on at least half of them (and two)."""
    counts: Counter[str] = Counter()
    with_people = 0
    for meeting in calendar.meetings:
        people = {person.email for person in meeting.people}
        if people:
            with_people += 1
            counts.update(people)
    if not counts:
        return None
    address, seen = counts.most_common(1)[0]
    return address if seen >= max(2, with_people / 2) else None


async def _learned(turn: Turn) -> dict[str, str]:
    rows = await turn.session.scalars(select(CounterpartDomain).where(CounterpartDomain.owner_id == turn.user.id))
    return {row.domain: row.counterpart.name for row in rows}


async def read(turn: Turn, data: bytes) -> CalendarRead:
    """The calendar in ``data`` as this rep reads it (their zone for floating times; their own address, so
    invitations they declined are left out — the calendar's owner when the platform gave no address). CPU work:
    off the event loop."""
    me = [turn.user.email] if turn.user.email else []
    return await asyncio.to_thread(_read, data, turn.now, turn.tz, me)


def _read(data: bytes, now: datetime, zone: tzinfo, me: list[str]) -> CalendarRead:
    calendar = read_calendar(data, now=now, zone=zone, me=me, window=WINDOW)
    owner = None if me else calendar_owner(calendar)
    return read_calendar(data, now=now, zone=zone, me=[owner], window=WINDOW) if owner else calendar


# -- applying a read --------------------------------------------------------------------------------


@dataclass
class Applied:
    """What one read changed. ``listed``: the negotiations the calendar holds ahead, as the rep should see them."""

    new: list[tuple[CalendarImport, Negotiation]] = field(default_factory=list)
    linked: list[tuple[CalendarImport, Negotiation]] = field(default_factory=list)
    moved: list[Negotiation] = field(default_factory=list)
    cancelled: list[Negotiation] = field(default_factory=list)
    found: int = 0
    unnamed: int = 0  # meetings that look like negotiations but name nobody: not imported (nothing to ask about)


async def apply(turn: Turn, calendar: CalendarRead, feed: CalendarFeed | None) -> Applied:
    """Bring the rep's negotiations in step with ``calendar``: new meetings imported (or linked to a
    hand-logged negotiation), moved ones rescheduled, cancelled and vanished ones cancelled unless they
    already had an outcome. Ignored meetings and series stay ignored."""
    session, user, now = turn.session, turn.user, turn.now
    rep = rep_of(turn, calendar)
    ignored_series = set(await session.scalars(select(IgnoredSeries.uid).where(IgnoredSeries.user_id == user.id)))
    candidates = tuple(
        meeting
        for meeting in calendar.meetings
        if meeting.uid not in ignored_series and len(meeting.key) <= MAX_KEY and negotiation(meeting, rep).negotiation
    )
    rows = {
        row.key: row for row in await session.scalars(select(CalendarImport).where(CalendarImport.user_id == user.id))
    }
    changes = compare(rows.values(), replace(calendar, meetings=candidates))
    done = Applied()
    ahead = [meeting for meeting in changes.new if meeting.start > now]  # one under way or over is not news
    if ahead:
        await _import(turn, ahead, feed, rep, rows, done)
    for meeting in changes.moved:
        row = rows[meeting.key]
        row.start, row.end = meeting.start, meeting.end
        neg = await _negotiation_of(turn, row)
        if neg is not None and neg.status == "scheduled":
            await _move(turn, neg, meeting)
            done.moved.append(neg)
    for key in changes.unchanged:
        row = rows[key]
        if row.status != CANCELLED:
            continue
        neg = await _negotiation_of(turn, row)
        if neg is not None and neg.status == "cancelled":  # back in the calendar
            row.status = IMPORTED
            neg.status = "scheduled"
            await n.schedule_negotiation(session, neg, user, now=now, timing=turn.timing)
    for key in (*changes.cancelled, *changes.gone):
        row = rows[key]
        if row.status in (IGNORED, CANCELLED):
            continue
        neg = await _negotiation_of(turn, row)
        row.status = CANCELLED
        if neg is not None and neg.status == "scheduled":  # one with an outcome is left alone
            neg.status = "cancelled"
            await n.drop_pending(session, negotiation_id=neg.id, kinds=n.NEGOTIATION_KINDS)
            done.cancelled.append(neg)
    live = (IMPORTED, LINKED)
    done.found = sum(1 for m in candidates if m.end > now and m.key in rows and rows[m.key].status in live)
    await session.flush()
    return done


async def _import(
    turn: Turn,
    meetings: list[Meeting],
    feed: CalendarFeed | None,
    rep: Rep,
    rows: dict[str, CalendarImport],
    done: Applied,
) -> None:
    """New meetings: each linked to the rep's own hand-logged negotiation with the same counterpart within
    30 minutes of it, else a new negotiation. One that names no counterpart is left out (there is nobody to
    ask about). Written in a few statements for all of them: a first read may hold hundreds."""
    session, user, now = turn.session, turn.user, turn.now
    learned = await _learned(turn)
    parties = {
        party.name_key: party
        for party in await session.scalars(select(Counterpart).where(Counterpart.owner_id == user.id))
    }
    names = [party.name for party in parties.values()]
    linked_ids = select(CalendarImport.negotiation_id).where(
        CalendarImport.user_id == user.id, CalendarImport.negotiation_id.is_not(None)
    )
    first, last = min(m.start for m in meetings), max(m.start for m in meetings)
    hand_logged: dict[int, list[Negotiation]] = {}
    for logged in await session.scalars(
        select(Negotiation)
        .where(
            Negotiation.owner_id == user.id,
            Negotiation.status == "scheduled",
            Negotiation.starts_at.between(first - LINK_WITHIN, last + LINK_WITHIN),
            Negotiation.id.not_in(linked_ids),
        )
        .order_by(Negotiation.starts_at)
    ):
        hand_logged.setdefault(logged.counterpart_id, []).append(logged)
    number = await store.next_number(session, Negotiation, owner_id=user.id)
    made: list[tuple[Meeting, Negotiation, bool]] = []
    for meeting in meetings:
        guess = counterpart(meeting, rep, learned=learned, known=names)
        if guess is None:
            done.unnamed += 1
            continue
        party = parties.get(store.name_key(guess.name[:200]))
        if party is None:
            party = await store.counterpart(session, owner_id=user.id, name=guess.name[:200])
            parties[party.name_key] = party
            names.append(party.name)
        same = hand_logged.get(party.id, [])
        match = next((x for x in same if abs(x.starts_at - meeting.start) <= LINK_WITHIN), None)
        if match is not None:
            same.remove(match)
            made.append((meeting, match, True))
            continue
        neg = Negotiation(
            created_at=now,
            owner_id=user.id,
            number=number,
            counterpart_id=party.id,
            counterpart=party,
            title=meeting.title[:300] or None,
            starts_at=meeting.start,
            duration_minutes=_minutes(meeting),
            channel=channel(meeting, turn.defaults.channel),
            status="scheduled",
        )
        number += 1
        session.add(neg)
        made.append((meeting, neg, False))
    await session.flush()
    await n.enqueue_many(
        session,
        user,
        [(n.plan_negotiation(neg, user, now=now, timing=turn.timing), neg.id) for _, neg, linked in made if not linked],
    )
    for meeting, neg, linked in made:
        row = CalendarImport(
            created_at=now,
            user_id=user.id,
            feed_id=feed.id if feed is not None else None,
            key=meeting.key,
            uid=meeting.uid,
            negotiation_id=neg.id,
            status=LINKED if linked else IMPORTED,
            start=meeting.start,
            end=meeting.end,
            title=meeting.title[:300] or None,
        )
        session.add(row)
        rows[row.key] = row
        (done.linked if linked else done.new).append((row, neg))
    await session.flush()


def _minutes(meeting: Meeting) -> int:
    minutes = int((meeting.end - meeting.start).total_seconds() // 60)
    return min(max(minutes, 1), 1440) if minutes > 0 else 60


async def _negotiation_of(turn: Turn, row: CalendarImport) -> Negotiation | None:
    return await turn.session.get(Negotiation, row.negotiation_id) if row.negotiation_id else None


async def _move(turn: Turn, neg: Negotiation, meeting: Meeting) -> None:
    """The meeting moved: so does the negotiation, and its reminders with it."""
    await n.drop_pending(turn.session, negotiation_id=neg.id, kinds=n.NEGOTIATION_KINDS)
    neg.starts_at = meeting.start
    neg.duration_minutes = _minutes(meeting)
    await turn.session.flush()
    await n.schedule_negotiation(turn.session, neg, turn.user, now=turn.now, timing=turn.timing)


# -- what the rep is told ---------------------------------------------------------------------------


def _line(turn: Turn, row: CalendarImport, neg: Negotiation, linked: bool = False) -> str:
    title = f" · “{row.title}”" if row.title and row.title != neg.counterpart.name else ""
    state = " (you had logged it: linked)" if linked else ""
    return (
        f"#{neg.number} {neg.counterpart.name} — {when_text(neg.starts_at, turn.tz, turn.now)}, "
        f"{neg.duration_minutes} min, {neg.channel}{title}{state}"
    )


IGNORE, IGNORE_SERIES = "calendar.ignore", "calendar.ignore_series"
# Buttons that each act on one item of a list (a meeting found): every one may be used, unlike a pick among
# alternatives ("did you mean …?"), where the first choice settles the message. Adapters read it.
PER_ITEM_ACTIONS = frozenset({IGNORE, IGNORE_SERIES})


def _buttons(found: Sequence[tuple[CalendarImport, Negotiation]]) -> tuple[Button, ...]:
    buttons: list[Button] = []
    for _row, neg in found[:WITH_BUTTONS]:
        # The meeting's number in each label: the buttons of a long list sit together, after all its lines.
        n = neg.number
        buttons.append(Button(f"#{n} Not a negotiation", IGNORE, f"calendar ignore {n}"))
        buttons.append(Button(f"#{n} Never this series", IGNORE_SERIES, f"calendar ignore {n} series"))
    return tuple(buttons)


def found_message(
    turn: Turn,
    found: Sequence[tuple[CalendarImport, Negotiation]],
    *,
    text: str,
    linked: Sequence[tuple[CalendarImport, Negotiation]] = (),
    extra: Iterable[str] = (),
    kind: str = "reply",
) -> Message:
    """The negotiations found, one line each, with *Not a negotiation* and *Never this series* per meeting."""
    everything = sorted([*found, *linked], key=lambda pair: pair[1].starts_at)
    lines = [_line(turn, row, neg, linked=any(neg is other for _, other in linked)) for row, neg in everything[:LISTED]]
    if len(everything) > LISTED:
        lines.append(f"… and {len(everything) - LISTED} more: `list` shows them all.")
    hint = (
        "Not a negotiation? Tap “#<id> Not a negotiation” (this meeting) or “#<id> Never this series”, or type "
        "`calendar ignore <id>` / `calendar ignore <id> series`."
    )
    sections = [Section(lines=tuple(lines))] if lines else []
    sections.append(Section(lines=(*extra, hint) if everything else tuple(extra)))
    return Message(text=text, sections=tuple(sections), buttons=_buttons(everything), kind=kind, ref="calendar")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _weeks() -> str:
    return (
        f"the next {WINDOW.after.days // 7} weeks"
        if WINDOW.after.days % 7 == 0
        else f"the next {WINDOW.after.days} days"
    )


def first_read_message(turn: Turn, done: Applied, *, source: str, extra: Iterable[str] = ()) -> Message:
    """After the first read of a calendar: everything found, in one message."""
    count = len(done.new) + len(done.linked)
    if count:
        text = f"I found {_plural(count, 'negotiation')} in your {source} for {_weeks()}:"
    else:
        text = f"I found no negotiations in your {source} for {_weeks()}."
    notes = list(extra)
    if done.unnamed:
        notes.append(f"{_plural(done.unnamed, 'meeting')} looked like negotiations but named nobody; I left them out.")
    if not count:
        notes.append(
            "I look for meetings with someone outside your own domains, or with a keyword in the title "
            "(`settings` shows both; `settings domains …` and `settings keywords …` change them)."
        )
    return found_message(turn, done.new, text=text, linked=done.linked, extra=notes)


def changes_message(turn: Turn, done: Applied, *, synced: str) -> Message:
    """``calendar sync``'s answer: what changed."""
    parts = []
    if done.new or done.linked:
        parts.append(f"{len(done.new) + len(done.linked)} new")
    if done.moved:
        parts.append(f"{len(done.moved)} moved")
    if done.cancelled:
        parts.append(f"{len(done.cancelled)} cancelled")
    text = f"{synced}: " + (", ".join(parts) if parts else "nothing changed") + "."
    extra = [
        f"Moved #{neg.number} {neg.counterpart.name} to {when_text(neg.starts_at, turn.tz, turn.now)}; "
        "its reminders moved too."
        for neg in done.moved
    ] + [f"Cancelled #{neg.number} {neg.counterpart.name}; no more reminders for it." for neg in done.cancelled]
    if not (done.new or done.linked):
        return Message(text=text, sections=(Section(lines=tuple(extra)),) if extra else (), ref="calendar")
    return found_message(turn, done.new, text=text, linked=done.linked, extra=extra)


def _announce(turn: Turn, done: Applied) -> None:
    for row, _neg in (*done.new, *done.linked):
        row.announced_at = turn.now


# -- the feed ---------------------------------------------------------------------------------------


async def _feed_of(session: AsyncSession, user_id: int) -> CalendarFeed | None:
    return await session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user_id))


def next_due(feed_id: int, now: datetime, interval: timedelta) -> datetime:
    """The feed's next poll: its own moment in each interval (a fixed phase by its id), so feeds spread evenly."""
    seconds = interval.total_seconds()
    phase = (feed_id * _PHASE) % 1.0 * seconds
    stamp = now.timestamp()
    slot = (stamp - phase) // seconds + 1
    return datetime.fromtimestamp(slot * seconds + phase, tz=now.tzinfo)


def _not_fetched(result: FeedResult) -> str:
    if result.outcome == FeedOutcome.GONE:
        return (
            "The calendar provider refuses this address or no longer knows it. Copy the secret address again "
            "(Google: “Secret address in iCal format”; Outlook: the ICS link of a published calendar)."
        )
    return (result.reason[:1].upper() + result.reason[1:]).rstrip(".") + "."


async def subscribe(turn: Turn, command: c.CalendarSubscribe) -> Message:
    """``calendar <url>``: fetched and read once now; only a calendar that reads is stored (sealed)."""
    setup = turn.calendar
    if setup.feeds is None:
        return error("This install does not read calendar feeds. You can send me an .ics file instead.")
    if setup.cipher is None or not setup.cipher.available:
        return error(
            "This install has no DEALCOACH_SECRET_KEY, so I can't keep a calendar address safe and won't store it. "
            "Ask whoever runs DealCoach to set it (docs/calendar.md)."
        )
    try:
        url = feed_url(command.url)
    except FeedAddressError as problem:
        raise CommandError(str(problem), USAGE["calendar"].usage) from None
    result = command.fetched
    if not isinstance(result, FeedResult):
        return error("I couldn't fetch that calendar just now. Nothing was stored; please try again.")
    if result.outcome != FeedOutcome.CHANGED:
        lines = ["Nothing was stored."]
        if result.outcome == FeedOutcome.BLOCKED and "private or local" in result.reason and not setup.allow_private:
            lines.append(
                "An on-premise calendar server? Whoever runs DealCoach can allow private addresses with "
                "DEALCOACH_CALENDAR_ALLOW_PRIVATE=1."
            )
        return Message(text=_not_fetched(result), sections=(Section(lines=tuple(lines)),), kind="error")
    try:
        calendar = await read(turn, result.body)
    except CalendarError as problem:
        return error(f"That address doesn't give a calendar I can read: {problem} Nothing was stored.")
    session, user, now = turn.session, turn.user, turn.now
    feed = await _feed_of(session, user.id)
    replaced = feed is not None
    if feed is None:
        feed = CalendarFeed(user_id=user.id, created_at=now, found=0, due_at=now, status=ACTIVE, sealed_url="", host="")
        session.add(feed)
    feed.sealed_url, feed.host = setup.cipher.seal(url), redact(url)
    await session.flush()
    done = await apply(turn, calendar, feed)
    _synced(feed, result, done, now, setup.interval)
    _announce(turn, done)
    extra = [f"{'Replaced your calendar with' if replaced else 'Following'} {feed.host}; I read it every "
             f"{_span(setup.interval)}. `calendar` shows how it's going, `calendar off` stops."]  # fmt: skip
    return first_read_message(turn, done, source="calendar", extra=extra)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return _plural(minutes, "minute") if minutes < 120 else _plural(minutes // 60, "hour")


def _synced(feed: CalendarFeed, result: FeedResult, done: Applied | None, now: datetime, interval: timedelta) -> None:
    """A fetch reached the provider and what it gave (if anything) was read."""
    feed.status, feed.synced_at, feed.last_error = ACTIVE, now, None
    if done is not None:
        feed.found = done.found
    if result.outcome in (FeedOutcome.CHANGED, FeedOutcome.UNCHANGED):
        feed.etag = (result.etag or "")[:300] or None
        feed.last_modified = (result.last_modified or "")[:100] or None
    feed.claimed_by = None
    feed.due_at = next_due(feed.id, now, interval)


async def status(turn: Turn, command: c.CalendarStatus) -> Message:
    feed = await _feed_of(turn.session, turn.user.id)
    tz, now = turn.tz, turn.now
    if feed is None:
        return Message(
            text="No calendar connected.",
            sections=(
                Section(
                    lines=(
                        "Send me your calendar's secret iCal address in a direct message: `calendar <address>` "
                        "(Google: Settings → your calendar → Integrate calendar → Secret address in iCal format; "
                        "Outlook: Settings → Calendar → Shared calendars → Publish a calendar → ICS link). "
                        "Or send me an .ics file.",
                    ),
                ),
            ),
        )
    last = when_text(feed.synced_at, tz, now) if feed.synced_at else "not yet"
    if feed.status == PAUSED:
        upcoming = "paused until you type `calendar sync`"
    elif feed.claimed_by:
        upcoming = "under way"
    else:
        upcoming = "around " + when_text(max(feed.due_at, now), tz, now)
    facts = (
        ("Calendar", feed.host),
        ("Last sync", last),
        ("Found", f"{_plural(feed.found, 'negotiation')} in {_weeks()}"),
        ("Next sync", upcoming),
        ("Last error", feed.last_error or "none"),
    )
    text = "Your calendar is paused." if feed.status == PAUSED else "Your calendar is connected."
    return Message(text=text, sections=(Section(facts=facts),), ref="calendar")


async def sync_now(turn: Turn, command: c.CalendarSync) -> Message:
    """``calendar sync``: read it now and say what changed (a paused feed is tried again)."""
    feed = await _feed_of(turn.session, turn.user.id)
    if feed is None:
        raise CommandError("No calendar connected: `calendar <secret iCal address>` connects one.")
    result = command.fetched
    if not isinstance(result, FeedResult):
        return error("I couldn't fetch your calendar just now. Nothing changed; please try again.")
    outcome = await settle(turn, feed, result, asked=True)
    if outcome.problem is not None:
        return error(outcome.problem)
    if outcome.applied is None:
        return Message(text="Synced: nothing changed in your calendar.", ref="calendar")
    _announce(turn, outcome.applied)
    return changes_message(turn, outcome.applied, synced="Synced")


@dataclass(frozen=True)
class Settled:
    applied: Applied | None = None  # None: nothing was read (unchanged, or a problem)
    problem: str | None = None  # plain words: what went wrong (the feed keeps what it imported)


async def settle(turn: Turn, feed: CalendarFeed, result: FeedResult, *, asked: bool) -> Settled:
    """One fetch of a subscribed feed, whoever asked (the rep: ``asked``; the poll otherwise): read and applied,
    or the feed paused (the provider refuses it: the rep is told once) or left as it was with the reason."""
    now, setup = turn.now, turn.calendar
    if result.outcome in (FeedOutcome.GONE, FeedOutcome.BLOCKED):
        problem = _not_fetched(result)
        feed.status, feed.last_error, feed.claimed_by = PAUSED, problem, None
        feed.due_at = now
        if not asked:
            await _tell_trouble(turn, feed, "paused")
        return Settled(problem=f"{problem} I've paused your calendar: `calendar sync` tries again.")
    if result.outcome == FeedOutcome.FAILED:
        feed.last_error, feed.claimed_by = _not_fetched(result), None
        feed.due_at = next_due(feed.id, now, setup.interval)
        return Settled(problem=f"{feed.last_error} What I imported before stays; I'll try again.")
    if result.outcome == FeedOutcome.UNCHANGED:
        _synced(feed, result, None, now, setup.interval)
        return Settled()
    try:
        calendar = await read(turn, result.body)
    except CalendarError as problem:
        feed.last_error = f"{problem} What I imported before stays."
        feed.claimed_by, feed.synced_at = None, now
        feed.due_at = next_due(feed.id, now, setup.interval)
        if not asked:
            await _tell_trouble(turn, feed, f"unreadable:{now.astimezone(turn.tz).date()}")
        return Settled(problem=f"I couldn't read your calendar: {feed.last_error}")
    first = feed.synced_at is None
    done = await apply(turn, calendar, feed)
    _synced(feed, result, done, now, setup.interval)
    if not asked and not first and (done.new or done.linked):
        await _news_due(turn)
    return Settled(applied=done)


async def _tell_trouble(turn: Turn, feed: CalendarFeed, what: str) -> None:
    key = f"{n.CALENDAR_TROUBLE}:{feed.id}:{what}:{int(turn.now.timestamp()) if what == 'paused' else ''}"
    await n.enqueue(turn.session, turn.user, [n.Planned(n.CALENDAR_TROUBLE, key, turn.now)])


async def _news_due(turn: Turn) -> None:
    """New negotiations from a later sync wait for the day's batch, at the morning reminder hour: one
    message a day, never one per meeting."""
    local = turn.now.astimezone(turn.tz)
    at = datetime.combine(local.date(), turn.timing.commitment_hour, tzinfo=turn.tz)
    if at <= local:
        at += timedelta(days=1)
    key = f"{n.CALENDAR_NEWS}:{turn.user.id}:{at.date().isoformat()}"
    await n.enqueue(turn.session, turn.user, [n.Planned(n.CALENDAR_NEWS, key, at.astimezone(turn.now.tzinfo))])


async def calendar_off(turn: Turn, command: c.CalendarOff) -> Message:
    """``calendar off``: the subscription goes, and with it the imported negotiations nobody touched."""
    session, user = turn.session, turn.user
    feed = await _feed_of(session, user.id)
    if feed is None:
        return Message(text="No calendar was connected; nothing to stop.")
    rows = (await session.scalars(select(CalendarImport).where(CalendarImport.feed_id == feed.id))).all()
    removed = kept = 0
    for row in rows:
        neg = await _negotiation_of(turn, row)
        if neg is not None and row.status == IMPORTED and not await touched(session, neg):
            await session.delete(neg)
            removed += 1
        elif neg is not None and row.status == IMPORTED:
            kept += 1
        await session.delete(row)
    await session.delete(feed)
    lines = [f"Removed {_plural(removed, 'imported negotiation')} you hadn't touched; their reminders stop."]
    if kept:
        lines.append(f"Kept {kept} with an outcome, commitments or notes.")
    lines.append("Connect again any time: `calendar <secret iCal address>`.")
    return Message(text="Calendar disconnected: I no longer read it.", sections=(Section(lines=tuple(lines)),))


async def touched(session: AsyncSession, neg: Negotiation) -> bool:
    """The rep did something with it: an outcome, notes, a frame, commitments, touchpoints or issues."""
    if neg.status == "done" or neg.outcome or neg.notes or neg.observations or neg.repeat is not None:
        return True
    for column in (Commitment.negotiation_id, Touchpoint.negotiation_id, NegotiationIssue.negotiation_id):
        if await session.scalar(select(exists().where(column == neg.id))):
            return True
    return False


async def ignore(turn: Turn, command: c.CalendarIgnore) -> Message:
    """``calendar ignore <id> [series]``: not a negotiation. One nobody touched is removed; one with an outcome,
    commitments or notes is kept, and the calendar no longer changes it."""
    session, user = turn.session, turn.user
    neg = await turn.negotiation(command.negotiation)
    row = await session.scalar(
        select(CalendarImport).where(CalendarImport.user_id == user.id, CalendarImport.negotiation_id == neg.id)
    )
    if row is None:
        raise CommandError(f"#{neg.number} didn't come from your calendar; `cancel {neg.number}` calls it off.")
    name = neg.counterpart.name
    if not command.series:
        outcome = await _drop(turn, row)
        return Message(
            text=f"OK: #{neg.number} with {name} is not a negotiation. {outcome}",
            sections=(Section(lines=("I won't import this meeting again.",)),),
        )
    row_values = {"user_id": user.id, "uid": row.uid, "title": row.title, "created_at": turn.now}
    await store.insert_ignore(session, IgnoredSeries.__table__, [row_values], unique=["user_id", "uid"])
    same = (
        await session.scalars(
            select(CalendarImport).where(CalendarImport.user_id == user.id, CalendarImport.uid == row.uid)
        )
    ).all()
    removed = kept = 0
    for other in same:
        if other.status in (IGNORED, CANCELLED):
            continue
        if (await _drop(turn, other)).startswith("Removed"):
            removed += 1
        else:
            kept += 1
    lines = [f"Removed {_plural(removed, 'meeting')} of it." if removed else "Nothing of it was left to remove."]
    if kept:
        lines.append(f"Kept {kept} you had worked on.")
    series = f"“{row.title}”" if row.title else f"the series of #{neg.number}"
    return Message(
        text=f"OK: never {series} — no meeting of that series becomes a negotiation.",
        sections=(Section(lines=tuple(lines)),),
    )


async def _drop(turn: Turn, row: CalendarImport) -> str:
    """One import ignored: its negotiation removed if nobody touched it (a linked, hand-logged one stays)."""
    neg = await _negotiation_of(turn, row)
    was = row.status
    row.status, row.negotiation_id = IGNORED, None
    if neg is None or was == CANCELLED:
        return "Removed."
    if was == LINKED:
        return f"You had logged #{neg.number} yourself, so it stays."
    if await touched(turn.session, neg):
        return f"It has an outcome, commitments or notes, so I kept #{neg.number}; the calendar no longer changes it."
    await turn.session.delete(neg)
    return "Removed, with its reminders."


async def learn_domain(turn: Turn, command: c.CounterpartDomain) -> Message:
    """``counterpart <name> domain <domain>``: calendar meetings with people at the domain are with them."""
    words = lambda other: f"counterpart {quoted(other)} domain {command.domain}"  # noqa: E731
    party = await known.resolve(turn, command.counterpart, words=words, exact=command.exact, creates=True)
    if isinstance(party, Message):
        return party
    session, user = turn.session, turn.user
    row = await session.scalar(
        select(CounterpartDomain).where(
            CounterpartDomain.owner_id == user.id, CounterpartDomain.domain == command.domain
        )
    )
    before = row.counterpart.name if row is not None else None
    if row is None:
        session.add(
            CounterpartDomain(owner_id=user.id, domain=command.domain, counterpart_id=party.id, created_at=turn.now)
        )
    else:
        row.counterpart_id = party.id
    note = f" (it was {before})" if before and before != party.name else ""
    return Message(
        text=f"Noted: meetings with people at {command.domain} are with {party.name}{note}.",
        sections=(Section(lines=("Calendar import uses this first, for meetings it finds from now on.",)),),
    )


# -- a file -----------------------------------------------------------------------------------------


async def import_file(turn: Turn, data: bytes, filename: str) -> Message:
    """An .ics file sent to the coach: read once, exactly as a feed's sync reads it."""
    if len(data) > MAX_FEED_BYTES:
        return error(f"That file is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB; nothing was imported.")
    if not data.strip():
        return error("That file is empty; nothing was imported.")
    try:
        calendar = await read(turn, data)
    except CalendarError as problem:
        return error(f"I couldn't read that file as a calendar: {problem} Nothing was imported.")
    done = await apply(turn, calendar, None)
    _announce(turn, done)
    shown = filename.rsplit("/", 1)[-1][:80] or "calendar file"
    return first_read_message(turn, done, source=f"file {shown}")


# -- nudges -----------------------------------------------------------------------------------------


async def compose_news(turn: Turn, nudge: Nudge) -> Composed:
    """The day's batch: negotiations later syncs found, not told yet."""
    session = turn.session
    pairs = (
        await session.execute(
            select(CalendarImport, Negotiation)
            .join(Negotiation, Negotiation.id == CalendarImport.negotiation_id)
            .where(
                CalendarImport.user_id == turn.user.id,
                CalendarImport.announced_at.is_(None),
                CalendarImport.status.in_((IMPORTED, LINKED)),
                Negotiation.status == "scheduled",
                Negotiation.starts_at > turn.now,
            )
            .order_by(Negotiation.starts_at)
        )
    ).all()
    if not pairs:
        return Skip("nothing new from the calendar")
    found = [(row, neg) for row, neg in pairs if row.status == IMPORTED]
    linked = [(row, neg) for row, neg in pairs if row.status == LINKED]
    for row, _neg in pairs:
        row.announced_at = turn.now
    text = f"Your calendar has {_plural(len(pairs), 'new negotiation')}:"
    return found_message(turn, found, text=text, linked=linked, kind=nudge.kind)


async def compose_trouble(turn: Turn, nudge: Nudge) -> Composed:
    feed = await _feed_of(turn.session, turn.user.id)
    if feed is None or not feed.last_error:
        return Skip("calendar fine again")
    if feed.status == PAUSED:
        return Message(
            text="I can't read your calendar any more, so I've paused it.",
            sections=(
                Section(
                    lines=(
                        feed.last_error,
                        "What I imported stays. `calendar sync` tries again; `calendar <new secret address>` "
                        "replaces it; `calendar off` stops.",
                    )
                ),
            ),
            buttons=(Button("Try again", "calendar.sync", "calendar sync"),),
            kind=nudge.kind,
            ref="calendar",
        )
    return Message(
        text="Your calendar couldn't be read this time.",
        sections=(Section(lines=(feed.last_error, "I'll keep trying; `calendar` shows how it's going.")),),
        kind=nudge.kind,
        ref="calendar",
    )


# -- the poll ---------------------------------------------------------------------------------------


@dataclass
class PollReport:
    claimed: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    paused: int = 0


async def claim_feeds(session: AsyncSession, *, now: datetime, worker: str, lease: timedelta, limit: int) -> list[int]:
    """Claim up to ``limit`` due, active feeds for ``worker`` (as ``outbox.claim_due`` claims nudges)."""
    for _ in range(3):
        due = list(
            await session.scalars(
                select(CalendarFeed.id)
                .where(CalendarFeed.status == ACTIVE, CalendarFeed.due_at <= now)
                .order_by(CalendarFeed.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not due:
            return []
        claimed = list(
            await session.scalars(
                update(CalendarFeed)
                .where(CalendarFeed.id.in_(due), CalendarFeed.status == ACTIVE, CalendarFeed.due_at <= now)
                .values(due_at=now + lease, claimed_by=worker)
                .returning(CalendarFeed.id)
                .execution_options(synchronize_session=False)
            )
        )
        if claimed:
            return claimed
    return []


TurnFor = Callable[[AsyncSession, User], Turn]


async def poll(
    sessions: async_sessionmaker[AsyncSession],
    setup: CalendarSetup,
    clock: Clock,
    turn_for: TurnFor,
    *,
    worker: str,
    batch: int = 100,
    concurrency: int = 20,
    stopping: Callable[[], bool] = lambda: False,
) -> PollReport:
    """Sync every feed that is due: claimed in batches, fetched ``concurrency`` at a time (outside any
    transaction), each applied in a transaction of its own that first checks the claim is still this worker's."""
    report = PollReport()
    if setup.feeds is None or setup.cipher is None:
        return report
    feeds, cipher = setup.feeds, setup.cipher
    slots = asyncio.Semaphore(concurrency)
    while not stopping():
        async with sessions() as session, session.begin():
            claimed = await claim_feeds(session, now=clock.now(), worker=worker, lease=setup.lease, limit=batch)
        if not claimed:
            break
        report.claimed += len(claimed)
        outcomes = await asyncio.gather(
            *(_poll_one(sessions, feeds, cipher, turn_for, feed_id, worker, slots) for feed_id in claimed)
        )
        for outcome in outcomes:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if len(claimed) < batch:
            break
    return report


async def _poll_one(
    sessions: async_sessionmaker[AsyncSession],
    feeds: CalendarFeeds,
    cipher: Cipher,
    turn_for: TurnFor,
    feed_id: int,
    worker: str,
    slots: asyncio.Semaphore,
) -> str:
    async with slots:
        async with sessions() as session:
            feed = await session.get(CalendarFeed, feed_id)
            if feed is None or feed.claimed_by != worker:
                return "failed"
            try:
                url: str | None = cipher.open(feed.sealed_url)
            except (Unsealable, NoKey):
                url = None
            etag, modified = feed.etag, feed.last_modified
        result = await feeds.fetch(url, etag=etag, last_modified=modified) if url else _unsealable()
        try:
            async with sessions() as session, session.begin():
                feed = await session.get(CalendarFeed, feed_id, with_for_update=True)
                if feed is None or feed.claimed_by != worker:
                    return "failed"  # forgotten meanwhile, or the lease ran out and another worker has it
                user = await session.get(User, feed.user_id)
                assert user is not None
                outcome = await settle(turn_for(session, user), feed, result, asked=False)
        except Exception:  # one feed's trouble must not stop the poll; the lease gives it back
            log.exception("calendar feed %s: sync failed", feed_id)
            return "failed"
    if result.outcome in (FeedOutcome.GONE, FeedOutcome.BLOCKED):
        return "paused"
    if outcome.problem is not None:
        return "failed"
    return "changed" if result.outcome == FeedOutcome.CHANGED else "unchanged"


HANDLERS: dict[type[c.Command], Handler] = {
    c.CalendarSubscribe: subscribe,
    c.CalendarStatus: status,
    c.CalendarSync: sync_now,
    c.CalendarOff: calendar_off,
    c.CalendarIgnore: ignore,
    c.CounterpartDomain: learn_domain,
}
COMPOSERS: dict[str, Composer] = {
    n.CALENDAR_NEWS: Composer(compose_news),
    n.CALENDAR_TROUBLE: Composer(compose_trouble),
}
