"""Relationship care between and around deals: touchpoints, stay-in-touch, the concession ledger,
the lever of links, issues on the table, hard-win repair and hand-off notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import commands as c
from coaching import nudges as n
from coaching import playbook as book
from coaching import store
from coaching.digest import Week
from coaching.messages import Button, Message, Section
from coaching.models import Counterpart, Negotiation, NegotiationIssue, Relationship, Touchpoint, User
from coaching.parser import USAGE, CommandError
from coaching.ports import Address

if TYPE_CHECKING:
    from coaching.engine import Coach

STAY_IN_TOUCH = "stay_in_touch"
REPAIR_NOTE = "repair_note"
REPAIR_CHECKIN = "repair_checkin"
HANDOFF = "handoff"
REPAIR_KINDS = (REPAIR_NOTE, REPAIR_CHECKIN)
SOON = 0.7  # a counterpart is listed from 70% of the contact gap (21 of 30 days), flagged past all of it
STAY_IN_TOUCH_TIME = time(10, 0)  # Monday, local
CONCEDING_STREAK = 3
MAX_LISTED = 10


async def relationship(session: AsyncSession, user: User, counterpart: Counterpart) -> Relationship:
    found = await session.scalar(
        select(Relationship).where(Relationship.user_id == user.id, Relationship.counterpart_id == counterpart.id)
    )
    if found is None:
        await store.insert_ignore(
            session,
            Relationship.__table__,
            [{"user_id": user.id, "counterpart_id": counterpart.id}],
            unique=["user_id", "counterpart_id"],
        )
        found = await session.scalar(
            select(Relationship).where(Relationship.user_id == user.id, Relationship.counterpart_id == counterpart.id)
        )
    assert found is not None
    return found


async def known_counterpart(session: AsyncSession, user: User, name: str) -> Counterpart:
    found = await store.find_counterpart(session, workspace_id=user.workspace_id, name=name)
    if found is None:
        raise CommandError(f"I don't know a counterpart called “{name}”. Names come from `log`.")
    return found


# -- stay in touch -----------------------------------------------------------------------------------


async def schedule_stay_in_touch(session: AsyncSession, user: User, now: datetime) -> None:
    """One batched message per rep per week, Monday 10:00 local; composing it lines up the next."""
    tz = n.user_zone(user)
    week = Week.containing(now, tz).shift(1)
    await _enqueue_week(session, user, week)


async def _enqueue_week(session: AsyncSession, user: User, week: Week) -> None:
    due = datetime.combine(week.monday, STAY_IN_TOUCH_TIME, tzinfo=n.user_zone(user))
    await n.enqueue(session, user, [n.Planned(STAY_IN_TOUCH, f"{STAY_IN_TOUCH}:{user.id}:{week.label}", due)])


@dataclass(frozen=True)
class Due:
    counterpart: str
    last_contact: datetime | None
    overdue: bool  # past the whole contact gap


async def due_for_contact(session: AsyncSession, user: User, now: datetime, timing: n.Timing) -> list[Due]:
    """Long-term counterparts this rep deals with, coming due for contact: three aggregate queries."""
    negotiated = (
        select(Negotiation.counterpart_id, func.max(Negotiation.starts_at).label("last"))
        .where(Negotiation.owner_id == user.id, Negotiation.status != "cancelled", Negotiation.starts_at <= now)
        .group_by(Negotiation.counterpart_id)
    )
    touched = (
        select(Touchpoint.counterpart_id, func.max(Touchpoint.at).label("last"))
        .where(Touchpoint.user_id == user.id, Touchpoint.at <= now)
        .group_by(Touchpoint.counterpart_id)
    )
    last: dict[int, datetime] = {}
    for counterpart_id, moment in [*await session.execute(negotiated), *await session.execute(touched)]:
        if counterpart_id not in last or last[counterpart_id] < moment:
            last[counterpart_id] = moment
    snoozed = set(
        await session.scalars(
            select(Relationship.counterpart_id).where(Relationship.user_id == user.id, Relationship.snoozed_until > now)
        )
    )
    counterparts = await session.scalars(
        select(Counterpart).where(
            Counterpart.id.in_(last.keys()), Counterpart.long_term.is_(True), Counterpart.id.not_in(snoozed)
        )
    )
    due = [
        Due(cp.name, last[cp.id], overdue=now - last[cp.id] > timing.contact_gap)
        for cp in counterparts
        if now - last[cp.id] > timing.contact_gap * SOON
    ]
    return sorted(due, key=lambda d: d.last_contact or datetime.min.replace(tzinfo=now.tzinfo))


async def chain_stay_in_touch(session: AsyncSession, key: str, user: User) -> None:
    """This week's list lines up next week's."""
    await _enqueue_week(session, user, Week.parse(key.rsplit(":", 1)[1]).shift(1))


async def compose_stay_in_touch(coach: Coach, session: AsyncSession, user: User) -> Message | None:
    now = coach.clock.now()
    due = await due_for_contact(session, user, now, coach.timing)
    if not due:
        return None
    lines, buttons = [], []
    for item in due[:MAX_LISTED]:
        days = "never" if item.last_contact is None else f"{(now - item.last_contact).days} days ago"
        flag = " ⚠" if item.overdue else ""
        lines.append(f"{item.counterpart} — last contact {days}{flag}")
        quoted = f'"{item.counterpart}"'
        buttons += [
            Button(f"Log call: {item.counterpart}", "touch.call", f"call {quoted}"),
            Button(f"Log note: {item.counterpart}", "touch.note", f"note {quoted}:"),
            Button(f"Snooze: {item.counterpart}", "touch.snooze", f"snooze {quoted} 14"),
        ]
    if len(due) > MAX_LISTED:
        lines.append(f"…and {len(due) - MAX_LISTED} more.")
    return Message(
        text=f"{len(due)} relationship(s) due for a personal touch",
        sections=(Section(lines=(book.STAY_IN_TOUCH, *lines)), Section(lines=(book.ENGAGE,))),
        buttons=tuple(buttons),
        kind=STAY_IN_TOUCH,
    )


async def record_touchpoint(coach: Coach, session: AsyncSession, user: User, command: c.RecordTouchpoint) -> Message:
    name = " ".join(command.counterpart.split())
    if not name:
        raise CommandError("Who was it with?", USAGE[command.kind].usage)
    counterpart = await store.counterpart(session, workspace_id=user.workspace_id, name=name)
    now = coach.clock.now()
    note = (command.note or "").strip()[:4000] or None
    session.add(
        Touchpoint(created_at=now, user_id=user.id, counterpart_id=counterpart.id, kind=command.kind, at=now, note=note)
    )
    store.touch(counterpart, now)
    what = "Call" if command.kind == "call" else "Note"
    remembered = " I'll bring it up before your next negotiation with them." if note else ""
    return Message(text=f"{what} with {counterpart.name} recorded.{remembered}", ref=f"counterpart:{counterpart.id}")


async def snooze_counterpart(coach: Coach, session: AsyncSession, user: User, command: c.SnoozeCounterpart) -> Message:
    counterpart = await known_counterpart(session, user, command.counterpart)
    link = await relationship(session, user, counterpart)
    link.snoozed_until = coach.clock.now() + timedelta(days=command.days)
    return Message(text=f"I won't list {counterpart.name} as due for contact for {command.days} days.")


async def start_long_term(coach: Coach, session: AsyncSession, user: User, counterpart: Counterpart) -> None:
    counterpart.long_term = True
    await schedule_stay_in_touch(session, user, coach.clock.now())


# -- concession ledger -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    given: int
    received: int
    negotiations: int
    streak_given: int  # concessions given since we last received one

    @property
    def one_sided(self) -> bool:
        return self.streak_given >= CONCEDING_STREAK


async def ledger(session: AsyncSession, user: User, counterpart_id: int) -> Ledger | None:
    rows = (
        await session.execute(
            select(Negotiation.concessions_given, Negotiation.concessions_received)
            .where(
                Negotiation.owner_id == user.id,
                Negotiation.counterpart_id == counterpart_id,
                Negotiation.status == "done",
                (Negotiation.concessions_given.is_not(None)) | (Negotiation.concessions_received.is_not(None)),
            )
            .order_by(Negotiation.starts_at.desc())
        )
    ).all()
    if not rows:
        return None
    streak, streak_open = 0, True
    for given, received in rows:
        if streak_open and (received or 0) > 0:
            streak_open = False
        if streak_open:
            streak += given or 0
    return Ledger(
        given=sum(g or 0 for g, _ in rows),
        received=sum(r or 0 for _, r in rows),
        negotiations=len(rows),
        streak_given=streak,
    )


def ledger_lines(entry: Ledger | None, counterpart: str) -> tuple[str, ...]:
    if entry is None:
        return ()
    line = (
        f"Concessions with {counterpart}: {entry.given} given, {entry.received} received "
        f"over {entry.negotiations} negotiation(s)."
    )
    if entry.one_sided:
        return (line, book.CONCEDING.format(given=entry.streak_given, counterpart=counterpart))
    return (line,)


# -- lever of links ----------------------------------------------------------------------------------


async def answer_links(coach: Coach, session: AsyncSession, user: User, command: c.AnswerLinks) -> Message:
    questions = book.LEVERAGE_QUESTIONS[user.role]
    if len(command.answers) != len(questions):
        raise CommandError(
            f"Answer all {len(questions)} {user.role} questions with yes or no, in order (`prep <id>` lists them).",
            USAGE["links"].usage,
        )
    counterpart = await known_counterpart(session, user, command.counterpart)
    link = await relationship(session, user, counterpart)
    link.links = {**(link.links or {}), user.role: list(command.answers)}
    score = sum(command.answers)
    return Message(
        text=f"Lever of links with {counterpart.name}: {score}/{len(questions)}.",
        sections=(Section(lines=leverage_lines(user.role, list(command.answers))),),
    )


def leverage_lines(role: str, answers: list[bool] | None) -> tuple[str, ...]:
    questions = book.LEVERAGE_QUESTIONS[role]
    if not answers:
        return (
            book.LEVER_OF_LINKS,
            *questions,
            "Answer with `links <counterpart> yes|no …` (in this order) to get a score.",
        )
    strongest = [q.rstrip("?") for q, yes in zip(questions, answers, strict=False) if yes]
    score = f"Leverage score: {sum(answers)}/{len(questions)}"
    if strongest:
        return (book.LEVER_OF_LINKS, f"{score}. Strongest links: " + "; ".join(strongest) + ".")
    return (book.LEVER_OF_LINKS, f"{score}: few links beyond this deal — build some.")


async def links_for(session: AsyncSession, user: User, counterpart_id: int) -> list[bool] | None:
    link = await session.scalar(
        select(Relationship).where(Relationship.user_id == user.id, Relationship.counterpart_id == counterpart_id)
    )
    return (link.links or {}).get(user.role) if link else None


# -- issues on the table -----------------------------------------------------------------------------


def classify(issue: str) -> tuple[str, str]:
    """(kind, name): a known agreement or relationship issue by keyword, else an agreement issue as typed."""
    lowered = issue.lower()
    for name, words in book.ISSUE_KEYWORDS.items():
        if any(word in lowered for word in words):
            kind = "relationship" if name in book.RELATIONSHIP_ISSUES else "agreement"
            return kind, name
    return "agreement", issue.strip()[:200]


async def table_issues(coach: Coach, session: AsyncSession, user: User, command: c.TableIssues) -> Message:
    negotiation = await coach.owned(session, user, command.negotiation)
    added = []
    for raw in command.issues:
        kind, name = classify(raw)
        await store.insert_ignore(
            session,
            NegotiationIssue.__table__,
            [{"negotiation_id": negotiation.id, "kind": kind, "name": name, "settled": False}],
            unique=["negotiation_id", "name"],
        )
        added.append(f"{name} ({kind})")
    return Message(
        text=f"On the table for #{negotiation.number}: " + "; ".join(added) + ".",
        sections=(Section(lines=("Relationship issues first; don't trade a good relationship for a bad agreement.",)),),
        ref=f"negotiation:{negotiation.number}",
    )


async def settle_issues(session: AsyncSession, negotiation: Negotiation, settled: tuple[str, ...]) -> None:
    names = {classify(raw)[1] for raw in settled}
    issues = await session.scalars(select(NegotiationIssue).where(NegotiationIssue.negotiation_id == negotiation.id))
    for issue in issues:
        if issue.name in names:
            issue.settled = True


async def issue_lines(session: AsyncSession, user: User, negotiation: Negotiation) -> tuple[str, ...]:
    """This negotiation's issues, and open ones carried over from earlier rounds with the same counterpart."""
    rows = (
        await session.execute(
            select(NegotiationIssue.name, NegotiationIssue.kind, NegotiationIssue.negotiation_id)
            .join(Negotiation, Negotiation.id == NegotiationIssue.negotiation_id)
            .where(
                Negotiation.owner_id == user.id,
                Negotiation.counterpart_id == negotiation.counterpart_id,
                NegotiationIssue.settled.is_(False),
                (Negotiation.id == negotiation.id) | (Negotiation.starts_at < negotiation.starts_at),
            )
        )
    ).all()
    here = sorted({(kind, name) for name, kind, nid in rows if nid == negotiation.id})
    carried = sorted({(kind, name) for name, kind, nid in rows if nid != negotiation.id} - set(here))
    lines = [f"On the table ({kind}): {name}" for kind, name in here]
    lines += [f"Still open from last time ({kind}): {name}" for kind, name in carried]
    return tuple(lines)


