"""A person's settings (time zone, pre-call lead, quiet hours, nudges, role, day/month order) and re-planning
their nudges when those change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from coaching import commands as c
from coaching import nudges as n
from coaching import store
from coaching.messages import Message, Section
from coaching.models import Commitment, Negotiation, User
from coaching.parser import USAGE, CommandError, quiet_hours
from coaching.room import Composer, Handler, Turn
from coaching.timelang import DATE_ORDERS


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
    if command.dates is not None:
        if command.dates not in DATE_ORDERS:
            raise CommandError("Dates are `dmy`, `mdy` or `ymd`.", USAGE["settings"].usage)
        user.date_order = command.dates
        changed.append("dates")
    if changed and changed != ["dates"]:  # the order of dates changes no reminder
        await replan(turn)
    quiet = f"{user.quiet_start}–{user.quiet_end}" if user.quiet_start else "off"
    facts = (
        ("Time zone", user.timezone + ("" if user.timezone_set_by_user else " (from your profile)")),
        ("Pre-call lead", f"{user.lead_minutes} min"),
        ("Quiet hours", quiet + " (pre-call reminders still come)"),
        ("Nudges", "on" if user.nudges_enabled else "off"),
        ("Role", user.role),
        ("Dates", _dates(user)),
    )
    text = ("Updated " + ", ".join(changed) + ".") if changed else "Your settings:"
    return Message(text=text, sections=(Section(facts=facts),))


_ORDER_EXAMPLES = {
    "dmy": "day first: 6/12 is 6 December",
    "mdy": "month first: 6/12 is 12 June",
    "ymd": "year, month, day: 6/12 is 12 June",
}


def _dates(user: User) -> str:
    """How slashed dates are read, and where that comes from."""
    order = store.date_order(user)
    origin = "" if user.date_order else (" (from your language)" if user.locale else " (from your time zone)")
    return f"{order}, {_ORDER_EXAMPLES[order]}{origin}; dotted dates (6.12.) are always day first"


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
