"""Nudge rules: when each reminder is due, and keeping the outbox in step with what people do.

A nudge's key names what it is about and the moment it is anchored to (``precall:12:1764165600``),
so enqueuing is idempotent, a rescheduled negotiation gets fresh nudges, and a sent one is never
enqueued again. Pending nudges of something handled are deleted, so none is left orphaned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import store
from coaching.digest import Week
from coaching.models import Commitment, Negotiation, Nudge, User
from coaching.store import insert_ignore, zone

# Kinds that answer what the user just did or that only make sense on time ignore quiet hours.
PRECALL = "precall"
FOLLOWUP = "followup"
FOLLOWUP_REMINDER = "followup_reminder"
COMMITMENT_BEFORE = "commitment_before"
COMMITMENT_DUE = "commitment_due"
COMMITMENT_OVERDUE = "commitment_overdue"
NEGOTIATION_KINDS = (PRECALL, FOLLOWUP, FOLLOWUP_REMINDER)
COMMITMENT_KINDS = (COMMITMENT_BEFORE, COMMITMENT_DUE, COMMITMENT_OVERDUE)
STAY_IN_TOUCH = "stay_in_touch"  # the weekly list of long-term counterparts due for a personal touch
REPAIR_NOTE = "repair_note"  # after a hard win: a personal note within a day...
REPAIR_CHECKIN = "repair_checkin"  # ...and a check-in two weeks later
REPAIR_KINDS = (REPAIR_NOTE, REPAIR_CHECKIN)
HANDOFF = "handoff"  # a note to the account owner about a held negotiation
DIGEST = "digest"  # a team lead's weekly digest
TEAM_INVITE = "team_invite"  # a lead invites a rep to their team
TEAM_NEWS = "team_news"  # a change on a team (accepted, declined, left …), told to whom it concerns
CALENDAR_NEWS = "calendar_news"  # a day's batch of negotiations found in the rep's calendar by later syncs
CALENDAR_TROUBLE = "calendar_trouble"  # the rep's calendar feed is refused (paused) or cannot be read
EXPORT = "export"  # a data export, asked for just now (not a nudge, but it travels the outbox to carry a file)
STAY_IN_TOUCH_TIME = time(10, 0)  # Monday, local
DUE_TIME_LEAD = timedelta(hours=1)  # a commitment due at a time: reminded this long before, overdue this long after
# The weekly digest, hand-offs, exports and team messages are not coaching nudges about the rep's own work:
# no daily budget.
UNBUDGETED_KINDS = (DIGEST, HANDOFF, EXPORT, TEAM_INVITE, TEAM_NEWS)


@dataclass(frozen=True)
class Timing:
    """PRODUCT.md's defaults; each can be changed per install."""

    followup_after: timedelta = timedelta(minutes=15)
    followup_reminder_after: timedelta = timedelta(hours=24)
    commitment_hour: time = time(9, 0)
    back_to_back_gap: timedelta = timedelta(minutes=15)
    coffee_min_ahead: timedelta = timedelta(days=2)
    # no contact with a counterpart for this long: a coffee chat is suggested, a long-term one is due
    # for a personal touch (listed from 70% of it), and the lead's digest counts it as overdue
    contact_gap: timedelta = timedelta(days=30)
    digest_time: time = time(9, 0)  # the lead's weekly digest: Mondays at this local time


@dataclass(frozen=True)
class Planned:
    kind: str
    key: str
    due_at: datetime
    exempt_quiet: bool = False


def user_zone(user: User) -> ZoneInfo:
    return zone(user.timezone) or ZoneInfo("UTC")


def user_zone_named(name: str | None) -> ZoneInfo:
    return zone(name) or ZoneInfo("UTC")


def quiet_until(user: User, at: datetime) -> datetime | None:
    """If ``at`` falls in the user's quiet hours, the moment they end; otherwise None."""
    if not user.quiet_start or not user.quiet_end or user.quiet_start == user.quiet_end:
        return None
    tz = user_zone(user)
    local = at.astimezone(tz)
    start, end = time.fromisoformat(user.quiet_start), time.fromisoformat(user.quiet_end)
    now_t = local.time()
    inside = (start <= now_t < end) if start < end else (now_t >= start or now_t < end)
    if not inside:
        return None
    day = local.date() if now_t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(at.tzinfo)


