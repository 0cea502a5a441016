"""Relationship care between and around deals: touchpoints, coffee, long-term counterparts and the weekly
stay-in-touch list, the lever of links, issues on the table, hand-off notes and hard-win repair."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from coaching.models import Counterpart, Handoff, Negotiation, NegotiationIssue, Nudge, Touchpoint, User
from coaching.nudges import HANDOFF, REPAIR_CHECKIN, REPAIR_NOTE, STAY_IN_TOUCH
from coaching.parser import USAGE, CommandError, command_text, quoted
from coaching.ports import Address
from coaching.room import Composed, Composer, Handler, Skip, Turn, check_moment
from coaching.texts import day_text, reading_lines, when_soon, when_text

SOON = 0.7  # a counterpart is listed from 70% of the contact gap (21 of 30 days), flagged past all of it
MAX_LISTED = 10


# -- touchpoints and coffee --------------------------------------------------------------------------


async def record_touchpoint(turn: Turn, command: c.RecordTouchpoint) -> Message:
    name = " ".join(command.counterpart.split())
    if not name:
        raise CommandError("Who was it with?", USAGE[command.kind].usage)
    note = (command.note or "").strip()[:4000] or None

    def words(other: str) -> str:
        return f"{command.kind} {quoted(other)}" + (f": {note}" if note else "")

    counterpart = await known.resolve(turn, name, words=words, exact=command.exact, creates=True)
    if isinstance(counterpart, Message):
        return counterpart
    now = turn.now
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
    counterpart = await known.resolve(
        turn,
        name,
        words=lambda other: command_text(replace(command, counterpart=other), turn.context),
        exact=command.exact,
        creates=True,
    )
    if isinstance(counterpart, Message):
        return counterpart
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
    """``counterpart <name> long-term on|off``: the rep's own flag (a colleague's counterpart of the same name is
    theirs, and stays as they set it)."""
    flag = "on" if command.long_term else "off"
    counterpart = await known.resolve(
        turn,
        command.counterpart,
        words=lambda other: f"counterpart {quoted(other)} long-term {flag}",
        exact=command.exact,
        creates=True,
    )
    if isinstance(counterpart, Message):
        return counterpart
    if not command.long_term:
        counterpart.long_term = False
        return Message(text=f"{counterpart.name} is no longer marked long-term.")
    await known.start_long_term(turn.session, turn.user, counterpart, turn.now)
    lines = (book.NUDGES_OFF,) if not turn.user.nudges_enabled else ()
    return Message(
        text=f"{counterpart.name} is a long-term relationship: I'll flag it when you've been out of touch "
        f"for {turn.timing.contact_gap.days} days. A call, a note or a card beats an automated email.",
        sections=(Section(lines=lines),) if lines else (),
    )


async def snooze_counterpart(turn: Turn, command: c.SnoozeCounterpart) -> Message:
    counterpart = await known.resolve(
        turn,
        command.counterpart,
        words=lambda other: f"snooze {quoted(other)} {command.days}",
        exact=command.exact,
    )
    if isinstance(counterpart, Message):
        return counterpart
    counterpart.snoozed_until = turn.now + timedelta(days=command.days)
    return Message(text=f"I won't list {counterpart.name} as due for contact for {command.days} days.")


@dataclass(frozen=True)
class Due:
    counterpart: str
    last_contact: datetime | None
    overdue: bool  # past the whole contact gap


async def due_for_contact(session: AsyncSession, user: User, now: datetime, timing: n.Timing) -> list[Due]:
    """The rep's long-term counterparts coming due for contact: three aggregate queries."""
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
    counterparts = await session.scalars(
        select(Counterpart).where(
            Counterpart.owner_id == user.id,
            Counterpart.id.in_(last.keys()),
            Counterpart.long_term.is_(True),
            (Counterpart.snoozed_until.is_(None)) | (Counterpart.snoozed_until <= now),
        )
    )
    due = [
        Due(cp.name, last[cp.id], overdue=now - last[cp.id] > timing.contact_gap)
        for cp in counterparts
        if now - last[cp.id] > timing.contact_gap * SOON
    ]
    return sorted(due, key=lambda d: d.last_contact or datetime.min.replace(tzinfo=now.tzinfo))


def _due_lines(due: list[Due], now: datetime) -> tuple[str, ...]:
    return tuple(
        f"{d.counterpart} — last contact {(now - d.last_contact).days} days ago" + (" ⚠ overdue" if d.overdue else "")
        for d in due
        if d.last_contact
    )


