"""Nudge rules: when each reminder is due, and keeping the outbox in step with what people do.

A nudge's key names what it is about and the moment it is anchored to (``precall:12:1764165600``),
so enqueuing is idempotent, a rescheduled negotiation gets fresh nudges, and a sent one is never
enqueued again. Pending nudges of something handled are deleted, so none is left orphaned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

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
EXPORT = "export"  # a data export, asked for just now (not a nudge, but it travels the outbox to carry a file)
STAY_IN_TOUCH_TIME = time(10, 0)  # Monday, local


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
    """The day before and the due day at 09:00 local, and one overdue nudge the day after."""
    if commitment.status != "open" or commitment.due_on is None:
        return []
    tz = user_zone(user)

    def at_hour(day: date) -> datetime:
        return datetime.combine(day, timing.commitment_hour, tzinfo=tz).astimezone(now.tzinfo)

    due = commitment.due_on
    moments = (
        (COMMITMENT_BEFORE, at_hour(due - timedelta(days=1))),
        (COMMITMENT_DUE, at_hour(due)),
        (COMMITMENT_OVERDUE, at_hour(due + timedelta(days=1))),
    )
    return [
        Planned(kind, f"{kind}:{commitment.id}:{due.isoformat()}", moment) for kind, moment in moments if moment > now
    ]


async def enqueue(session: AsyncSession, user: User, planned: list[Planned], **about: int | None) -> None:
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
    await insert_ignore(session, Nudge.__table__, rows, unique=["key"])


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
    session: AsyncSession, negotiation: Negotiation, user: User, *, now: datetime, timing: Timing
) -> list[Planned]:
    planned = plan_negotiation(negotiation, user, now=now, timing=timing)
    await enqueue(session, user, planned, negotiation_id=negotiation.id)
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


async def schedule_stay_in_touch(session: AsyncSession, user: User, now: datetime) -> None:
    """One batched message per rep per week, Monday 10:00 local; composing it lines up the next."""
    tz = user_zone(user)
    week = Week.containing(now, tz).shift(1)
    await enqueue_stay_in_touch(session, user, week)


async def enqueue_stay_in_touch(session: AsyncSession, user: User, week: Week) -> None:
    due = datetime.combine(week.monday, STAY_IN_TOUCH_TIME, tzinfo=user_zone(user))
    await enqueue(session, user, [Planned(STAY_IN_TOUCH, f"{STAY_IN_TOUCH}:{user.id}:{week.label}", due)])


def snoozed_until(now: datetime, tz: ZoneInfo, minutes: int | None, timing: Timing) -> datetime:
    """When a snoozed nudge comes back: in ``minutes``, or (None) tomorrow at the commitment hour, local."""
    if minutes is None:
        tomorrow = now.astimezone(tz).date() + timedelta(days=1)
        return datetime.combine(tomorrow, timing.commitment_hour, tzinfo=tz).astimezone(now.tzinfo)
    return now + timedelta(minutes=minutes)
