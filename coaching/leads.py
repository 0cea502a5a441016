"""Team leads and their reps, by consent, and the weekly digest (on demand and every Monday 09:00 local).

``team add`` invites; the rep accepts or declines (``team accept|decline <lead>``), sees their lead (``team``) and
may leave (``team leave``). Only members count in a lead's digest. A workspace admin's ``team add`` needs no
consent, and the rep is told; nobody is moved off another lead's team without their say. Every change reaches the
person it concerns as a message (``team_news``)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import commands as c
from coaching import counterparts as known
from coaching import nudges as n
from coaching import store
from coaching.chart import render_chart
from coaching.digest import Week, build_digest, digest_message
from coaching.messages import Button, Message, Section
from coaching.models import Nudge, Team, TeamInvitation, TeamMember, User
from coaching.nudges import DIGEST, TEAM_INVITE, TEAM_NEWS
from coaching.parser import USAGE, CommandError
from coaching.ports import Address
from coaching.room import Composed, Composer, Handler, Skip, Turn
from coaching.texts import day_text


def _day_of(moment: datetime, turn: Turn) -> str:
    """The person's local day of ``moment``: ``Tue 01 Dec``."""
    return day_text(moment.astimezone(turn.tz).date(), turn.tz, turn.now)


def _name(user: User) -> str:
    return user.display_name or user.external_id


async def team_led_by(session: AsyncSession, lead: User) -> Team | None:
    return await session.scalar(select(Team).where(Team.lead_id == lead.id))


async def _membership(session: AsyncSession, user: User) -> TeamMember | None:
    """The rep's current membership (a rep is on one team at a time)."""
    return await session.scalar(select(TeamMember).where(TeamMember.user_id == user.id, TeamMember.left_at.is_(None)))


async def _invitations(session: AsyncSession, user: User) -> list[TeamInvitation]:
    rows = await session.scalars(
        select(TeamInvitation).where(TeamInvitation.user_id == user.id).order_by(TeamInvitation.invited_at)
    )
    return list(rows)


async def schedule_digest(turn: Turn, week: Week) -> None:
    """One outbox row per lead per week (the unique key makes a second one impossible), the Monday
    after ``week`` at the install's digest time in the lead's zone."""
    lead = turn.user
    monday = week.shift(1).monday
    due = datetime.combine(monday, turn.timing.digest_time, tzinfo=n.user_zone(lead))
    await n.enqueue(turn.session, lead, [n.Planned(DIGEST, f"{DIGEST}:{lead.id}:{week.label}", due)])


async def _tell(turn: Turn, person: User, event: str, team: Team, subject: User) -> None:
    """A message to ``person`` about what happened on ``team`` (``event``, about ``subject``), via the outbox."""
    key = f"{TEAM_NEWS}:{event}:{team.id}:{subject.id}:{int(turn.now.timestamp())}"
    await n.enqueue(turn.session, person, [n.Planned(TEAM_NEWS, key, turn.now)])


async def _join(turn: Turn, team: Team, member: User) -> None:
    """``member`` is on ``team`` from now on, and off any other (whose lead is told)."""
    session, now = turn.session, turn.now
    current = await _membership(session, member)
    if current is not None and current.team_id != team.id:
        current.left_at = now
        old = await session.get(Team, current.team_id)
        if old is not None:
            await _tell(turn, old.lead, "moved", old, member)
    row = await session.scalar(select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == member.id))
    if row is None:
        session.add(TeamMember(team_id=team.id, user_id=member.id, joined_at=now))
    else:  # back on a team they had left
        row.joined_at, row.left_at = now, None
    await session.execute(
        delete(TeamInvitation).where(TeamInvitation.team_id == team.id, TeamInvitation.user_id == member.id)
    )


async def team_add(turn: Turn, command: c.TeamAdd) -> Message:
    """``team add <@rep>``: an invitation the rep accepts or declines — or, from a workspace admin, a member at
    once (the rep is told). A rep on another lead's team is never moved without their say."""
    session, lead, now = turn.session, turn.user, turn.now
    workspace = await store.workspace_of(session, lead)
    address = Address(workspace.platform, workspace.external_id, command.member)
    member = await store.ensure_user(session, address=address, new=turn.defaults.new_user())
    if member.id == lead.id:
        raise CommandError("You lead the team; add the reps you coach.", USAGE["team"].usage)
    team = await team_led_by(session, lead)
    created = team is None
    if team is None:
        team = Team(workspace_id=lead.workspace_id, lead_id=lead.id, created_at=now)
        session.add(team)
        await session.flush()
        await schedule_digest(turn, Week.containing(now, n.user_zone(lead)))
    who = _name(member)
    current = await _membership(session, member)
    if current is not None and current.team_id == team.id:
        return Message(text=f"{who} is already on your team.", personal=False)
    lines = []
    if turn.admin and current is None:
        await _join(turn, team, member)
        await _tell(turn, member, "added", team, lead)
        text = f"Added {who} to your team. As a workspace admin you need no consent; I've told them."
    else:
        invited = await session.scalar(
            select(TeamInvitation).where(TeamInvitation.team_id == team.id, TeamInvitation.user_id == member.id)
        )
        if invited is not None:
            return Message(
                text=f"You invited {who} on {_day_of(invited.invited_at, turn)}; they haven't answered yet.",
                personal=False,
            )
        invitation = TeamInvitation(team_id=team.id, user_id=member.id, invited_at=now)
        session.add(invitation)
        await session.flush()
        await n.enqueue(session, member, [n.Planned(TEAM_INVITE, f"{TEAM_INVITE}:{invitation.id}", now)])
        text = f"Invited {who} to your team."
        lines.append(
            "They decide: once they accept, their figures appear in your digest (past weeks too). "
            "`team list` shows who has answered."
        )
        if current is not None:
            lines.append(f"{who} is on another lead's team at the moment; moving is their call.")
    if created:
        at = turn.timing.digest_time.strftime("%H:%M")
        lines.append(
            f"You are now a team lead: the weekly digest comes every Monday at {at} your time; `digest` any time."
        )
    return Message(text=text, sections=(Section(lines=tuple(lines)),) if lines else (), personal=False)