# -- hard wins ---------------------------------------------------------------------------------------


async def plan_repair(session: AsyncSession, user: User, negotiation: Negotiation, now: datetime) -> None:
    """A personal note within a day, and a check-in two weeks later."""
    await n.enqueue(
        session,
        user,
        [
            n.Planned(REPAIR_NOTE, f"{REPAIR_NOTE}:{negotiation.id}", now + timedelta(days=1)),
            n.Planned(REPAIR_CHECKIN, f"{REPAIR_CHECKIN}:{negotiation.id}", now + timedelta(days=14)),
        ],
        negotiation_id=negotiation.id,
    )


async def handoff(coach: Coach, session: AsyncSession, user: User, command: c.Handoff) -> Message:
    negotiation = await coach.owned(session, user, command.negotiation)
    workspace = user.workspace
    address = Address(workspace.platform, workspace.external_id, command.member)
    owner = await store.ensure_user(session, address=address, new=coach.defaults.new_user())
    if owner.id == user.id:
        raise CommandError("Hand it to the account owner, not to yourself.", USAGE["handoff"].usage)
    note = (command.note or "").strip()[:1000]
    key = f"{HANDOFF}:{negotiation.id}:{owner.id}"
    await n.enqueue(
        session, owner, [n.Planned(HANDOFF, key, coach.clock.now(), exempt_quiet=False)], negotiation_id=negotiation.id
    )
    if note:
        negotiation.observations = ((negotiation.observations or "") + f"\nHand-off note: {note}").strip()
    return Message(
        text=f"I'll send {owner.display_name or owner.external_id} a hand-off note about "
        f"{negotiation.counterpart.name} (#{negotiation.number}).",
        ref=f"negotiation:{negotiation.number}",
    )


