"""The coach: handles commands, keeps the nudge outbox in step, and writes the nudges it sends.

Every command runs in one transaction together with the nudges it enqueues (the outbox pattern), so
what a user typed and what the coach promised to remind them of are stored together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coaching import commands as c
from coaching import leads, privacy, relationships, store, transient
from coaching import nudges as n
from coaching import playbook as book
from coaching.messages import Attachment, Button, Message, Section
from coaching.models import Commitment, Counterpart, Negotiation, Nudge, Touchpoint, User, Workspace
from coaching.parser import CHANNELS, USAGE, CommandError, Context, parse_command, quiet_hours
from coaching.ports import Abandon, Address, Clock

log = logging.getLogger(__name__)

INFORMAL_TOUCHPOINTS = ("coffee", "call", "note")
AlsoInTransaction = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class CoachDefaults:
    """PRODUCT.md's defaults, each changeable per install (``bot.config`` reads them from the environment)."""

    duration_minutes: int = 60
    channel: str = "video"
    daily_nudges: int = 3  # coaching nudges per rep per local day before the rest are merged
    lead_minutes: int = 30  # a new user's pre-call lead time...
    quiet_hours: tuple[str, str] | None = ("19:00", "08:00")  # ...and quiet hours (local HH:MM); both are settings
    timing: n.Timing = n.Timing()

    def new_user(self) -> dict[str, Any]:
        """The columns a person starts with, until they change them with ``settings``."""
        start, end = self.quiet_hours or (None, None)
        return {"lead_minutes": self.lead_minutes, "quiet_start": start, "quiet_end": end}


def error(message: str, usage: str | None = None) -> Message:
    sections = (Section(lines=(f"Usage: `{usage}`",)),) if usage else ()
    return Message(text=message, sections=sections, kind="error")


def when_text(moment: datetime, tz: ZoneInfo) -> str:
    """``Thu 26 Nov 15:00`` in the reader's zone."""
    return moment.astimezone(tz).strftime("%a %d %b %H:%M")


def day_text(day: date) -> str:
    return day.strftime("%a %d %b")


def span_text(delta: timedelta) -> str:
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    return f"{round(minutes / 1440)} days"


@dataclass(frozen=True)
class Skip:
    """A due nudge that no longer applies (already handled, nudges off)."""

    reason: str


@dataclass(frozen=True)
class Defer:
    """A due nudge to hold until ``until`` (quiet hours)."""

    until: datetime


Composed = Message | Skip | Defer