async def team_remove(turn: Turn, command: c.TeamRemove) -> Message:
    session, lead = turn.session, turn.user
    team = await team_led_by(session, lead)
    if team is None:
        raise CommandError("You don't lead a team. Start one with `team add @name`.", USAGE["team"].usage)
    workspace = await store.workspace_of(session, lead)
    member = await store.user_at(session, address=Address(workspace.platform, workspace.external_id, command.member))
    if member is not None:
        withdrawn = await session.execute(
            delete(TeamInvitation).where(TeamInvitation.team_id == team.id, TeamInvitation.user_id == member.id)
        )
        if withdrawn.rowcount:
            return Message(text=f"Withdrew your invitation to {_name(member)}.", personal=False)
    membership = await _membership(session, member) if member else None
    if member is None or membership is None or membership.team_id != team.id:
        raise CommandError(f"{command.member} is not on your team. `team list` shows who is.")
    membership.left_at = turn.now
    await _tell(turn, member, "removed", team, lead)
    return Message(text=f"Removed {_name(member)} from your team; past weeks still show their work.", personal=False)


async def team_list(turn: Turn, command: c.TeamList) -> Message:
    """``team`` / ``team list``: the team I lead (members, and invitations still open), my own lead, and the
    invitations waiting for my answer."""
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
        pending = await session.scalars(
            select(TeamInvitation).where(TeamInvitation.team_id == team.id).order_by(TeamInvitation.invited_at)
        )
        waiting = [f"{_name(x.user)} — invited {_day_of(x.invited_at, turn)}, hasn't answered yet" for x in pending]
        lines = tuple(names) or ("nobody has joined yet" if waiting else "nobody yet: `team add @name`",)
        sections.append(Section(heading="Your team", lines=lines))
        if waiting:
            sections.append(Section(heading="Invited (waiting for their answer)", lines=tuple(waiting)))
    membership = await _membership(session, user)
    if membership is not None:
        lead_team = await session.get(Team, membership.team_id)
        if lead_team is not None:
            lead = _name(lead_team.lead)
            sections.append(
                Section(
                    lines=(f"Your lead: {lead} — sees your figures in the weekly digest. `team leave` takes you off.",)
                )
            )
    invitations = await _invitations(session, user)
    buttons = []
    if invitations:
        lines = tuple(f"{_name(x.team.lead)} invited you on {_day_of(x.invited_at, turn)}" for x in invitations)
        sections.append(Section(heading="Invitations to you", lines=lines))
        for x in invitations[:3]:
            buttons += _answer_buttons(x.team.lead)
    if not sections:
        return Message(
            text="You're not on a team. A lead invites you with `team add @you`; start your own the same way."
        )
    return Message(text="Teams", sections=tuple(sections), buttons=tuple(buttons))


def _answer_buttons(lead: User) -> list[Button]:
    who = _name(lead)
    return [
        Button(f"Join {who}'s team", "team.accept", f"team accept {lead.external_id}", "primary"),
        Button("Decline", "team.decline", f"team decline {lead.external_id}"),
    ]


async def _invitation_from(turn: Turn, lead: str | None, verb: str) -> TeamInvitation:
    """The invitation the rep answers: from the lead they name (user id or name), or the only one."""
    invitations = await _invitations(turn.session, turn.user)
    if not invitations:
        raise CommandError("You have no invitation to a team. A lead invites you with `team add @you`.")
    if lead is None:
        if len(invitations) == 1:
            return invitations[0]
        names = ", ".join(_name(x.team.lead) for x in invitations)
        raise CommandError(f"Several leads invited you ({names}): `team {verb} <lead>`.")
    wanted = lead.casefold()
    for x in invitations:
        if wanted in (x.team.lead.external_id.casefold(), _name(x.team.lead).casefold()):
            return x
    names = {_name(x.team.lead): x for x in invitations}
    near = known.similar(lead, names)  # a lead's name typed in part or with a typo ("lena" for Lena Meyer)
    if len(near) == 1:
        return names[near[0]]
    raise CommandError(f"No invitation from “{lead}”. `team` shows yours.")


