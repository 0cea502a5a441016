"""A rep's own counterpart directory: ``counterparts`` (everyone, at a glance), ``counterpart <name>`` (what I
know about them), ``counterpart <old> rename <new>`` and ``counterpart <a> merge <b>``.

Everything here reads and changes the asking rep's counterparts only (``Counterpart.owner_id``); a colleague's
counterpart of the same name is theirs. A near-miss name is asked about ("did you mean Initech?",
``coaching.counterparts.resolve``).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select, update

from coaching import commands as c
from coaching import counterparts as known
from coaching import store
from coaching.messages import Button, Message, Section
from coaching.models import Commitment, Counterpart, Negotiation, Touchpoint
from coaching.parser import USAGE, CommandError, quoted
from coaching.room import Composer, Handler, Turn
from coaching.texts import commitment_lines, day_text, when_text

SOON = 0.7  # as in the weekly stay-in-touch list: due from 70% of the contact gap, overdue past all of it
MAX_LISTED = 50


def _ago(now: datetime, then: datetime | None, tz: ZoneInfo) -> str:
    if then is None:
        return "no contact yet"
    days = (now - then).days
    if then > now:
        return f"next contact {day_text(then.astimezone(tz).date(), tz, now)}"
    return "last contact today" if days == 0 else f"last contact {days} day{'s' if days != 1 else ''} ago"


async def list_counterparts(turn: Turn, command: c.ListCounterparts) -> Message:
    """``counterparts``: name, last contact, long-term, due for contact, open commitments — four queries."""
    session, user, now = turn.session, turn.user, turn.now
    mine = (
        await session.scalars(
            select(Counterpart).where(Counterpart.owner_id == user.id).order_by(func.lower(Counterpart.name))
        )
    ).all()
    if not mine:
        return Message(text="No counterparts yet: they appear when you `log` a negotiation or a `call` with them.")
    negotiated = dict(
        (
            await session.execute(
                select(Negotiation.counterpart_id, func.max(Negotiation.starts_at))
                .where(Negotiation.owner_id == user.id, Negotiation.status != "cancelled", Negotiation.starts_at <= now)
                .group_by(Negotiation.counterpart_id)
            )
        ).all()
    )
    open_counts = {
        cp: (int(ours), int(theirs))
        for cp, ours, theirs in await session.execute(
            select(
                Commitment.counterpart_id,
                func.sum(case((Commitment.side == "ours", 1), else_=0)),
                func.sum(case((Commitment.side == "theirs", 1), else_=0)),
            )
            .where(Commitment.owner_id == user.id, Commitment.status == "open")
            .group_by(Commitment.counterpart_id)
        )
    }
    gap = turn.timing.contact_gap
    lines = []
    for counterpart in mine[:MAX_LISTED]:
        last = max(
            (x for x in (negotiated.get(counterpart.id), counterpart.last_touchpoint_at) if x and x <= now),
            default=None,
        )
        parts = [f"{counterpart.name} — {_ago(now, last, turn.tz)}"]
        if counterpart.long_term:
            parts.append("long-term")
            if last is not None and now - last > gap:
                parts.append("⚠ overdue for contact")
            elif last is not None and now - last > gap * SOON:
                parts.append("due for contact")
        ours, theirs = open_counts.get(counterpart.id, (0, 0))
        if ours or theirs:
            parts.append(f"open commitments: {ours} ours, {theirs} theirs")
        lines.append(" · ".join(parts))
    if len(mine) > MAX_LISTED:
        lines.append(f"…and {len(mine) - MAX_LISTED} more.")
    return Message(
        text=f"Your counterparts ({len(mine)}):",
        sections=(Section(lines=tuple(lines)), Section(lines=("`counterpart <name>` shows one in full.",))),
    )


async def show_counterpart(turn: Turn, command: c.ShowCounterpart) -> Message:
    """``counterpart <name>``: history and outcomes, the concession ledger, open commitments both ways, notes,
    and the lever-of-links score."""
    session, user, tz = turn.session, turn.user, turn.tz
    counterpart = await known.resolve(
        turn, command.counterpart, words=lambda other: f"counterpart {quoted(other)}", exact=command.exact
    )
    if isinstance(counterpart, Message):
        return counterpart
    history = (
        await session.scalars(
            select(Negotiation)
            .where(Negotiation.owner_id == user.id, Negotiation.counterpart_id == counterpart.id)
            .order_by(Negotiation.starts_at.desc())
            .limit(10)
        )
    ).all()
    sections = []
    if history:
        sections.append(Section(heading="Negotiations", lines=tuple(_history_line(x, turn) for x in history)))
    else:
        sections.append(
            Section(heading="Negotiations", lines=(f"None logged yet: `log {quoted(counterpart.name)} …`",))
        )
    ledger = known.ledger_lines(await known.ledger(session, user, counterpart.id), counterpart.name)
    if ledger:
        sections.append(Section(heading="Concession ledger", lines=ledger))
    commitments = await store.open_commitments(session, owner_id=user.id, counterpart_id=counterpart.id)
    if commitments:
        sections.append(Section(heading="Open commitments", lines=commitment_lines(commitments, tz, turn.now)))
    notes = [
        note
        for note in (
            *(x.observations for x in history if x.observations),
            *(
                await session.scalars(
                    select(Touchpoint.note)
                    .where(
                        Touchpoint.user_id == user.id,
                        Touchpoint.counterpart_id == counterpart.id,
                        Touchpoint.note.is_not(None),
                    )
                    .order_by(Touchpoint.at.desc())
                    .limit(5)
                )
            ),
        )
        if note
    ]
    if notes:
        sections.append(Section(heading="What you know about them", lines=tuple(notes[:8])))
    links = known.leverage_lines(user.role, known.links_for(user, counterpart))
    sections.append(Section(heading=f"Lever of links ({user.role})", lines=links))
    flag = "long-term" if counterpart.long_term else "not marked long-term"
    toggle = "off" if counterpart.long_term else "on"
    name = quoted(counterpart.name)
    return Message(
        text=f"{counterpart.name} — {flag}, {_ago(turn.now, counterpart.last_touchpoint_at, turn.tz)}.",
        sections=tuple(sections),
        buttons=(
            Button("Log call", "touch.call", f"call {name}"),
            Button(f"Long-term {toggle}", "counterpart.long_term", f"counterpart {name} long-term {toggle}"),
        ),
        ref=f"counterpart:{counterpart.id}",
    )


def _history_line(negotiation: Negotiation, turn: Turn) -> str:
    parts = [f"#{negotiation.number} {when_text(negotiation.starts_at, turn.tz, turn.now)}"]
    if negotiation.status == "done":
        parts.append(negotiation.outcome or "held")
        if negotiation.sentiment is not None:
            parts.append(f"sentiment {negotiation.sentiment}/5")
        if negotiation.hard_win:
            parts.append("hard win")
    elif negotiation.status == "cancelled":
        parts.append("cancelled")
    else:
        parts.append("upcoming" if negotiation.starts_at > turn.now else "awaiting outcome")
    return " — ".join(parts)


async def rename(turn: Turn, command: c.RenameCounterpart) -> Message:
    new = " ".join(command.new_name.split())
    if not new:
        raise CommandError("Rename it to what?", USAGE["counterpart"].usage)
    counterpart = await known.resolve(
        turn,
        command.counterpart,
        words=lambda other: f"counterpart {quoted(other)} rename {quoted(new)}",
        exact=command.exact,
    )
    if isinstance(counterpart, Message):
        return counterpart
    taken = await store.find_counterpart(turn.session, owner_id=turn.user.id, name=new)
    if taken is not None and taken.id != counterpart.id:
        raise CommandError(
            f"You already have {taken.name}. To make them one: `counterpart {quoted(counterpart.name)} merge "
            f"{quoted(taken.name)}`."
        )
    old = counterpart.name
    counterpart.name, counterpart.name_key = new, store.name_key(new)
    return Message(text=f"Renamed {old} to {new}; their history, commitments and notes came along.")


async def merge(turn: Turn, command: c.MergeCounterparts) -> Message:
    """``counterpart <a> merge <b>``: everything about a moves to b (negotiations, commitments, touchpoints,
    the long-term flag and lever-of-links answers b lacks), and a is gone."""
    session = turn.session
    into_words = quoted(command.into) if command.into_exact else command.into
    source = await known.resolve(
        turn,
        command.counterpart,
        words=lambda other: f"counterpart {quoted(other)} merge {into_words}",
        exact=command.exact,
    )
    if isinstance(source, Message):
        return source
    target = await known.resolve(
        turn,
        command.into,
        words=lambda other: f"counterpart {quoted(source.name)} merge {quoted(other)}",
        exact=command.into_exact,
    )
    if isinstance(target, Message):
        return target
    if source.id == target.id:
        raise CommandError(f"{source.name} and {target.name} are the same counterpart.")
    moved = {}
    for model, owner in ((Negotiation, Negotiation.owner_id), (Commitment, Commitment.owner_id)):
        result = await session.execute(
            update(model)
            .where(owner == turn.user.id, model.counterpart_id == source.id)
            .values(counterpart_id=target.id)
            .execution_options(synchronize_session=False)
        )
        moved[model] = result.rowcount or 0
    touched = await session.execute(
        update(Touchpoint)
        .where(Touchpoint.user_id == turn.user.id, Touchpoint.counterpart_id == source.id)
        .values(counterpart_id=target.id)
        .execution_options(synchronize_session=False)
    )
    target.long_term = target.long_term or source.long_term
    target.links = target.links or source.links
    for attribute in ("snoozed_until", "last_touchpoint_at"):
        values = [x for x in (getattr(target, attribute), getattr(source, attribute)) if x is not None]
        setattr(target, attribute, max(values) if values else None)
    name = source.name
    await session.delete(source)
    counts = (
        f"{moved[Negotiation]} negotiation(s), {moved[Commitment]} commitment(s), {touched.rowcount or 0} touchpoint(s)"
    )
    return Message(text=f"Merged {name} into {target.name}: {counts} moved. {name} is gone from your counterparts.")


HANDLERS: dict[type[c.Command], Handler] = {
    c.ListCounterparts: list_counterparts,
    c.ShowCounterpart: show_counterpart,
    c.RenameCounterpart: rename,
    c.MergeCounterparts: merge,
}
COMPOSERS: dict[str, Composer] = {}