class Coach:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, defaults: CoachDefaults | None = None
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.defaults = defaults or CoachDefaults()
        self.timing = self.defaults.timing
        self._new_user = self.defaults.new_user()  # the defaults are frozen: built once, not per command
        self._handlers: dict[type[c.Command], Callable[[AsyncSession, User, Any], Awaitable[Message]]] = {
            c.Help: self._help,
            c.LogNegotiation: self._log,
            c.ListNegotiations: self._list,
            c.Prep: self._prep,
            c.Frame: self._frame,
            c.RecordOutcome: self._done,
            c.FollowUpSent: self._followup,
            c.Reschedule: self._reschedule,
            c.CancelNegotiation: self._cancel,
            c.AddCommitment: self._commit,
            c.ListCommitments: self._commitments,
            c.ResolveCommitment: self._resolve,
            c.RecordCoffee: self._coffee,
            c.ChangeSettings: self._settings,
            c.MarkCounterpart: partial(leads.mark_counterpart, self),
            c.TeamAdd: partial(leads.team_add, self),
            c.TeamRemove: partial(leads.team_remove, self),
            c.TeamList: partial(leads.team_list, self),
            c.ShowDigest: partial(leads.show_digest, self),
            c.RecordTouchpoint: partial(relationships.record_touchpoint, self),
            c.SnoozeCounterpart: partial(relationships.snooze_counterpart, self),
            c.AnswerLinks: partial(relationships.answer_links, self),
            c.TableIssues: partial(relationships.table_issues, self),
            c.Handoff: partial(relationships.handoff, self),
            c.Acknowledge: self._ok,
            c.RemindLater: self._later,
            c.ExportMyData: partial(privacy.request_export, self),
            c.ForgetMe: partial(privacy.forget_me, self),
        }

    # -- entry points -------------------------------------------------------------------------------

    async def handle_text(self, actor: c.Actor, text: str, *, also: AlsoInTransaction | None = None) -> Message:
        """Parse what the user typed (in their time zone) and handle it.

        ``also(session)`` runs inside the command's transaction just before it commits (an adapter marks its
        inbox row handled there, so a command is applied once or not at all); if it raises, nothing is stored.
        """
        return await self._run(actor, lambda user: parse_command(actor, text, self.context(user)), also)

    async def handle(self, command: c.Command, *, also: AlsoInTransaction | None = None) -> Message:
        """Handle a structured command (a form's); ``also`` as for :meth:`handle_text`."""
        return await self._run(command.actor, lambda _user: command, also)

    async def _run(
        self, actor: c.Actor, make: Callable[[User], c.Command], also: AlsoInTransaction | None = None
    ) -> Message:
        try:
            async with self.sessions() as session, session.begin():
                user = await store.ensure_user(
                    session,
                    address=actor.address,
                    display_name=actor.display_name,
                    timezone=actor.timezone,
                    new=self._new_user,
                )
                command = make(user)
                reply = await self._handlers[type(command)](session, user, command)
                if also is not None:
                    await also(session)
                return reply
        except CommandError as problem:
            return error(problem.message, problem.usage)
        except Abandon:
            raise
        except Exception as problem:
            if transient.is_transient(problem):  # nothing was stored; a caller that can retry will
                return transient.not_saved(problem, f"{actor.address.platform} command")
            log.exception("command failed for %s user %s", actor.address.platform, actor.address.user)
            return error("Sorry, something went wrong on my side. Nothing was changed; please try again.")

    def context(self, user: User) -> Context:
        return Context(now=self.clock.now(), tz=n.user_zone(user))

    async def upsert_user(
        self, actor: c.Actor, *, channel: str | None = None, conversation_ref: dict[str, Any] | None = None
    ) -> None:
        """Record what a platform told us about a person: name, time zone, DM channel, Teams reference."""
        async with self.sessions() as session, session.begin():
            user = await store.ensure_user(
                session,
                address=actor.address,
                display_name=actor.display_name,
                timezone=actor.timezone,
                new=self._new_user,
            )
            if channel and user.dm_channel != channel:
                user.dm_channel = channel
            if conversation_ref is not None and user.conversation_ref != conversation_ref:
                user.conversation_ref = conversation_ref

    async def home(self, actor: c.Actor) -> list[Message]:
        """What an app home shows: upcoming negotiations, open commitments, counterparts due for contact."""
        messages = [await self.handle_text(actor, "list"), await self.handle_text(actor, "commitments")]
        async with self.sessions() as session:
            user = await store.user_at(session, address=actor.address)
            due = await relationships.due_for_contact(session, user, self.clock.now(), self.timing) if user else []
        if due:
            now = self.clock.now()
            lines = tuple(
                f"{d.counterpart} — last contact {(now - d.last_contact).days} days ago" + (" ⚠" if d.overdue else "")
                for d in due
                if d.last_contact
            )
            messages.append(Message(text="Due for a personal touch", sections=(Section(lines=lines),)))
        return messages

    async def export_file(self, address: Address) -> Attachment | None:
        """The person's data export as a file, built now (for platforms that fetch it in a second step,
        such as a Teams file-upload consent); None if DealCoach stores nothing about them."""
        async with self.sessions() as session:
            user = await store.user_at(session, address=address)
            if user is None:
                return None
            message = await privacy.compose_export(session, user)
        return message.attachments[0] if message.attachments else None

    async def conversation_ref(self, address: Address) -> dict[str, Any] | None:
        async with self.sessions() as session:
            user = await store.user_at(session, address=address)
            return user.conversation_ref if user else None

    async def forget_user(self, address: Address) -> None:
        """Delete everything stored about one person (their nudges go with them)."""
        async with self.sessions() as session, session.begin():
            user = await store.user_at(session, address=address)
            if user is not None:
                await session.execute(delete(User).where(User.id == user.id))

    async def forget_workspace(self, platform: str, workspace: str) -> None:
        """Delete a workspace or tenant and all its data (the app was uninstalled)."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                delete(Workspace).where(Workspace.platform == platform, Workspace.external_id == workspace)
            )

    # -- help ---------------------------------------------------------------------------------------

    async def _help(self, session: AsyncSession, user: User, command: c.Help) -> Message:
        if command.topic:
            entry = USAGE.get(command.topic.split()[0])
            if entry is None:
                return error(f"There is no command “{command.topic}”. Type `help` for the list.")
            return Message(text=f"`{entry.usage}`", sections=(Section(lines=(entry.summary,)),))
        lines = tuple(f"`{u.usage}` — {u.summary}" for u in USAGE.values())
        return Message(
            text="DealCoach reminds you to connect before you negotiate, to follow up after, and to keep "
            "what was promised. Commands:",
            sections=(
                Section(lines=lines),
                Section(
                    lines=(
                        "Times are read in your time zone: `2026-12-01 14:00`, `tomorrow 3pm`, `in 20 minutes`, "
                        "`next tuesday 10am`, `friday`.",
                    )
                ),
            ),
        )

    # -- negotiations -------------------------------------------------------------------------------

    async def owned(self, session: AsyncSession, user: User, number: int) -> Negotiation:
        found = await session.scalar(
            select(Negotiation).where(Negotiation.owner_id == user.id, Negotiation.number == number)
        )
        if found is None:
            raise CommandError(f"You have no negotiation #{number}. Type `list` to see yours.")
        return found

    async def _log(self, session: AsyncSession, user: User, command: c.LogNegotiation) -> Message:
        now, tz = self.clock.now(), n.user_zone(user)
        name = " ".join(command.counterpart.split())
        if not name:
            raise CommandError("Who is the negotiation with?", USAGE["log"].usage)
        channel = command.channel or self.defaults.channel
        if channel not in CHANNELS:
            raise CommandError(f"“{channel}” is not a channel: use video, phone, email or in-person.")
        duration = command.duration_minutes or self.defaults.duration_minutes
        if not 1 <= duration <= 1440:
            raise CommandError("A negotiation lasts between 1 minute and 24 hours.")
        counterpart = await store.counterpart(session, workspace_id=user.workspace_id, name=name)
        negotiation = Negotiation(
            created_at=now,
            owner_id=user.id,
            number=await store.next_number(session, Negotiation, owner_id=user.id),
            counterpart_id=counterpart.id,
            title=(command.title or "").strip()[:300] or None,
            starts_at=command.when,
            duration_minutes=duration,
            channel=channel,
            status="scheduled",
            repeat=command.repeat,
            long_term_value=command.long_term_value,
        )
        session.add(negotiation)
        await session.flush()
        warnings = await self._back_to_back(session, user, negotiation)
        planned = await n.schedule_negotiation(session, negotiation, user, now=now, timing=self.timing)
        if counterpart.long_term or command.repeat:  # a relationship to keep warm: this rep's weekly list
            await relationships.start_long_term(self, session, user, counterpart)

        held = negotiation.starts_at <= now
        ends = negotiation.starts_at + timedelta(minutes=duration)
        head = (
            f"Logged #{negotiation.number}: {counterpart.name}, {when_text(negotiation.starts_at, tz)} "
            f"({duration} min, {channel})."
        )
        lines: list[str] = []
        if held:
            lines.append("That time has passed, so I take it the call happened: the follow-up prompt is on its way.")
        else:
            precall = next((p for p in planned if p.kind == n.PRECALL), None)
            if precall:
                lines.append(
                    f"Pre-call reminder: {when_text(precall.due_at, tz)}"
                    + (" (now, it starts soon)." if precall.due_at <= now else ".")
                )
            lines.append(f"Follow-up prompt: {when_text(ends + self.timing.followup_after, tz)}.")
        sections = [Section(lines=tuple(lines))]
        if warnings:
            sections.append(Section(heading="Heads-up", lines=tuple(warnings)))
        buttons: list[Button] = []
        if not held:
            coffee = await self._coffee_suggestion(session, user, negotiation, counterpart, now)
            if coffee:
                sections.append(coffee)
                buttons.append(Button("Record coffee chat", "coffee.record", f'coffee "{counterpart.name}"'))
            if negotiation.repeat is None:
                sections.append(
                    Section(heading="Frame it", lines=(book.FRAME_QUESTIONS[0],))
                )  # fmt: skip
                buttons += [
                    Button("We'll deal again", "frame.repeat", f"frame {negotiation.number} repeat"),
                    Button("One-off", "frame.one_off", f"frame {negotiation.number} one-off"),
                ]
            buttons.append(Button("Prep brief", "negotiation.prep", f"prep {negotiation.number}"))
        return Message(
            text=head, sections=tuple(sections), buttons=tuple(buttons), ref=f"negotiation:{negotiation.number}"
        )

    async def _back_to_back(self, session: AsyncSession, user: User, negotiation: Negotiation) -> list[str]:
        """Warn about a negotiation less than the gap before or after this one (or overlapping it)."""
        gap = self.timing.back_to_back_gap
        starts = negotiation.starts_at
        ends = starts + timedelta(minutes=negotiation.duration_minutes)
        others = (
            await session.scalars(
                select(Negotiation).where(
                    Negotiation.owner_id == user.id,
                    Negotiation.id != negotiation.id,
                    Negotiation.status != "cancelled",
                    Negotiation.starts_at < ends + gap,
                    Negotiation.starts_at > starts - timedelta(days=1) - gap,
                )
            )
        ).all()
        warnings: list[str] = []
        negotiation.back_to_back = False
        for other in others:
            other_ends = other.starts_at + timedelta(minutes=other.duration_minutes)
            if other_ends + gap <= starts:
                continue
            name = f"{other.counterpart.name} (#{other.number})"
            if other.starts_at < ends and starts < other_ends:
                warnings.append(book.OVERLAP.format(other=name))
                negotiation.back_to_back = True
            elif other_ends <= starts:
                warnings.append(book.BACK_TO_BACK.format(gap=span_text(starts - other_ends), other=name))
                negotiation.back_to_back = True
            else:  # the other starts shortly after this one ends: that one has no breathing room
                warnings.append(
                    f"Back-to-back: your negotiation with {name} starts {span_text(other.starts_at - ends)} "
                    "after this one ends. Leave time to reflect and prepare."
                )
                other.back_to_back = True
        return warnings

    async def _coffee_suggestion(
        self, session: AsyncSession, user: User, negotiation: Negotiation, counterpart: Counterpart, now: datetime
    ) -> Section | None:
        if negotiation.starts_at - now < self.timing.coffee_min_ahead:
            return None
        window = self.timing.contact_gap
        recent = await session.scalar(
            select(func.count())
            .select_from(Touchpoint)
            .where(
                Touchpoint.user_id == user.id,
                Touchpoint.counterpart_id == counterpart.id,
                Touchpoint.kind.in_(INFORMAL_TOUCHPOINTS),
                Touchpoint.at >= now - window,
            )
        )
        if recent:
            return None
        text = book.COFFEE_SUGGESTION.format(counterpart=counterpart.name, days=window.days)
        return Section(heading="Coffee first?", lines=(text,))

    async def _list(self, session: AsyncSession, user: User, command: c.ListNegotiations) -> Message:
        now, tz = self.clock.now(), n.user_zone(user)
        upcoming = (
            await session.scalars(
                select(Negotiation)
                .where(
                    Negotiation.owner_id == user.id,
                    Negotiation.status == "scheduled",
                    Negotiation.starts_at >= now - timedelta(days=7),
                )
                .order_by(Negotiation.starts_at)
                .limit(25)
            )
        ).all()
        recent = (
            await session.scalars(
                select(Negotiation)
                .where(Negotiation.owner_id == user.id, Negotiation.status == "done")
                .order_by(Negotiation.starts_at.desc())
                .limit(5)
            )
        ).all()
        if not upcoming and not recent:
            return Message(text="No negotiations yet. Log one: `log Acme tomorrow 3pm`.")

        def line(neg: Negotiation) -> str:
            state = ""
            if neg.status == "scheduled" and neg.starts_at <= now:
                state = " — held? `done " + str(neg.number) + "`"
            elif neg.status == "done":
                state = " — done" + (f": {neg.outcome}" if neg.outcome else "")
            return (
                f"#{neg.number} {neg.counterpart.name} — {when_text(neg.starts_at, tz)}, "
                f"{neg.duration_minutes} min, {neg.channel}{state}"
            )

        sections = []
        if upcoming:
            sections.append(Section(heading="Upcoming", lines=tuple(line(x) for x in upcoming)))
        if recent:
            sections.append(Section(heading="Recently done", lines=tuple(line(x) for x in recent)))
        return Message(text=f"Your negotiations ({tz.key} time):", sections=tuple(sections))

    async def _frame(self, session: AsyncSession, user: User, command: c.Frame) -> Message:
        negotiation = await self.owned(session, user, command.negotiation)
        negotiation.repeat = command.repeat
        if command.repeat:  # the counterpart may be long-term for colleagues already; this rep's list starts now
            await relationships.start_long_term(self, session, user, negotiation.counterpart)
        advice = book.FRAME_RELATIONSHIP if command.repeat else book.FRAME_ONE_OFF
        what = "a relationship" if command.repeat else "a one-off"
        return Message(
            text=f"Framed #{negotiation.number} with {negotiation.counterpart.name} as {what}.",
            sections=(Section(lines=(advice,)),),
            ref=f"negotiation:{negotiation.number}",
        )

    async def _done(self, session: AsyncSession, user: User, command: c.RecordOutcome) -> Message:
        negotiation = await self.owned(session, user, command.negotiation)
        if negotiation.status == "cancelled":
            raise CommandError(f"#{negotiation.number} was cancelled; log it again if it happened.")
        if command.sentiment is not None and not 1 <= command.sentiment <= 5:
            raise CommandError("Counterpart sentiment is 1 (cold) to 5 (warm).")
        for value in (command.concessions_given, command.concessions_received):
            if value is not None and not 0 <= value <= 100:
                raise CommandError("Concessions are counted 0 to 100.")
        again = negotiation.status == "done"
        now = self.clock.now()
        negotiation.status = "done"
        negotiation.done_at = negotiation.done_at or now
        if command.notes:
            notes = command.notes.strip()[:4000]
            negotiation.notes = f"{negotiation.notes}\n{notes}" if again and negotiation.notes else notes
        for field in (
            "outcome",
            "opened_with_connection",
            "sentiment",
            "hard_win",
            "concessions_given",
            "concessions_received",
            "observations",
        ):
            value = getattr(command, field)
            if value is not None:
                setattr(negotiation, field, value)
        if command.settled:
            await relationships.settle_issues(session, negotiation, command.settled)
        hard = bool(negotiation.hard_win) or (negotiation.sentiment is not None and negotiation.sentiment <= 2)
        if hard:
            await relationships.plan_repair(session, user, negotiation, now)
        # The call is over: no pre-call reminder, no "how did it go?" — but keep the follow-up reminder.
        await n.drop_pending(session, negotiation_id=negotiation.id, kinds=(n.PRECALL, n.FOLLOWUP))
        if negotiation.followup_sent_at is None:
            followup_at = max(now, negotiation.starts_at + timedelta(minutes=negotiation.duration_minutes))
            reminder = n.Planned(
                n.FOLLOWUP_REMINDER,
                n.negotiation_key(n.FOLLOWUP_REMINDER, negotiation),
                followup_at + self.timing.followup_reminder_after,
            )
            await n.enqueue(session, user, [reminder], negotiation_id=negotiation.id)
        lines = []
        if negotiation.followup_sent_at is None:
            lines.append(
                f"Send {negotiation.counterpart.name} a personal note within a day, "
                f"then `followup {negotiation.number}`."
            )
        lines.append(f"Promises made? `commit {negotiation.number} ours|theirs <what> by <when>`.")
        sections = [Section(lines=tuple(lines))]
        if hard:
            care = (
                book.HARD_WIN,
                "I'll remind you to send a personal note tomorrow and to check in two weeks from now.",
                f"Tell the account owner: `handoff {negotiation.number} @owner`.",
            )
            sections.append(Section(heading="Relationship care", lines=care))
        entry = await relationships.ledger(session, user, negotiation.counterpart_id)
        if entry is not None and entry.one_sided:
            sections.append(
                Section(heading="Concessions", lines=relationships.ledger_lines(entry, negotiation.counterpart.name))
            )
        verb = "Updated" if again else "Recorded"
        return Message(
            text=f"{verb} the outcome of #{negotiation.number} with {negotiation.counterpart.name}.",
            sections=tuple(sections),
            buttons=(
                Button("Follow-up sent", "negotiation.followup", f"followup {negotiation.number}"),
                Button("Add commitment", "form.commitment", f"commit {negotiation.number} ours "),
            ),
            ref=f"negotiation:{negotiation.number}",
        )

    async def _followup(self, session: AsyncSession, user: User, command: c.FollowUpSent) -> Message:
        negotiation = await self.owned(session, user, command.negotiation)
        if negotiation.followup_sent_at is not None:
            return Message(
                text=f"Already noted: you followed up with {negotiation.counterpart.name} on "
                f"{when_text(negotiation.followup_sent_at, n.user_zone(user))}.",
                ref=f"negotiation:{negotiation.number}",
            )
        now = self.clock.now()
        negotiation.followup_sent_at = now
        ends = negotiation.starts_at + timedelta(minutes=negotiation.duration_minutes)
        negotiation.followup_on_time = now <= ends + self.timing.followup_reminder_after
        session.add(
            Touchpoint(
                created_at=now,
                user_id=user.id,
                counterpart_id=negotiation.counterpart_id,
                negotiation_id=negotiation.id,
                kind="note",
                at=now,
                note=(command.note or "").strip()[:4000] or None,
            )
        )
        store.touch(negotiation.counterpart, now)
        await n.drop_pending(session, negotiation_id=negotiation.id, kinds=(n.FOLLOWUP, n.FOLLOWUP_REMINDER))
        return Message(
            text=f"Noted: personal follow-up sent to {negotiation.counterpart.name}. That's how deals last.",
            ref=f"negotiation:{negotiation.number}",
        )

    async def _reschedule(self, session: AsyncSession, user: User, command: c.Reschedule) -> Message:
        negotiation = await self.owned(session, user, command.negotiation)
        if negotiation.status != "scheduled":
            raise CommandError(f"#{negotiation.number} is {negotiation.status}; only scheduled ones can move.")
        now, tz = self.clock.now(), n.user_zone(user)
        await n.drop_pending(session, negotiation_id=negotiation.id, kinds=n.NEGOTIATION_KINDS)
        negotiation.starts_at = command.when
        await session.flush()
        warnings = await self._back_to_back(session, user, negotiation)
        await n.schedule_negotiation(session, negotiation, user, now=now, timing=self.timing)
        sections = (Section(heading="Heads-up", lines=tuple(warnings)),) if warnings else ()
        return Message(
            text=f"Moved #{negotiation.number} with {negotiation.counterpart.name} to "
            f"{when_text(negotiation.starts_at, tz)}; its reminders moved too.",
            sections=sections,
            ref=f"negotiation:{negotiation.number}",
        )

    async def _cancel(self, session: AsyncSession, user: User, command: c.CancelNegotiation) -> Message:
        negotiation = await self.owned(session, user, command.negotiation)
        if negotiation.status == "cancelled":
            return Message(text=f"#{negotiation.number} was already cancelled.")
        if negotiation.status == "done":
            raise CommandError(f"#{negotiation.number} is done already; there is nothing to cancel.")
        negotiation.status = "cancelled"
        await n.drop_pending(session, negotiation_id=negotiation.id, kinds=n.NEGOTIATION_KINDS)
        return Message(
            text=f"Cancelled #{negotiation.number} with {negotiation.counterpart.name}; no more reminders for it.",
            ref=f"negotiation:{negotiation.number}",
        )

    async def _ok(self, session: AsyncSession, user: User, command: c.Acknowledge) -> Message:
        return Message(text="👍 Got it.")

    async def _later(self, session: AsyncSession, user: User, command: c.RemindLater) -> Message:
        """Snooze: the same nudge again, later (a new outbox row; the sent one stays sent)."""
        now, tz = self.clock.now(), n.user_zone(user)
        if command.minutes is None:
            tomorrow = now.astimezone(tz).date() + timedelta(days=1)
            due = datetime.combine(tomorrow, self.timing.commitment_hour, tzinfo=tz).astimezone(now.tzinfo)
        else:
            due = now + timedelta(minutes=command.minutes)
        stamp = int(now.timestamp())
        if command.about != "commitment":
            negotiation = await self.owned(session, user, command.number)
            repair = {"note": relationships.REPAIR_NOTE, "check-in": relationships.REPAIR_CHECKIN}.get(command.about)
            if negotiation.status == "scheduled" and repair is None:
                kind = n.PRECALL if negotiation.starts_at > due else n.FOLLOWUP
            elif negotiation.status == "scheduled":
                raise CommandError(f"#{negotiation.number} hasn't happened yet; nothing to repair.")
            else:  # held: the relationship-repair nudge asked for, or the one it last brought
                kind = repair or await session.scalar(
                    select(Nudge.kind)
                    .where(
                        Nudge.negotiation_id == negotiation.id,
                        Nudge.user_id == user.id,
                        Nudge.kind.in_(relationships.REPAIR_KINDS),
                        Nudge.status == "sent",
                    )
                    .order_by(Nudge.sent_at.desc())
                    .limit(1)
                )
                if kind is None:
                    raise CommandError(f"#{negotiation.number} is {negotiation.status}; nothing to remind you of.")
            planned = n.Planned(kind, f"{kind}:{negotiation.id}:later:{stamp}", due, exempt_quiet=kind == n.PRECALL)
            await n.enqueue(session, user, [planned], negotiation_id=negotiation.id)
            what = f"#{negotiation.number} with {negotiation.counterpart.name}"
        else:
            commitment = await session.scalar(
                select(Commitment).where(Commitment.owner_id == user.id, Commitment.number == command.number)
            )
            if commitment is None or commitment.status != "open":
                raise CommandError(f"You have no open commitment #{command.number}.", USAGE["later"].usage)
            day = due.astimezone(tz).date()
            kind = n.COMMITMENT_OVERDUE
            if commitment.due_on is None or commitment.due_on > day:
                kind = n.COMMITMENT_BEFORE
            elif commitment.due_on == day:
                kind = n.COMMITMENT_DUE
            planned = n.Planned(kind, f"{kind}:{commitment.id}:later:{stamp}", due)
            # The snoozed reminder stands in for any regular one due by then: one message, not two.
            await session.execute(
                delete(Nudge).where(
                    Nudge.commitment_id == commitment.id,
                    Nudge.status == "pending",
                    Nudge.claimed_by.is_(None),
                    Nudge.due_at <= due,
                )
            )
            await n.enqueue(
                session, user, [planned], commitment_id=commitment.id, negotiation_id=commitment.negotiation_id
            )
            what = f"commitment #{commitment.number}"
        return Message(text=f"⏰ I'll remind you about {what} again {when_text(due, tz)}.")

    # -- prep brief ---------------------------------------------------------------------------------

    async def _prep(self, session: AsyncSession, user: User, command: c.Prep) -> Message:
        negotiation = await self.owned(session, user, command.negotiation)
        tz = n.user_zone(user)
        counterpart = negotiation.counterpart
        sections = [self._frame_section(negotiation)]
        tabled = await relationships.issue_lines(session, user, negotiation)
        sections.append(
            Section(
                heading="What's on the table",
                lines=(
                    *tabled,
                    "Agreement issues: " + "; ".join(book.AGREEMENT_ISSUES) + ".",
                    "Relationship issues: " + "; ".join(book.RELATIONSHIP_ISSUES) + ".",
                    f"Mark yours: `issues {negotiation.number} price, long-term goals`.",
                ),
            )
        )
        answers = await relationships.links_for(session, user, counterpart.id)
        sections.append(
            Section(heading=f"Lever of links ({user.role})", lines=relationships.leverage_lines(user.role, answers))
        )
        history = (
            await session.scalars(
                select(Negotiation)
                .where(
                    Negotiation.owner_id == user.id,
                    Negotiation.counterpart_id == counterpart.id,
                    Negotiation.id != negotiation.id,
                    Negotiation.status == "done",
                )
                .order_by(Negotiation.starts_at.desc())
                .limit(5)
            )
        ).all()
        if history:
            sections.append(Section(heading="History", lines=tuple(self._history_line(h, tz) for h in history)))
        sections.extend(await self._relationship_sections(session, user, negotiation))
        on_call = (
            book.CONNECTION_FIRST,
            book.CHANNEL_TIPS[negotiation.channel],
            book.NOT_TOUGHER,
            book.STRENGTHS_OF_ONLINE,
        )
        sections.append(Section(heading="On the call", lines=on_call))
        return Message(
            text=f"Prep brief #{negotiation.number}: {counterpart.name}, {when_text(negotiation.starts_at, tz)} "
            f"({negotiation.duration_minutes} min, {negotiation.channel}).",
            sections=tuple(sections),
            ref=f"negotiation:{negotiation.number}",
        )

    @staticmethod
    def _frame_section(negotiation: Negotiation) -> Section:
        if negotiation.repeat is None:
            return Section(
                heading="Frame",
                lines=(
                    book.FRAME_UNKNOWN,
                    book.FRAME_QUESTIONS[1].format(number=negotiation.number),
                ),
            )
        advice = book.FRAME_RELATIONSHIP if negotiation.repeat else book.FRAME_ONE_OFF
        lines = [advice]
        if negotiation.long_term_value:
            lines.append(f"What a partnership could bring: {negotiation.long_term_value}")
        return Section(heading="Frame", lines=tuple(lines))

    @staticmethod
    def _history_line(negotiation: Negotiation, tz: ZoneInfo) -> str:
        parts = [f"#{negotiation.number} {when_text(negotiation.starts_at, tz)}"]
        if negotiation.outcome:
            parts.append(negotiation.outcome)
        if negotiation.sentiment is not None:
            parts.append(f"sentiment {negotiation.sentiment}/5")
        if negotiation.hard_win:
            parts.append("hard win")
        if negotiation.notes:
            parts.append(negotiation.notes.splitlines()[0][:120])
        return " — ".join(parts)

    async def _relationship_sections(
        self, session: AsyncSession, user: User, negotiation: Negotiation
    ) -> list[Section]:
        """Open commitments both ways and remembered personal notes about this counterpart."""
        tz = n.user_zone(user)
        today = self.clock.now().astimezone(tz).date()
        open_commitments = (
            await session.scalars(
                select(Commitment)
                .where(
                    Commitment.owner_id == user.id,
                    Commitment.status == "open",
                    Commitment.counterpart_id == negotiation.counterpart_id,
                )
                .order_by(Commitment.due_on.is_(None), Commitment.due_on, Commitment.number)
            )
        ).all()
        sections = []
        if open_commitments:
            lines = tuple(self._commitment_line(x, today) for x in open_commitments)
            sections.append(Section(heading="Open commitments", lines=lines))
        notes = (
            await session.scalars(
                select(Touchpoint.note)
                .where(
                    Touchpoint.user_id == user.id,
                    Touchpoint.counterpart_id == negotiation.counterpart_id,
                    Touchpoint.note.is_not(None),
                )
                .order_by(Touchpoint.at.desc())
                .limit(3)
            )
        ).all()
        observations = (
            await session.scalars(
                select(Negotiation.observations)
                .where(
                    Negotiation.owner_id == user.id,
                    Negotiation.counterpart_id == negotiation.counterpart_id,
                    Negotiation.observations.is_not(None),
                )
                .order_by(Negotiation.starts_at.desc())
                .limit(3)
            )
        ).all()
        remembered = [x for x in (*observations, *notes) if x]
        if remembered:
            sections.append(Section(heading="What you know about them", lines=tuple(remembered[:5])))
        entry = await relationships.ledger(session, user, negotiation.counterpart_id)
        if entry is not None:
            lines = relationships.ledger_lines(entry, negotiation.counterpart.name)
            sections.append(Section(heading="Concession ledger", lines=lines))
        return sections

    # -- commitments --------------------------------------------------------------------------------

    async def _commit(self, session: AsyncSession, user: User, command: c.AddCommitment) -> Message:
        negotiation = await self.owned(session, user, command.negotiation)
        if command.side not in ("ours", "theirs"):
            raise CommandError("A commitment is ours or theirs.", USAGE["commit"].usage)
        text = " ".join(command.text.split())
        if not text:
            raise CommandError("What was promised?", USAGE["commit"].usage)
        commitment = Commitment(
            created_at=self.clock.now(),
            owner_id=user.id,
            number=await store.next_number(session, Commitment, owner_id=user.id),
            negotiation_id=negotiation.id,
            counterpart_id=negotiation.counterpart_id,
            side=command.side,
            text=text[:1000],
            due_on=command.due,
            status="open",
        )
        session.add(commitment)
        await session.flush()
        planned = await n.schedule_commitment(session, commitment, user, now=self.clock.now(), timing=self.timing)
        who = "You" if command.side == "ours" else negotiation.counterpart.name
        due = f" by {day_text(command.due)}" if command.due else ""
        lines = []
        if planned:
            lines.append("I'll remind you " + ", ".join(self._reminder_phrase(p.kind) for p in planned) + ".")
        elif command.due is None:
            lines.append("No due date, so no reminders: add one with `by friday` next time.")
        return Message(
            text=f"Commitment #{commitment.number} ({command.side}): {who} → {text}{due}.",
            sections=(Section(lines=tuple(lines)),) if lines else (),
            buttons=(
                Button("Kept", "commitment.kept", f"kept {commitment.number}", "primary"),
                Button("Missed", "commitment.missed", f"missed {commitment.number}", "danger"),
            ),
            ref=f"commitment:{commitment.number}",
        )

    @staticmethod
    def _reminder_phrase(kind: str) -> str:
        return {
            n.COMMITMENT_BEFORE: "the day before",
            n.COMMITMENT_DUE: "on the day",
            n.COMMITMENT_OVERDUE: "once if it is overdue",
        }[kind]

    @staticmethod
    def _commitment_line(commitment: Commitment, today: date) -> str:
        who = "we" if commitment.side == "ours" else commitment.negotiation.counterpart.name
        due = ""
        if commitment.due_on:
            due = f" — due {day_text(commitment.due_on)}"
            if commitment.due_on < today:
                due += " ⚠ OVERDUE"
            elif commitment.due_on == today:
                due += " (today)"
        return f"#{commitment.number} {who}: {commitment.text}{due}"

    async def _commitments(self, session: AsyncSession, user: User, command: c.ListCommitments) -> Message:
        today = self.clock.now().astimezone(n.user_zone(user)).date()
        rows = (
            await session.scalars(
                select(Commitment)
                .where(Commitment.owner_id == user.id, Commitment.status == "open")
                .order_by(Commitment.due_on.is_(None), Commitment.due_on, Commitment.number)
                .limit(100)
            )
        ).all()
        if not rows:
            return Message(text="No open commitments. Record one with `commit <negotiation id> ours|theirs <what>`.")
        sections = []
        for side, heading in (("ours", "Ours (what we promised)"), ("theirs", "Theirs (what they promised)")):
            lines = tuple(self._commitment_line(x, today) for x in rows if x.side == side)
            if lines:
                sections.append(Section(heading=heading, lines=lines))
        overdue = sum(1 for x in rows if x.due_on and x.due_on < today)
        summary = f"{len(rows)} open commitment" + ("s" if len(rows) != 1 else "")
        if overdue:
            summary += f", {overdue} overdue"
        return Message(text=summary + ". Mark them with `kept <id>` or `missed <id>`.", sections=tuple(sections))

    async def _resolve(self, session: AsyncSession, user: User, command: c.ResolveCommitment) -> Message:
        commitment = await session.scalar(
            select(Commitment).where(Commitment.owner_id == user.id, Commitment.number == command.commitment)
        )
        if commitment is None:
            raise CommandError(f"You have no commitment #{command.commitment}. Type `commitments` to see yours.")
        status = "kept" if command.kept else "missed"
        if commitment.status == status:
            return Message(text=f"Commitment #{commitment.number} is already marked {status}.")
        commitment.status = status
        commitment.resolved_at = self.clock.now()
        await n.drop_pending(session, commitment_id=commitment.id)
        text = f"Commitment #{commitment.number} marked {status}: {commitment.text}."
        lines: tuple[str, ...] = ()
        if not command.kept and commitment.side == "ours":
            lines = ("Tell them openly and offer a new date — trust survives a delay, not silence.",)
        elif not command.kept:
            lines = ("Raise it in your next conversation, calmly: what got in the way, and what now?",)
        return Message(
            text=text, sections=(Section(lines=lines),) if lines else (), ref=f"commitment:{commitment.number}"
        )

    # -- relationship upkeep ------------------------------------------------------------------------

    async def _coffee(self, session: AsyncSession, user: User, command: c.RecordCoffee) -> Message:
        name = " ".join(command.counterpart.split())
        if not name or len(name) > 200:
            raise CommandError("Who did you have coffee with?", USAGE["coffee"].usage)
        now, tz = self.clock.now(), n.user_zone(user)
        at = command.when or now
        counterpart = await store.counterpart(session, workspace_id=user.workspace_id, name=name)
        session.add(Touchpoint(created_at=now, user_id=user.id, counterpart_id=counterpart.id, kind="coffee", at=at))
        store.touch(counterpart, at)
        planned = at > now
        text = (
            f"Coffee chat with {counterpart.name} planned for {when_text(at, tz)}. Enjoy it — no agenda."
            if planned
            else f"Coffee chat with {counterpart.name} recorded. Relationships beyond the deal are leverage."
        )
        return Message(text=text, ref=f"counterpart:{counterpart.id}")

    # -- settings -----------------------------------------------------------------------------------

    async def _settings(self, session: AsyncSession, user: User, command: c.ChangeSettings) -> Message:
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
            await self._replan(session, user)
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

    async def _replan(self, session: AsyncSession, user: User) -> None:
        """Settings changed: re-plan the pending nudges of everything still ahead."""
        now = self.clock.now()
        await session.flush()
        await n.drop_pending(session, user_id=user.id, kinds=n.NEGOTIATION_KINDS + n.COMMITMENT_KINDS)
        ahead = await session.scalars(
            select(Negotiation).where(Negotiation.owner_id == user.id, Negotiation.status == "scheduled")
        )
        for negotiation in ahead:
            if negotiation.starts_at > now - timedelta(days=2):
                await n.schedule_negotiation(session, negotiation, user, now=now, timing=self.timing)
        open_commitments = await session.scalars(
            select(Commitment).where(Commitment.owner_id == user.id, Commitment.status == "open")
        )
        for commitment in open_commitments:
            await n.schedule_commitment(session, commitment, user, now=now, timing=self.timing)

    # -- nudges -------------------------------------------------------------------------------------

    async def compose(self, session: AsyncSession, nudge: Nudge, user: User) -> Composed:
        """The message for a due nudge, written now so it shows the latest state — or why not to send."""
        now = self.clock.now()
        if nudge.kind == privacy.EXPORT:  # asked for just now: not a nudge, whatever the settings
            return await privacy.compose_export(session, user)
        # Weekly rows line up next week's first, so nudges off or quiet hours never break the rhythm.
        if nudge.kind == leads.DIGEST:
            await leads.chain_digest(self, session, nudge.key, user)
        elif nudge.kind == relationships.STAY_IN_TOUCH:
            await relationships.chain_stay_in_touch(session, nudge.key, user)
        # Checked before composing: a digest is a dozen queries and a chart, wasted if it has to wait.
        if not user.nudges_enabled:
            return Skip("nudges are off")
        if not nudge.exempt_quiet:
            until = n.quiet_until(user, now)
            if until:
                return Defer(until)
        if nudge.kind == leads.DIGEST:
            return await leads.compose_digest(self, session, nudge.key, user) or Skip("no team any more")
        if nudge.kind == relationships.STAY_IN_TOUCH:
            return await relationships.compose_stay_in_touch(self, session, user) or Skip("nobody due for contact")
        if nudge.kind in n.NEGOTIATION_KINDS:
            negotiation = await session.get(Negotiation, nudge.negotiation_id) if nudge.negotiation_id else None
            if negotiation is None:
                return Skip("negotiation gone")
            return await self._negotiation_nudge(session, nudge, user, negotiation)
        if nudge.kind in (relationships.REPAIR_NOTE, relationships.REPAIR_CHECKIN, relationships.HANDOFF):
            negotiation = await session.get(Negotiation, nudge.negotiation_id) if nudge.negotiation_id else None
            if negotiation is None or negotiation.status == "cancelled":
                return Skip("negotiation gone")
            if nudge.kind == relationships.HANDOFF:
                sender = await session.get(User, negotiation.owner_id)
                assert sender is not None
                return relationships.compose_handoff(negotiation, sender, user)
            return relationships.compose_repair(nudge.kind, negotiation) or Skip("note already sent")
        if nudge.kind in n.COMMITMENT_KINDS:
            commitment = await session.get(Commitment, nudge.commitment_id) if nudge.commitment_id else None
            if commitment is None or commitment.status != "open":
                return Skip("commitment resolved")
            return self._commitment_nudge(nudge, user, commitment)
        return Skip(f"unknown kind {nudge.kind}")

    async def _negotiation_nudge(
        self, session: AsyncSession, nudge: Nudge, user: User, negotiation: Negotiation
    ) -> Composed:
        tz, now = n.user_zone(user), self.clock.now()
        name, number = negotiation.counterpart.name, negotiation.number
        ref = f"negotiation:{number}"
        if nudge.kind == n.PRECALL:
            if negotiation.status != "scheduled" or negotiation.starts_at <= now - timedelta(minutes=5):
                return Skip("no longer ahead")
            sections = [
                Section(heading="Personal connection first", lines=(book.CONNECTION_FIRST, book.NO_RUSHING)),
                self._frame_section(negotiation),
            ]
            sections.extend(await self._relationship_sections(session, user, negotiation))
            tips = (book.CHANNEL_TIPS[negotiation.channel],)
            if negotiation.channel in ("video", "phone"):
                tips += (book.VIRTUAL_TRUST,)
            sections.append(Section(heading=f"On {negotiation.channel}", lines=tips))
            when = span_text(negotiation.starts_at - now)
            starts = when_text(negotiation.starts_at, tz)
            return Message(
                text=f"In {when}: #{number} with {name} ({starts}, {negotiation.channel}).",
                sections=tuple(sections),
                buttons=(
                    Button("Got it", "nudge.ok", "ok", "primary"),
                    Button("Snooze 10 min", "nudge.snooze", f"later negotiation {number} 10"),
                    Button("Prep brief", "negotiation.prep", f"prep {number}"),
                ),
                kind=nudge.kind,
                ref=ref,
            )
        if negotiation.status == "cancelled":
            return Skip("cancelled")
        if nudge.kind == n.FOLLOWUP:
            if negotiation.status == "done":
                return Skip("outcome already recorded")
            return Message(
                text=f"How did #{number} with {name} go?",
                sections=(Section(lines=(book.FOLLOWUP_PROMPT.format(counterpart=name),)),),
                buttons=(
                    Button("Log outcome", "form.outcome", f"done {number}", "primary"),
                    Button("Add commitment", "form.commitment", f"commit {number} ours "),
                    Button("Follow-up sent", "negotiation.followup", f"followup {number}"),
                    Button("Remind me in 1 h", "nudge.snooze", f"later negotiation {number} 60"),
                ),
                kind=nudge.kind,
                ref=ref,
            )
        # FOLLOWUP_REMINDER
        if negotiation.followup_sent_at is not None:
            return Skip("follow-up sent")
        return Message(
            text=f"A personal note to {name}?",
            sections=(Section(lines=(book.FOLLOWUP_REMINDER.format(counterpart=name), book.ENGAGE)),),
            buttons=(
                Button("Follow-up sent", "negotiation.followup", f"followup {number}", "primary"),
                Button("Remind me tomorrow", "nudge.snooze", f"later negotiation {number} tomorrow"),
            ),
            kind=nudge.kind,
            ref=ref,
        )

    def _commitment_nudge(self, nudge: Nudge, user: User, commitment: Commitment) -> Composed:
        stage = nudge.kind.removeprefix("commitment_")
        templates = book.COMMITMENT_OURS if commitment.side == "ours" else book.COMMITMENT_THEIRS
        counterpart = commitment.negotiation.counterpart.name
        due = day_text(commitment.due_on) if commitment.due_on else ""
        text = templates[stage].format(counterpart=counterpart, text=commitment.text, due=due)
        return Message(
            text=text,
            sections=(
                Section(
                    lines=(f"Commitment #{commitment.number}, from negotiation #{commitment.negotiation.number}.",)
                ),
            ),  # fmt: skip
            buttons=(
                Button("Kept", "commitment.kept", f"kept {commitment.number}", "primary"),
                Button("Missed", "commitment.missed", f"missed {commitment.number}", "danger"),
                Button("Snooze to tomorrow", "commitment.snooze", f"later commitment {commitment.number} tomorrow"),
            ),
            kind=nudge.kind,
            ref=f"commitment:{commitment.number}",
        )