async def home_section(turn: Turn) -> Message | None:
    """What an app home shows of staying in touch: who is due for contact, if anybody."""
    due = await due_for_contact(turn.session, turn.user, turn.now, turn.timing)
    if not due:
        return None
    return Message(text="Due for a personal touch", sections=(Section(lines=_due_lines(due, turn.now)),))


async def list_due(turn: Turn, command: c.ListDue) -> Message:
    """``due``: who I'm due (⚠ overdue) to contact, on demand — the weekly list's people, today."""
    due = await due_for_contact(turn.session, turn.user, turn.now, turn.timing)
    gap = turn.timing.contact_gap.days
    if not due:
        return Message(
            text="Nobody is due for a personal touch.",
            sections=(
                Section(
                    lines=(
                        f"I track your long-term counterparts: one is due after {round(gap * SOON)} days without "
                        f"contact, overdue after {gap}. Mark one with `counterpart <name> long-term on`.",
                    )
                ),
            ),
        )
    overdue = sum(1 for d in due if d.overdue)
    buttons = []
    for item in due[:5]:
        buttons.append(Button(f"Log call: {item.counterpart}", "touch.call", f"call {quoted(item.counterpart)}"))
    return Message(
        text=f"{len(due)} relationship(s) due for a personal touch" + (f", {overdue} overdue." if overdue else "."),
        sections=(Section(lines=(book.STAY_IN_TOUCH, *_due_lines(due, turn.now))),),
        buttons=tuple(buttons),
    )


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
        name = quoted(item.counterpart)
        buttons += [
            Button(f"Log call: {item.counterpart}", "touch.call", f"call {name}"),
            Button(f"Log note: {item.counterpart}", "touch.note", f"note {name}:"),
            Button(f"Snooze: {item.counterpart}", "touch.snooze", f"snooze {name} 14"),
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
    said = " ".join("yes" if answer else "no" for answer in command.answers)
    counterpart = await known.resolve(
        turn, command.counterpart, words=lambda other: f"links {quoted(other)} {said}", exact=command.exact
    )
    if isinstance(counterpart, Message):
        return counterpart
    counterpart.links = {**(counterpart.links or {}), role: list(command.answers)}
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
    workspace = await store.workspace_of(session, user)
    address = Address(workspace.platform, workspace.external_id, command.member)
    owner = await store.ensure_user(session, address=address, new=turn.defaults.new_user())
    if owner.id == user.id:
        raise CommandError("Hand it to the account owner, not to yourself.", USAGE["handoff"].usage)
    note = (command.note or "").strip()[:1000] or None
    sent = Handoff(negotiation_id=negotiation.id, recipient_id=owner.id, note=note, created_at=turn.now)
    session.add(sent)
    await session.flush()
    key = f"{HANDOFF}:{negotiation.id}:{owner.id}:{sent.id}"
    await n.enqueue(
        session, owner, [n.Planned(HANDOFF, key, turn.now, exempt_quiet=False)], negotiation_id=negotiation.id
    )
    shared = "your note and " if note else ""
    return Message(
        text=f"I'll send {owner.display_name or owner.external_id} a hand-off note about "
        f"{negotiation.counterpart.name} (#{negotiation.number}).",
        sections=(
            Section(
                lines=(f"They see {shared}the headline only (who, when, hard win or sentiment) — not your own notes.",)
            ),
        ),
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
            Button("Log call", "touch.call", f"call {quoted(name)}", "primary"),
            Button("Log note", "touch.note", f"note {quoted(name)}:"),
            Button("Remind me in a week", "nudge.snooze", f"later check-in {number} week"),
        ),
        kind=nudge.kind,
        ref=f"negotiation:{number}",
    )


async def compose_handoff(turn: Turn, nudge: Nudge) -> Composed:
    """The note to the account owner (the nudge's user), written in their time zone: the negotiation's headline
    and exactly the note the rep sent — none of the notes and observations the rep keeps for themselves."""
    negotiation = await _held(turn, nudge)
    if negotiation is None:
        return Skip("negotiation gone")
    parts = nudge.key.split(":")
    sent = await turn.session.get(Handoff, int(parts[3])) if len(parts) > 3 and parts[3].isdigit() else None
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
    if sent is not None and sent.note:
        lines.append(f"Their note: {sent.note}")
    return Message(
        text=f"Hand-off: {negotiation.counterpart.name}",
        sections=(Section(lines=tuple(lines)),),
        kind=HANDOFF,
        ref=f"handoff:{negotiation.id}",
    )


HANDLERS: dict[type[c.Command], Handler] = {
    c.ListDue: list_due,
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