async def team_accept(turn: Turn, command: c.TeamAccept) -> Message:
    invitation = await _invitation_from(turn, command.lead, "accept")
    team, lead = invitation.team, invitation.team.lead
    await _join(turn, team, turn.user)
    await _tell(turn, lead, "accepted", team, turn.user)
    return Message(
        text=f"You're on {_name(lead)}'s team.",
        sections=(
            Section(
                lines=(
                    f"{_name(lead)} sees your figures in the weekly digest, past weeks included: negotiations "
                    "held, personal-connection rate, follow-ups, commitments, touchpoints — and the names of "
                    "counterparts you keep conceding to or have overdue commitments with. Your notes stay yours.",
                    "`team leave` takes you off any time.",
                )
            ),
        ),
    )


async def team_decline(turn: Turn, command: c.TeamDecline) -> Message:
    invitation = await _invitation_from(turn, command.lead, "decline")
    team, lead = invitation.team, invitation.team.lead
    await turn.session.delete(invitation)
    await _tell(turn, lead, "declined", team, turn.user)
    return Message(text=f"Declined {_name(lead)}'s invitation; I've let them know.")


async def team_leave(turn: Turn, command: c.TeamLeave) -> Message:
    membership = await _membership(turn.session, turn.user)
    team = await turn.session.get(Team, membership.team_id) if membership else None
    if membership is None or team is None:
        raise CommandError("You're not on anyone's team. `team` shows invitations to you.")
    membership.left_at = turn.now
    await _tell(turn, team.lead, "left", team, turn.user)
    return Message(
        text=f"You left {_name(team.lead)}'s team.",
        sections=(Section(lines=(f"{_name(team.lead)} keeps the weeks you were on it, nothing from this week on.",)),),
    )


async def compose_invite(turn: Turn, nudge: Nudge) -> Composed:
    """The invitation, to the rep: who asks, what they would see, and the buttons to answer."""
    invitation_id = nudge.key.rsplit(":", 1)[1]
    invitation = await turn.session.get(TeamInvitation, int(invitation_id)) if invitation_id.isdigit() else None
    if invitation is None:
        return Skip("invitation answered or withdrawn")
    lead = invitation.team.lead
    lines = [
        f"If you join, {_name(lead)} sees your figures in the weekly digest, past weeks included — counts such as "
        "negotiations held and follow-ups, and the names of counterparts you keep conceding to or owe overdue "
        "commitments. Your notes stay yours.",
    ]
    current = await _membership(turn.session, turn.user)
    if current is not None:
        other = await turn.session.get(Team, current.team_id)
        if other is not None:
            lines.append(f"You're on {_name(other.lead)}'s team now: joining moves you.")
    lines.append(f"Answer with the buttons, or `team accept {lead.external_id}` / `team decline {lead.external_id}`.")
    return Message(
        text=f"{_name(lead)} invites you to their team",
        sections=(Section(lines=tuple(lines)),),
        buttons=tuple(_answer_buttons(lead)),
        kind=TEAM_INVITE,
        ref=f"invitation:{invitation.id}",
    )


_NEWS = {
    "added": "{lead} added you to their team (a workspace admin needs no consent): they see your figures in the "
    "weekly digest, past weeks included. `team leave` takes you off.",
    "removed": "{lead} took you off their team.",
    "accepted": "{rep} accepted your invitation: their figures are in your digest now, past weeks included.",
    "declined": "{rep} declined your invitation to your team.",
    "left": "{rep} left your team; past weeks still show their work.",
    "moved": "{rep} moved to another lead's team; past weeks still show their work.",
}


async def compose_news(turn: Turn, nudge: Nudge) -> Composed:
    """A change on a team, told to the person it concerns (the rep, or the lead)."""
    parts = nudge.key.split(":")
    if len(parts) != 5 or parts[1] not in _NEWS or not (parts[2].isdigit() and parts[3].isdigit()):
        return Skip("unreadable team news")
    team = await turn.session.get(Team, int(parts[2]))
    subject = await turn.session.get(User, int(parts[3]))
    if team is None or subject is None:
        return Skip("team or person gone")
    text = _NEWS[parts[1]].format(lead=_name(team.lead), rep=_name(subject))
    return Message(text=text, kind=TEAM_NEWS)


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
    c.TeamAccept: team_accept,
    c.TeamDecline: team_decline,
    c.TeamLeave: team_leave,
    c.ShowDigest: show_digest,
}
COMPOSERS: dict[str, Composer] = {
    DIGEST: Composer(compose_digest, chain=chain_digest),
    TEAM_INVITE: Composer(compose_invite, colleague=True),
    TEAM_NEWS: Composer(compose_news, colleague=True),
}