# -- the daily budget ---------------------------------------------------------------------------------
# At most ``CoachDefaults.daily_nudges`` coaching nudges per rep per local day; once a day's budget is spent,
# the rest wait for the next morning. The scheduler's tick applies it (``outbox.Dispatcher``); a snooze's
# confirmation foretells it (:func:`arrives`). Both use the functions here.


def budgeted(kind: str, exempt_quiet: bool) -> bool:
    """Counts against the daily budget: not pre-call reminders and replies to what the rep just did (they are
    exempt from quiet hours too), nor the digest, hand-offs and exports."""
    return not exempt_quiet and kind not in UNBUDGETED_KINDS


@dataclass(frozen=True)
class BudgetDay:
    """The rep's local day a budgeted nudge due then counts against, and the morning it waits for once that
    day's budget is spent (the end of their quiet hours, else 08:00)."""

    day: date
    morning: datetime

    def spent(self, sent_at: Iterable[datetime]) -> int:
        """How many of the budgeted nudges sent at ``sent_at`` went out on this day."""
        return sum(1 for at in sent_at if at.astimezone(self.morning.tzinfo).date() == self.day)


def budget_day(user: User, due_at: datetime) -> BudgetDay:
    tz = user_zone(user)
    day = due_at.astimezone(tz).date()
    wake = time.fromisoformat(user.quiet_end) if user.quiet_end else time(8, 0)
    return BudgetDay(day, datetime.combine(day + timedelta(days=1), wake, tzinfo=tz))


_BUDGETED = (
    Nudge.status == "sent",
    Nudge.exempt_quiet.is_(False),
    # one comparison each, not NOT IN (...): an IN list is re-rendered into the SQL at every execution
    *(Nudge.kind != kind for kind in UNBUDGETED_KINDS),
    Nudge.sent_at >= bindparam("since"),
)
_BUDGETED_SENT = select(Nudge.user_id, Nudge.sent_at).where(
    Nudge.user_id.in_(bindparam("users", expanding=True)), *_BUDGETED
)
_BUDGETED_SENT_TO_ONE = select(Nudge.sent_at).where(Nudge.user_id == bindparam("user"), *_BUDGETED)  # no IN to expand


async def budgeted_sent(session: AsyncSession, user_ids: Iterable[int], since: datetime) -> list[tuple[int, datetime]]:
    """(user id, sent at) of the budgeted nudges sent to these people since ``since``."""
    sent = await store.rows(session, _BUDGETED_SENT, {"users": sorted(set(user_ids)), "since": since})
    return [(user_id, sent_at) for user_id, sent_at in sent]


@dataclass(frozen=True)
class Arrival:
    """When a nudge planned for ``asked`` will really come: after quiet hours and the daily budget."""

    at: datetime
    asked: datetime
    quiet: bool = False  # moved past the person's quiet hours
    budget: bool = False  # that day's budget is spent: the next morning


async def arrives(session: AsyncSession, user: User, planned: Planned, *, budget: int) -> Arrival:
    """When ``planned`` will reach the person, as things stand now: the nudges already sent count (ones still
    pending may, when sent first, use up that day's budget too)."""
    at = planned.due_at if planned.exempt_quiet else (quiet_until(user, planned.due_at) or planned.due_at)
    quiet = at != planned.due_at
    if not budgeted(planned.kind, planned.exempt_quiet):
        return Arrival(at, planned.due_at, quiet)
    day = budget_day(user, at)
    since = at - timedelta(days=1)  # what the tick at ``at`` counts
    sent = await store.scalars(session, _BUDGETED_SENT_TO_ONE, {"user": user.id, "since": since})
    if budget - day.spent(sent) > 0:
        return Arrival(at, planned.due_at, quiet)
    return Arrival(max(at, day.morning.astimezone(at.tzinfo)), planned.due_at, quiet, budget=True)


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def negotiation_key(kind: str, negotiation: Negotiation) -> str:
    """Anchored to the start time: a rescheduled negotiation gets fresh nudges, a sent one never repeats."""
    return f"{kind}:{negotiation.id}:{_ts(negotiation.starts_at)}"