def compose_repair(nudge_kind: str, negotiation: Negotiation) -> Message | None:
    name, number = negotiation.counterpart.name, negotiation.number
    if nudge_kind == REPAIR_NOTE:
        if (
            negotiation.followup_sent_at is not None
            and negotiation.done_at
            and negotiation.followup_sent_at >= negotiation.done_at
        ):
            return None  # they already sent one after the outcome
        return Message(
            text=f"A personal note to {name}?",
            sections=(Section(lines=(book.REPAIR_NOTE.format(counterpart=name),)),),
            buttons=(
                Button("Note sent", "negotiation.followup", f"followup {number}", "primary"),
                Button("Remind me tomorrow", "nudge.snooze", f"later note {number} tomorrow"),
            ),
            kind=nudge_kind,
            ref=f"negotiation:{number}",
        )
    return Message(
        text=f"Check in with {name}?",
        sections=(Section(lines=(book.REPAIR_CHECKIN.format(counterpart=name), book.ENGAGE)),),
        buttons=(
            Button("Log call", "touch.call", f'call "{name}"', "primary"),
            Button("Log note", "touch.note", f'note "{name}":'),
            Button("Remind me in a week", "nudge.snooze", f"later check-in {number} week"),
        ),
        kind=nudge_kind,
        ref=f"negotiation:{number}",
    )


def compose_handoff(negotiation: Negotiation, sender: User, tz_reader: User) -> Message:
    reasons = []
    if negotiation.hard_win:
        reasons.append("it was a hard win")
    if negotiation.sentiment is not None:
        reasons.append(f"their sentiment was {negotiation.sentiment}/5")
    reason = ", ".join(reasons) or "worth knowing before you talk to them"
    when = negotiation.starts_at.astimezone(n.user_zone(tz_reader)).strftime("%a %d %b")
    lines = [
        book.HANDOFF.format(
            sender=sender.display_name or sender.external_id,
            counterpart=negotiation.counterpart.name,
            number=negotiation.number,
            when=when,
            reason=reason,
        )
    ]
    if negotiation.notes:
        lines.append(f"Notes: {negotiation.notes}")
    if negotiation.observations:
        lines.append(f"Observations: {negotiation.observations}")
    return Message(
        text=f"Hand-off: {negotiation.counterpart.name}",
        sections=(Section(lines=tuple(lines)),),
        kind=HANDOFF,
        ref=f"handoff:{negotiation.id}",
    )
