"""Team leads: who is on whose team, and the weekly digest (on demand and every Monday 09:00 local)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import commands as c
from coaching import nudges as n
from coaching import store
from coaching.chart import render_chart
from coaching.digest import Week, build_digest, digest_message
from coaching.messages import Message, Section
from coaching.models import Nudge, Team, TeamMember, User
from coaching.nudges import DIGEST
from coaching.parser import USAGE, CommandError
from coaching.ports import Address
from coaching.room import Composed, Composer, Handler, Skip, Turn


def _name(user: User) -> str:
    return user.display_name or user.external_id


async def team_led_by(session: AsyncSession, lead: User) -> Team | None:
    return await session.scalar(select(Team).where(Team.lead_id == lead.id))


async def _membership(session: AsyncSession, user: User) -> TeamMember | None:
    return await session.scalar(select(TeamMember).where(TeamMember.user_id == user.id))


async def schedule_digest(turn: Turn, week: Week) -> None:
    """One outbox row per lead per week (the unique key makes a second one impossible), the Monday
    after ``week`` at the install's digest time in the lead's zone."""
    lead = turn.user
    monday = week.shift(1).monday
    due = datetime.combine(monday, turn.timing.digest_time, tzinfo=n.user_zone(lead))
    await n.enqueue(turn.session, lead, [n.Planned(DIGEST, f"{DIGEST}:{lead.id}:{week.label}", due)])


async def team_add(turn: Turn, command: c.TeamAdd) -> Message:
    session, lead, now = turn.session, turn.user, turn.now
    workspace = lead.workspace
    address = Address(workspace.platform, workspace.external_id, command.member)
    member = await store.ensure_user(session, address=address, new=turn.defaults.new_user())
    team = await team_led_by(session, lead)
    membership = await _membership(session, member)
    if membership is not None and membership.left_at is None:
        if team is not None and membership.team_id == team.id:
            return Message(text=f"{_name(member)} is already on your team.")
        other = await session.get(Team, membership.team_id)
        owner = _name(other.lead) if other else "another lead"
        raise CommandError(f"{_name(member)} is already on {owner}'s team; a rep is on one team at a time.")
    created = team is None
    if team is None:
        team = Team(workspace_id=lead.workspace_id, lead_id=lead.id, created_at=now)
        session.add(team)
        await session.flush()
        await schedule_digest(turn, Week.containing(now, n.user_zone(lead)))
    if membership is None:
        session.add(TeamMember(team_id=team.id, user_id=member.id, joined_at=now))
    else:  # back on a team after leaving one: their new weeks count here
        membership.team_id, membership.joined_at, membership.left_at = team.id, now, None
    at = turn.timing.digest_time.strftime("%H:%M")
    lines = [f"You'll get the weekly digest every Monday at {at} your time; `digest` shows it any time."]
    return Message(
        text=f"Added {_name(member)} to your team." + (" You are now a team lead." if created else ""),
        sections=(Section(lines=tuple(lines)),) if created else (),
    )


async def team_remove(turn: Turn, command: c.TeamRemove) -> Message:
    session, lead = turn.session, turn.user
    team = await team_led_by(session, lead)
    if team is None:
        raise CommandError("You don't lead a team. Start one with `team add @name`.", USAGE["team"].usage)
    member = await store.user_at(
        session, address=Address(lead.workspace.platform, lead.workspace.external_id, command.member)
    )
    membership = await _membership(session, member) if member else None
    if member is None or membership is None or membership.team_id != team.id or membership.left_at is not None:
        raise CommandError(f"{command.member} is not on your team. `team list` shows who is.")
    membership.left_at = turn.now
    return Message(text=f"Removed {_name(member)} from your team; past weeks still show their work.")


async def team_list(turn: Turn, command: c.TeamList) -> Message:
    session, user = turn.session, turn.user
    sections = []
    team = await team_led_by(session, user)
    if team is not None:
        members = await session.scalars(
            select(User)
            .join(TeamMember, TeamMember.user_id == User.id)
            .where(TeamMember.team_id == team.id, TeamMember.left_at.is_(None))
        )
        names = sorted(_name(member) for member in members)
        sections.append(Section(heading="Your team", lines=tuple(names) or ("nobody yet: `team add @name`",)))
    membership = await _membership(session, user)
    if membership is not None and membership.left_at is None:
        lead_team = await session.get(Team, membership.team_id)
        if lead_team is not None:
            sections.append(Section(lines=(f"Your lead: {_name(lead_team.lead)}",)))
    if not sections:
        return Message(text="You're not on a team. A lead adds you with `team add @you`; start your own the same way.")
    return Message(text="Teams", sections=tuple(sections))


def resolve_week(spec: str, now: datetime, lead: User) -> Week:
    tz = n.user_zone(lead)
    if spec == "this":
        return Week.containing(now, tz)
    if spec == "last":
        return Week.containing(now, tz).shift(-1)
    try:
        return Week.asked(spec, now=now, tz=tz)
    except ValueError as problem:
        raise CommandError(f"{problem}.", USAGE["digest"].usage) from None


async def show_digest(turn: Turn, command: c.ShowDigest) -> Message:
    team = await team_led_by(turn.session, turn.user)
    if team is None:
        raise CommandError("The digest is for team leads: add your reps with `team add @name` first.")
    week = resolve_week(command.week, turn.now, turn.user)
    return await digest_for(turn, team, week)


async def digest_for(turn: Turn, team: Team, week: Week, *, kind: str = "reply") -> Message:
    lead, tz = turn.user, turn.tz
    digest = await build_digest(turn.session, team, week, now=turn.now, tz=tz, contact_gap=turn.timing.contact_gap)
    # matplotlib takes tens of milliseconds of CPU: off the event loop, so acks and other turns go on
    chart = await asyncio.to_thread(
        render_chart, digest.history, f"{_name(lead)}'s team, last {len(digest.history)} weeks"
    )
    return digest_message(digest, tz, chart=chart, kind=kind)


def _week_of(nudge: Nudge) -> Week:
    return Week.parse(nudge.key.rsplit(":", 1)[1])


async def chain_digest(turn: Turn, nudge: Nudge) -> None:
    """A scheduled digest lines up the next week's, so the weekly rhythm never breaks."""
    await schedule_digest(turn, _week_of(nudge).shift(1))


async def compose_digest(turn: Turn, nudge: Nudge) -> Composed:
    """The scheduled digest of the week its key names."""
    team = await team_led_by(turn.session, turn.user)
    if team is None:
        return Skip("no team any more")
    return await digest_for(turn, team, _week_of(nudge), kind=DIGEST)


HANDLERS: dict[type[c.Command], Handler] = {
    c.TeamAdd: team_add,
    c.TeamRemove: team_remove,
    c.TeamList: team_list,
    c.ShowDigest: show_digest,
}
COMPOSERS: dict[str, Composer] = {DIGEST: Composer(compose_digest, chain=chain_digest)}