def plan_negotiation(negotiation: Negotiation, user: User, *, now: datetime, timing: Timing) -> list[Planned]:
    """Pre-call reminder and post-call follow-up (plus its one reminder) for a scheduled negotiation."""
    if negotiation.status != "scheduled":
        return []
    starts = negotiation.starts_at
    ends = starts + timedelta(minutes=negotiation.duration_minutes)
    planned: list[Planned] = []
    if starts > now:
        precall = max(now, starts - timedelta(minutes=user.lead_minutes))
        planned.append(Planned(PRECALL, negotiation_key(PRECALL, negotiation), precall, exempt_quiet=True))
    held_already = starts <= now  # logged in the past: the prompt answers what they just did
    followup = now if held_already else ends + timing.followup_after
    planned.append(Planned(FOLLOWUP, negotiation_key(FOLLOWUP, negotiation), followup, exempt_quiet=held_already))
    if negotiation.followup_sent_at is None:
        reminder = max(followup, now) + timing.followup_reminder_after
        planned.append(Planned(FOLLOWUP_REMINDER, negotiation_key(FOLLOWUP_REMINDER, negotiation), reminder))
    return planned


def plan_commitment(commitment: Commitment, user: User, *, now: datetime, timing: Timing) -> list[Planned]:
    """The day before at 09:00 local; on the day at 09:00, or an hour before the due time when one was given
    (``by tomorrow 5pm`` → 16:00); and one overdue nudge, the next day at 09:00 or an hour after the due time."""
    if commitment.status != "open" or commitment.due_on is None:
        return []
    tz = user_zone(user)

    def at_hour(day: date) -> datetime:
        return datetime.combine(day, timing.commitment_hour, tzinfo=tz).astimezone(now.tzinfo)

    due = commitment.due_on
    if commitment.due_at is not None:
        anchor = str(int(commitment.due_at.timestamp()))
        moments = (
            (COMMITMENT_BEFORE, at_hour(due - timedelta(days=1))),
            (COMMITMENT_DUE, commitment.due_at - DUE_TIME_LEAD),
            (COMMITMENT_OVERDUE, commitment.due_at + DUE_TIME_LEAD),
        )
    else:
        anchor = due.isoformat()
        moments = (
            (COMMITMENT_BEFORE, at_hour(due - timedelta(days=1))),
            (COMMITMENT_DUE, at_hour(due)),
            (COMMITMENT_OVERDUE, at_hour(due + timedelta(days=1))),
        )
    return [Planned(kind, f"{kind}:{commitment.id}:{anchor}", moment) for kind, moment in moments if moment > now]


def commitment_stage(commitment: Commitment, at: datetime, tz: ZoneInfo) -> str:
    """Which reminder of ``commitment`` a nudge at ``at`` is: before its due day, on it, or overdue (past its
    due time when it has one, else past its day)."""
    day = at.astimezone(tz).date()
    if commitment.due_at is not None and at >= commitment.due_at:
        return COMMITMENT_OVERDUE
    if commitment.due_on is None or commitment.due_on > day:
        return COMMITMENT_BEFORE
    if commitment.due_on == day:
        return COMMITMENT_DUE
    return COMMITMENT_OVERDUE


async def enqueue(session: AsyncSession, user: User, planned: list[Planned], **about: int | None) -> None:
    await insert_ignore(session, Nudge.__table__, _rows(user, planned, about), unique=["key"])


async def enqueue_many(session: AsyncSession, user: User, planned: list[tuple[list[Planned], int]]) -> None:
    """The nudges of many negotiations (``(planned, negotiation id)`` each) in one statement: a calendar's first
    read imports hundreds."""
    rows = [row for items, negotiation_id in planned for row in _rows(user, items, {"negotiation_id": negotiation_id})]
    for start in range(0, len(rows), 500):  # within every database's limit of bound parameters per statement
        await insert_ignore(session, Nudge.__table__, rows[start : start + 500], unique=["key"])


