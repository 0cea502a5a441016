"""Data rights: export my data, forget me."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import commands as c
from coaching import nudges as n
from coaching.messages import Attachment, Button, Message, Section
from coaching.models import (
    CalendarFeed,
    CalendarImport,
    Commitment,
    Counterpart,
    CounterpartDomain,
    Handoff,
    IgnoredSeries,
    Negotiation,
    NegotiationIssue,
    Nudge,
    Team,
    TeamInvitation,
    TeamMember,
    Touchpoint,
    User,
)
from coaching.nudges import EXPORT
from coaching.room import Composed, Composer, Handler, Turn

FORGOTTEN = "forgotten"  # the kind of forget-me's final reply: adapters drop what they keep of the person too
_SKIP = {"id", "owner_id", "user_id", "workspace_id", "conversation_ref", "dm_channel", "recipient_id", "team_id"}
_SKIP |= {"feed_id", "claimed_by"}


def _row(obj: Any, **extra: Any) -> dict[str, Any]:
    out = {}
    for column in obj.__table__.columns:
        if column.name in _SKIP:
            continue
        value = getattr(obj, column.name)
        out[column.name] = value.isoformat() if isinstance(value, datetime | date) else value
    return {**out, **extra}


async def _who(session: AsyncSession, user_id: int) -> str | None:
    user = await session.get(User, user_id)
    return (user.display_name or user.external_id) if user else None


async def _lead_of(session: AsyncSession, team_id: int) -> str | None:
    lead_id = await session.scalar(select(Team.lead_id).where(Team.id == team_id))
    return await _who(session, lead_id) if lead_id else None


async def request_export(turn: Turn, command: c.ExportMyData) -> Message:
    """The export goes out through the outbox as a direct message with a file (Slack replies can't carry one)."""
    now, user = turn.now, turn.user
    key = f"{EXPORT}:{user.id}:{int(now.timestamp())}"
    await n.enqueue(turn.session, user, [n.Planned(EXPORT, key, now, exempt_quiet=True)])
    return Message(text="Preparing your export: it arrives as a direct message with a JSON file in a moment.")


async def export_message(session: AsyncSession, user: User) -> Message:
    """Everything DealCoach stores about ``user``, as a message with one JSON file."""
    own = (await session.scalars(select(Counterpart).where(Counterpart.owner_id == user.id))).all()
    counterparts = {cp.id: cp.name for cp in own}
    negotiations = (await session.scalars(select(Negotiation).where(Negotiation.owner_id == user.id))).all()
    issues = (
        await session.scalars(
            select(NegotiationIssue).where(NegotiationIssue.negotiation_id.in_([x.id for x in negotiations]))
        )
    ).all()
    commitments = (await session.scalars(select(Commitment).where(Commitment.owner_id == user.id))).all()
    touchpoints = (await session.scalars(select(Touchpoint).where(Touchpoint.user_id == user.id))).all()
    handoffs = (
        await session.scalars(select(Handoff).where(Handoff.negotiation_id.in_([x.id for x in negotiations])))
    ).all()
    memberships = (await session.scalars(select(TeamMember).where(TeamMember.user_id == user.id))).all()
    invitations = (await session.scalars(select(TeamInvitation).where(TeamInvitation.user_id == user.id))).all()
    by_negotiation = {x.id: x.number for x in negotiations}
    data = {
        "user": _row(user),
        "negotiations": [
            _row(
                x,
                counterpart=counterparts.get(x.counterpart_id),
                issues=[_row(i) for i in issues if i.negotiation_id == x.id],
            )
            for x in negotiations
        ],
        "commitments": [
            _row(x, counterpart=counterparts.get(x.counterpart_id), negotiation=by_negotiation.get(x.negotiation_id))
            for x in commitments
        ],
        "touchpoints": [_row(x, counterpart=counterparts.get(x.counterpart_id)) for x in touchpoints],
        "counterparts": [_row(x) for x in own],
        "handoffs_sent": [
            _row(x, negotiation=by_negotiation.get(x.negotiation_id), to=await _who(session, x.recipient_id))
            for x in handoffs
        ],
        "teams": [_row(x, lead=await _lead_of(session, x.team_id)) for x in memberships]
        + [_row(x, lead=await _lead_of(session, x.team_id), invitation=True) for x in invitations],
        "calendar": await _calendar(session, user, by_negotiation),
    }
    for record in (*data["negotiations"], *data["commitments"], *data["touchpoints"], *data["handoffs_sent"]):
        record.pop("counterpart_id", None)
        record.pop("negotiation_id", None)
    body = json.dumps(data, indent=2, ensure_ascii=False).encode()
    summary = f"{len(negotiations)} negotiations, {len(commitments)} commitments, {len(touchpoints)} touchpoints"
    return Message(
        text="Your DealCoach data export",
        sections=(Section(lines=(f"Everything DealCoach stores about you: {summary}.",)),),
        kind=EXPORT,
        attachments=(Attachment(f"dealcoach-export-{user.external_id}.json", "application/json", body, "Export"),),
    )


async def _calendar(session: AsyncSession, user: User, numbers: dict[int, int]) -> dict[str, Any]:
    """The calendar subscription (its host, never the secret address), the meetings imported, what is ignored."""
    feed = await session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))
    imports = (await session.scalars(select(CalendarImport).where(CalendarImport.user_id == user.id))).all()
    series = (await session.scalars(select(IgnoredSeries).where(IgnoredSeries.user_id == user.id))).all()
    domains = (await session.scalars(select(CounterpartDomain).where(CounterpartDomain.owner_id == user.id))).all()
    return {
        "feed": _row(feed, sealed_url="(secret, not exported)") if feed else None,
        "imports": [_row(x, negotiation=numbers.get(x.negotiation_id or 0)) for x in imports],
        "ignored_series": [_row(x) for x in series],
        "counterpart_domains": [_row(x, counterpart=x.counterpart.name) for x in domains],
    }


async def compose_export(turn: Turn, nudge: Nudge) -> Composed:
    return await export_message(turn.session, turn.user)


async def forget_me(turn: Turn, command: c.ForgetMe) -> Message:
    if not command.confirmed:
        return Message(
            text="This deletes everything DealCoach stores about you: negotiations, counterparts, commitments, "
            "notes, settings, your team memberships and pending reminders. It can't be undone. "
            "Type `forget-me confirm` to go ahead (`export` first if you want a copy).",
            buttons=(Button("Delete my data", "privacy.forget", "forget-me confirm", "danger"),),
        )
    await turn.session.execute(
        delete(User).where(User.id == turn.user.id)
    )  # the database cascades to everything theirs
    return Message(text="Done: DealCoach has forgotten you. If you write again, you start afresh.", kind=FORGOTTEN)


HANDLERS: dict[type[c.Command], Handler] = {c.ExportMyData: request_export, c.ForgetMe: forget_me}
COMPOSERS: dict[str, Composer] = {EXPORT: Composer(compose_export, asked_for=True)}
