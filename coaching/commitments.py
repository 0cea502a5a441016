"""Commitments: what was promised, ours and theirs — commit, list, kept/missed, their snoozes, and the
reminders the day before, on the day and once when overdue."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import delete, select

from coaching import commands as c
from coaching import nudges as n
from coaching import playbook as book
from coaching import store
from coaching.messages import Button, Message, Section
from coaching.models import Commitment, Nudge
from coaching.parser import USAGE, CommandError, notes_of, read_due
from coaching.room import Composed, Composer, Handler, Skip, Turn, check_moment
from coaching.texts import arrival_note, commitment_lines, due_text, late, reading_lines, remind_again, when_text

_REMINDER_PHRASES = {
    n.COMMITMENT_BEFORE: "the day before",
    n.COMMITMENT_DUE: "on the day",
    n.COMMITMENT_OVERDUE: "once if it is overdue",
}
_TIMED_PHRASES = {  # when it is due at a time: say the times
    n.COMMITMENT_BEFORE: "the day before",
    n.COMMITMENT_DUE: "at {at}",
    n.COMMITMENT_OVERDUE: "once at {at} if it is overdue",
}


def _buttons(commitment: Commitment) -> tuple[Button, ...]:
    return (
        Button("Kept", "commitment.kept", f"kept {commitment.number}", "primary"),
        Button("Missed", "commitment.missed", f"missed {commitment.number}", "danger"),
    )


async def commit(turn: Turn, command: c.AddCommitment) -> Message:
    session, user, now, tz = turn.session, turn.user, turn.now, turn.tz
    negotiation = await turn.negotiation(command.negotiation)
    if command.due_words:  # a form's typed due: the same reading as `by …`
        moment = read_due(command.due_words, turn.context)
        due_at = moment.at if moment.timed else None
        command = replace(command, due=moment.at.astimezone(tz).date(), due_at=due_at, notes=notes_of(moment))
    due_on = command.due_at.astimezone(tz).date() if command.due_at else command.due
    if command.due_at is not None:
        check_moment(turn, command.due_at, "due")
    elif due_on is not None:
        check_moment(turn, datetime.combine(due_on, turn.timing.commitment_hour, tzinfo=tz), "due")
    if command.side not in ("ours", "theirs"):
        raise CommandError("A commitment is ours or theirs.", USAGE["commit"].usage)
    text = " ".join(command.text.split())
    if not text:
        raise CommandError("What was promised?", USAGE["commit"].usage)
    commitment = Commitment(
        created_at=now,
        owner_id=user.id,
        number=await store.next_number(session, Commitment, owner_id=user.id),
        negotiation_id=negotiation.id,
        counterpart_id=negotiation.counterpart_id,
        side=command.side,
        text=text[:1000],
        due_on=due_on,
        due_at=command.due_at,
        status="open",
    )
    session.add(commitment)
    await session.flush()
    planned = await n.schedule_commitment(session, commitment, user, now=now, timing=turn.timing)
    who = "You" if command.side == "ours" else negotiation.counterpart.name
    due = f" by {due_text(commitment, tz, now)}" if due_on else ""
    lines = list(reading_lines(command.notes))
    if planned and not user.nudges_enabled:
        lines.append(book.NUDGES_OFF)
    elif planned:
        lines.append(
            "I'll remind you " + ", ".join([await _reminder_phrase(turn, p, commitment) for p in planned]) + "."
        )
    elif due_on is None:
        lines.append("No due date, so no reminders: add one with `by friday` next time.")
    return Message(
        text=f"Commitment #{commitment.number} ({command.side}): {who} → {text}{due}.",
        sections=(Section(lines=tuple(lines)),) if lines else (),
        buttons=_buttons(commitment),
        ref=f"commitment:{commitment.number}",
    )


async def _reminder_phrase(turn: Turn, planned: n.Planned, commitment: Commitment) -> str:
    """``on the day``, or for a due time ``at Thu 03 Dec 16:00`` — when it will really come."""
    if commitment.due_at is None:
        return _REMINDER_PHRASES[planned.kind]
    arrival = await n.arrives(turn.session, turn.user, planned, budget=turn.defaults.daily_nudges)
    at = when_text(arrival.at, turn.tz, turn.now) + arrival_note(arrival)
    return _TIMED_PHRASES[planned.kind].format(at=at)


async def list_commitments(turn: Turn, command: c.ListCommitments) -> Message:
    tz, now = turn.tz, turn.now
    rows = await store.open_commitments(turn.session, owner_id=turn.user.id)
    if not rows:
        return Message(text="No open commitments. Record one with `commit <negotiation id> ours|theirs <what>`.")
    sections = []
    for side, heading in (("ours", "Ours (what we promised)"), ("theirs", "Theirs (what they promised)")):
        lines = commitment_lines((x for x in rows if x.side == side), tz, now)
        if lines:
            sections.append(Section(heading=heading, lines=lines))
    today = now.astimezone(tz).date()
    overdue = sum(1 for x in rows if late(x, now, today))
    summary = f"{len(rows)} open commitment" + ("s" if len(rows) != 1 else "")
    if overdue:
        summary += f", {overdue} overdue"
    return Message(text=summary + ". Mark them with `kept <id>` or `missed <id>`.", sections=tuple(sections))


async def _own(turn: Turn, number: int) -> Commitment | None:
    return await turn.session.scalar(
        select(Commitment).where(Commitment.owner_id == turn.user.id, Commitment.number == number)
    )


async def resolve(turn: Turn, command: c.ResolveCommitment) -> Message:
    """``kept <id>`` / ``missed <id>``."""
    commitment = await _own(turn, command.commitment)
    if commitment is None:
        raise CommandError(f"You have no commitment #{command.commitment}. Type `commitments` to see yours.")
    status = "kept" if command.kept else "missed"
    if commitment.status == status:
        return Message(text=f"Commitment #{commitment.number} is already marked {status}.")
    commitment.status = status
    commitment.resolved_at = turn.now
    await n.drop_pending(turn.session, commitment_id=commitment.id)
    text = f"Commitment #{commitment.number} marked {status}: {commitment.text}."
    lines: tuple[str, ...] = ()
    if not command.kept and commitment.side == "ours":
        lines = ("Tell them openly and offer a new date — trust survives a delay, not silence.",)
    elif not command.kept:
        lines = ("Raise it in your next conversation, calmly: what got in the way, and what now?",)
    return Message(text=text, sections=(Section(lines=lines),) if lines else (), ref=f"commitment:{commitment.number}")


async def snooze(turn: Turn, command: c.RemindLater) -> Message:
    """``later commitment <id> …``: the reminder again, later (a new outbox row; the sent one stays sent)."""
    session, user = turn.session, turn.user
    # a moment the person named ("later commitment 2 friday 10am") or a delay
    due = command.at or n.snoozed_until(turn.now, turn.tz, command.minutes, turn.timing)
    check_moment(turn, due, "at")
    commitment = await _own(turn, command.number)
    if commitment is None or commitment.status != "open":
        raise CommandError(f"You have no open commitment #{command.number}.", USAGE["later"].usage)
    kind = n.commitment_stage(commitment, due, turn.tz)
    planned = n.Planned(kind, f"{kind}:{commitment.id}:later:{int(turn.now.timestamp())}", due)
    # The snoozed reminder stands in for any regular one due by then: one message, not two.
    await session.execute(
        delete(Nudge).where(
            Nudge.commitment_id == commitment.id,
            Nudge.status == "pending",
            Nudge.claimed_by.is_(None),
            Nudge.due_at <= due,
        )
    )
    await n.enqueue(session, user, [planned], commitment_id=commitment.id, negotiation_id=commitment.negotiation_id)
    arrival = await n.arrives(session, user, planned, budget=turn.defaults.daily_nudges)
    notes = reading_lines(command.notes)
    return Message(
        text=remind_again(f"commitment #{commitment.number}", arrival, turn.tz, turn.now, nudges=user.nudges_enabled),
        sections=(Section(lines=notes),) if notes else (),
        ref=f"commitment:{commitment.number}",
    )


async def compose_nudge(turn: Turn, nudge: Nudge) -> Composed:
    """The day before, on the day, or overdue: what was promised, with buttons to settle it."""
    commitment = await turn.session.get(Commitment, nudge.commitment_id) if nudge.commitment_id else None
    if commitment is None or commitment.status != "open":
        return Skip("commitment resolved")
    stage = nudge.kind.removeprefix("commitment_")
    templates = book.COMMITMENT_OURS if commitment.side == "ours" else book.COMMITMENT_THEIRS
    counterpart = commitment.negotiation.counterpart.name
    due = due_text(commitment, turn.tz, turn.now)
    at = f" at {commitment.due_at.astimezone(turn.tz):%H:%M}" if commitment.due_at else ""
    text = templates[stage].format(counterpart=counterpart, text=commitment.text, due=due, at=at)
    origin = f"Commitment #{commitment.number}, from negotiation #{commitment.negotiation.number}."
    return Message(
        text=text,
        sections=(Section(lines=(origin,)),),
        buttons=(
            *_buttons(commitment),
            Button("Snooze to tomorrow", "commitment.snooze", f"later commitment {commitment.number} tomorrow"),
        ),
        kind=nudge.kind,
        ref=f"commitment:{commitment.number}",
    )


HANDLERS: dict[type[c.Command], Handler] = {
    c.AddCommitment: commit,
    c.ListCommitments: list_commitments,
    c.ResolveCommitment: resolve,
}
SNOOZES: dict[str, Handler] = {"commitment": snooze}
COMPOSERS: dict[str, Composer] = {kind: Composer(compose_nudge) for kind in n.COMMITMENT_KINDS}