def _rows(user: User, planned: list[Planned], about: dict[str, int | None]) -> list[dict[str, object]]:
    rows = []
    for item in planned:
        due = item.due_at
        if not item.exempt_quiet:
            due = quiet_until(user, due) or due
        rows.append(
            {
                "key": item.key,
                "user_id": user.id,
                "kind": item.kind,
                "due_at": due,
                "status": "pending",
                "attempts": 0,
                "exempt_quiet": item.exempt_quiet,
                **about,
            }
        )
    return rows


async def drop_pending(
    session: AsyncSession,
    *,
    negotiation_id: int | None = None,
    commitment_id: int | None = None,
    user_id: int | None = None,
    kinds: tuple[str, ...] | None = None,
) -> None:
    """Delete pending nudges about something that was handled, moved or called off."""
    query = delete(Nudge).where(Nudge.status == "pending", Nudge.claimed_by.is_(None))
    if negotiation_id is not None:
        query = query.where(Nudge.negotiation_id == negotiation_id)
    if commitment_id is not None:
        query = query.where(Nudge.commitment_id == commitment_id)
    if user_id is not None:
        query = query.where(Nudge.user_id == user_id)
    if kinds is not None:
        query = query.where(Nudge.kind.in_(kinds))
    await session.execute(query)


async def schedule_negotiation(
    session: AsyncSession,
    negotiation: Negotiation,
    user: User,
    *,
    now: datetime,
    timing: Timing,
    also: Iterable[Planned] = (),
) -> list[Planned]:
    """The negotiation's nudges, and ``also`` (nudges about no negotiation: the weekly stay-in-touch list a new
    long-term counterpart starts), in one statement."""
    planned = plan_negotiation(negotiation, user, now=now, timing=timing)
    rows = _rows(user, planned, {"negotiation_id": negotiation.id}) + _rows(user, list(also), {"negotiation_id": None})
    await insert_ignore(session, Nudge.__table__, rows, unique=["key"])
    return planned


async def schedule_commitment(
    session: AsyncSession, commitment: Commitment, user: User, *, now: datetime, timing: Timing
) -> list[Planned]:
    planned = plan_commitment(commitment, user, now=now, timing=timing)
    await enqueue(session, user, planned, commitment_id=commitment.id, negotiation_id=commitment.negotiation_id)
    return planned


async def plan_repair(session: AsyncSession, user: User, negotiation: Negotiation, now: datetime) -> None:
    """A hard win: a personal note within a day, and a check-in two weeks later."""
    await enqueue(
        session,
        user,
        [
            Planned(REPAIR_NOTE, f"{REPAIR_NOTE}:{negotiation.id}", now + timedelta(days=1)),
            Planned(REPAIR_CHECKIN, f"{REPAIR_CHECKIN}:{negotiation.id}", now + timedelta(days=14)),
        ],
        negotiation_id=negotiation.id,
    )


def plan_stay_in_touch(user: User, now: datetime) -> Planned:
    """One batched message per rep per week, Monday 10:00 local, from next week on; composing it lines up the next."""
    return _stay_in_touch(user, Week.containing(now, user_zone(user)).shift(1))


def _stay_in_touch(user: User, week: Week) -> Planned:
    due = datetime.combine(week.monday, STAY_IN_TOUCH_TIME, tzinfo=user_zone(user))
    return Planned(STAY_IN_TOUCH, f"{STAY_IN_TOUCH}:{user.id}:{week.label}", due)


async def schedule_stay_in_touch(session: AsyncSession, user: User, now: datetime) -> None:
    await enqueue(session, user, [plan_stay_in_touch(user, now)])


async def enqueue_stay_in_touch(session: AsyncSession, user: User, week: Week) -> None:
    await enqueue(session, user, [_stay_in_touch(user, week)])


def snoozed_until(now: datetime, tz: ZoneInfo, minutes: int | None, timing: Timing) -> datetime:
    """When a snoozed nudge comes back: in ``minutes``, or (None) tomorrow at the commitment hour, local."""
    if minutes is None:
        tomorrow = now.astimezone(tz).date() + timedelta(days=1)
        return datetime.combine(tomorrow, timing.commitment_hour, tzinfo=tz).astimezone(now.tzinfo)
    return now + timedelta(minutes=minutes)
