"""A person's settings (time zone, pre-call lead, quiet hours, nudges, role) and re-planning their nudges
when those change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from coaching import commands as c
from coaching import nudges as n
from coaching import store
from coaching.messages import Message, Section
from coaching.models import Commitment, Negotiation
from coaching.parser import USAGE, CommandError, quiet_hours
from coaching.room import Composer, Handler, Turn


async def change_settings(turn: Turn, command: c.ChangeSettings) -> Message:
    """``settings`` with no options shows them; each given option changes one."""
    user = turn.user
    changed = []
    if command.timezone is not None:
        if store.zone(command.timezone) is None:
            raise CommandError(
                f"“{command.timezone}” is not a time zone I know. Use an IANA name like Europe/Berlin.",
                USAGE["settings"].usage,
            )
        user.timezone, user.timezone_set_by_user = command.timezone, True
        changed.append("time zone")
    if command.lead_minutes is not None:
        user.lead_minutes = command.lead_minutes
        changed.append("lead time")
    if command.quiet is not None:
        user.quiet_start, user.quiet_end = quiet_hours(command.quiet) or (None, None)
        changed.append("quiet hours")
    if command.nudges is not None:
        user.nudges_enabled = command.nudges
        changed.append("nudges")
    if command.role is not None:
        user.role = command.role
        changed.append("role")
    if changed:
        await replan(turn)
    quiet = f"{user.quiet_start}–{user.quiet_end}" if user.quiet_start else "off"
    facts = (
        ("Time zone", user.timezone + ("" if user.timezone_set_by_user else " (from your profile)")),
        ("Pre-call lead", f"{user.lead_minutes} min"),
        ("Quiet hours", quiet + " (pre-call reminders still come)"),
        ("Nudges", "on" if user.nudges_enabled else "off"),
        ("Role", user.role),
    )
    text = ("Updated " + ", ".join(changed) + ".") if changed else "Your settings:"
    return Message(text=text, sections=(Section(facts=facts),))


async def replan(turn: Turn) -> None:
    """Settings changed: re-plan the pending nudges of everything still ahead (in the new zone and hours)."""
    session, user, now = turn.session, turn.user, turn.now
    await session.flush()
    await n.drop_pending(session, user_id=user.id, kinds=n.NEGOTIATION_KINDS + n.COMMITMENT_KINDS)
    ahead = await session.scalars(
        select(Negotiation).where(Negotiation.owner_id == user.id, Negotiation.status == "scheduled")
    )
    for negotiation in ahead:
        if negotiation.starts_at > now - timedelta(days=2):
            await n.schedule_negotiation(session, negotiation, user, now=now, timing=turn.timing)
    open_commitments = await session.scalars(
        select(Commitment).where(Commitment.owner_id == user.id, Commitment.status == "open")
    )
    for commitment in open_commitments:
        await n.schedule_commitment(session, commitment, user, now=now, timing=turn.timing)


HANDLERS: dict[type[c.Command], Handler] = {c.ChangeSettings: change_settings}
COMPOSERS: dict[str, Composer] = {}
