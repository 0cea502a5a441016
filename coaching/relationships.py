"""Relationship care between and around deals: touchpoints, coffee, long-term counterparts and the weekly
stay-in-touch list, the lever of links, issues on the table, hand-off notes and hard-win repair."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import commands as c
from coaching import counterparts as known
from coaching import nudges as n
from coaching import playbook as book
from coaching import store
from coaching.digest import Week
from coaching.messages import Button, Message, Section
from coaching.models import Counterpart, Negotiation, NegotiationIssue, Nudge, Relationship, Touchpoint, User
from coaching.nudges import HANDOFF, REPAIR_CHECKIN, REPAIR_NOTE, STAY_IN_TOUCH
from coaching.parser import USAGE, CommandError
from coaching.ports import Address
from coaching.room import Composed, Composer, Handler, Skip, Turn, check_moment
from coaching.texts import day_text, reading_lines, when_soon, when_text

SOON = 0.7  # a counterpart is listed from 70% of the contact gap (21 of 30 days), flagged past all of it
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


# -- touchpoints and coffee --------------------------------------------------------------------------


async def record_touchpoint(turn: Turn, command: c.RecordTouchpoint) -> Message:
    name = " ".join(command.counterpart.split())
    if not name:
        raise CommandError("Who was it with?", USAGE[command.kind].usage)
    counterpart = await store.counterpart(turn.session, workspace_id=turn.user.workspace_id, name=name)
    now = turn.now
    note = (command.note or "").strip()[:4000] or None
    turn.session.add(
        Touchpoint(
            created_at=now, user_id=turn.user.id, counterpart_id=counterpart.id, kind=command.kind, at=now, note=note
        )
    )
    store.touch(counterpart, now)
    what = "Call" if command.kind == "call" else "Note"
    remembered = " I'll bring it up before your next negotiation with them." if note else ""
    return Message(text=f"{what} with {counterpart.name} recorded.{remembered}", ref=f"counterpart:{counterpart.id}")


async def record_coffee(turn: Turn, command: c.RecordCoffee) -> Message:
    name = " ".join(command.counterpart.split())
    if not name or len(name) > 200:
        raise CommandError("Who did you have coffee with?", USAGE["coffee"].usage)
    now = turn.now
    at = command.when or now
    check_moment(turn, at, "when")
    counterpart = await store.counterpart(turn.session, workspace_id=turn.user.workspace_id, name=name)
    turn.session.add(
        Touchpoint(created_at=now, user_id=turn.user.id, counterpart_id=counterpart.id, kind="coffee", at=at)
    )
    store.touch(counterpart, at)
    planned = at > now
    if planned:
        text = f"Coffee chat with {counterpart.name} planned for {when_soon(at, turn.tz, now)}. Enjoy it — no agenda."
    elif command.when is not None:
        text = f"Coffee chat with {counterpart.name} on {when_text(at, turn.tz, now)} recorded."
        text += " Relationships beyond the deal are leverage."
    else:
        text = f"Coffee chat with {counterpart.name} recorded. Relationships beyond the deal are leverage."
    notes = reading_lines(command.notes)
    return Message(text=text, sections=(Section(lines=notes),) if notes else (), ref=f"counterpart:{counterpart.id}")


# -- long-term counterparts and staying in touch -----------------------------------------------------


async def mark_counterpart(turn: Turn, command: c.MarkCounterpart) -> Message:
    """``counterpart <name> long-term on|off``."""
    counterpart = await store.counterpart(turn.session, workspace_id=turn.user.workspace_id, name=command.counterpart)
    if command.long_term:
        await known.start_long_term(turn.session, turn.user, counterpart, turn.now)
    else:
        counterpart.long_term = False
    if command.long_term:
        return Message(
            text=f"{counterpart.name} is a long-term relationship: I'll flag it when you've been out of touch "
            f"for {turn.timing.contact_gap.days} days. A call, a note or a card beats an automated email."
        )
    return Message(text=f"{counterpart.name} is no longer marked long-term.")


async def snooze_counterpart(turn: Turn, command: c.SnoozeCounterpart) -> Message:
    counterpart = await known_counterpart(turn.session, turn.user, command.counterpart)
    link = await relationship(turn.session, turn.user, counterpart)
    link.snoozed_until = turn.now + timedelta(days=command.days)
    return Message(text=f"I won't list {counterpart.name} as due for contact for {command.days} days.")


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


async def home_section(turn: Turn) -> Message | None:
    """What an app home shows of staying in touch: who is due for contact, if anybody."""
    now = turn.now
    due = await due_for_contact(turn.session, turn.user, now, turn.timing)
    if not due:
        return None
    lines = tuple(
        f"{d.counterpart} — last contact {(now - d.last_contact).days} days ago" + (" ⚠" if d.overdue else "")
        for d in due
        if d.last_contact
    )
    return Message(text="Due for a personal touch", sections=(Section(lines=lines),))


async def chain_stay_in_touch(turn: Turn, nudge: Nudge) -> None:
    """This week's list lines up next week's."""
    await n.enqueue_stay_in_touch(turn.session, turn.user, Week.parse(nudge.key.rsplit(":", 1)[1]).shift(1))


async def compose_stay_in_touch(turn: Turn, nudge: Nudge) -> Composed:
    now = turn.now
    due = await due_for_contact(turn.session, turn.user, now, turn.timing)
    if not due:
        return Skip("nobody due for contact")
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


# -- lever of links and issues on the table ----------------------------------------------------------


async def answer_links(turn: Turn, command: c.AnswerLinks) -> Message:
    role = turn.user.role
    questions = book.LEVERAGE_QUESTIONS[role]
    if len(command.answers) != len(questions):
        raise CommandError(
            f"Answer all {len(questions)} {role} questions with yes or no, in order (`prep <id>` lists them).",
            USAGE["links"].usage,
        )
    counterpart = await known_counterpart(turn.session, turn.user, command.counterpart)
    link = await relationship(turn.session, turn.user, counterpart)
    link.links = {**(link.links or {}), role: list(command.answers)}
    score = sum(command.answers)
    return Message(
        text=f"Lever of links with {counterpart.name}: {score}/{len(questions)}.",
        sections=(Section(lines=known.leverage_lines(role, list(command.answers))),),
    )


async def table_issues(turn: Turn, command: c.TableIssues) -> Message:
    negotiation = await turn.negotiation(command.negotiation)
    added = []
    for raw in command.issues:
        kind, name = known.classify(raw)
        await store.insert_ignore(
            turn.session,
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


# -- hand-off and hard-win repair --------------------------------------------------------------------


async def handoff(turn: Turn, command: c.Handoff) -> Message:
    session, user = turn.session, turn.user
    negotiation = await turn.negotiation(command.negotiation)
    workspace = user.workspace
    address = Address(workspace.platform, workspace.external_id, command.member)
    owner = await store.ensure_user(session, address=address, new=turn.defaults.new_user())
    if owner.id == user.id:
        raise CommandError("Hand it to the account owner, not to yourself.", USAGE["handoff"].usage)
    note = (command.note or "").strip()[:1000]
    key = f"{HANDOFF}:{negotiation.id}:{owner.id}"
    await n.enqueue(
        session, owner, [n.Planned(HANDOFF, key, turn.now, exempt_quiet=False)], negotiation_id=negotiation.id
    )
    if note:
        negotiation.observations = ((negotiation.observations or "") + f"\nHand-off note: {note}").strip()
    return Message(
        text=f"I'll send {owner.display_name or owner.external_id} a hand-off note about "
        f"{negotiation.counterpart.name} (#{negotiation.number}).",
        ref=f"negotiation:{negotiation.number}",
    )


async def _held(turn: Turn, nudge: Nudge) -> Negotiation | None:
    """The negotiation a repair or hand-off nudge is about, unless it is gone or was called off."""
    negotiation = await turn.session.get(Negotiation, nudge.negotiation_id) if nudge.negotiation_id else None
    return None if negotiation is None or negotiation.status == "cancelled" else negotiation


async def compose_repair(turn: Turn, nudge: Nudge) -> Composed:
    negotiation = await _held(turn, nudge)
    if negotiation is None:
        return Skip("negotiation gone")
    name, number = negotiation.counterpart.name, negotiation.number
    if nudge.kind == REPAIR_NOTE:
        if (
            negotiation.followup_sent_at is not None
            and negotiation.done_at
            and negotiation.followup_sent_at >= negotiation.done_at
        ):
            return Skip("note already sent")  # they already sent one after the outcome
        return Message(
            text=f"A personal note to {name}?",
            sections=(Section(lines=(book.REPAIR_NOTE.format(counterpart=name),)),),
            buttons=(
                Button("Note sent", "negotiation.followup", f"followup {number}", "primary"),
                Button("Remind me tomorrow", "nudge.snooze", f"later note {number} tomorrow"),
            ),
            kind=nudge.kind,
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
        kind=nudge.kind,
        ref=f"negotiation:{number}",
    )


async def compose_handoff(turn: Turn, nudge: Nudge) -> Composed:
    """The note to the account owner (the nudge's user), written in their time zone."""
    negotiation = await _held(turn, nudge)
    if negotiation is None:
        return Skip("negotiation gone")
    sender = await turn.session.get(User, negotiation.owner_id)
    assert sender is not None
    reasons = []
    if negotiation.hard_win:
        reasons.append("it was a hard win")
    if negotiation.sentiment is not None:
        reasons.append(f"their sentiment was {negotiation.sentiment}/5")
    reason = ", ".join(reasons) or "worth knowing before you talk to them"
    when = day_text(negotiation.starts_at.astimezone(turn.tz).date(), turn.tz, turn.now)
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


HANDLERS: dict[type[c.Command], Handler] = {
    c.RecordTouchpoint: record_touchpoint,
    c.RecordCoffee: record_coffee,
    c.MarkCounterpart: mark_counterpart,
    c.SnoozeCounterpart: snooze_counterpart,
    c.AnswerLinks: answer_links,
    c.TableIssues: table_issues,
    c.Handoff: handoff,
}
COMPOSERS: dict[str, Composer] = {
    STAY_IN_TOUCH: Composer(compose_stay_in_touch, chain=chain_stay_in_touch),
    REPAIR_NOTE: Composer(compose_repair),
    REPAIR_CHECKIN: Composer(compose_repair),
    HANDOFF: Composer(compose_handoff),
}
