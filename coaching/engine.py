"""The coach: runs each command in one transaction, dispatches it to the room of its concept, and writes
due nudges with the room of their kind.

Every command runs in one transaction together with the nudges it enqueues (the outbox pattern), so
what a user typed and what the coach promised to remind them of are stored together or not at all.
The rooms (``coaching/negotiations.py``, ``commitments.py``, ``relationships.py``, ``leads.py``,
``privacy.py``, ``settings.py``, ``guide.py``) hold the handlers and composers; see ``coaching.room``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coaching import (
    calendars,
    commitments,
    directory,
    guide,
    leads,
    negotiations,
    privacy,
    questions,
    relationships,
    settings,
    store,
    texts,
    transient,
)
from coaching import commands as c
from coaching import nudges as n
from coaching.accounts import Accounts
from coaching.messages import Message, error
from coaching.models import Nudge, User
from coaching.parser import CommandError, Context, parse_command
from coaching.ports import Abandon, Clock, Personal
from coaching.room import (
    Answer,
    CalendarSetup,
    CoachDefaults,
    Composed,
    Composer,
    Defer,
    Handler,
    Skip,
    Turn,
    compose_due,
    merged,
)

__all__ = ["Coach", "CoachDefaults", "Composed", "Defer", "Skip"]  # the last four live in coaching.room

log = logging.getLogger(__name__)

AlsoInTransaction = Callable[[AsyncSession], Awaitable[None]]
ROOMS = (guide, negotiations, commitments, relationships, directory, leads, privacy, settings, calendars)
HANDLERS: dict[type[c.Command], Handler] = merged(room.HANDLERS for room in ROOMS)
COMPOSERS: dict[str, Composer] = merged(room.COMPOSERS for room in ROOMS)
SNOOZES: dict[str, Handler] = merged(getattr(room, "SNOOZES", {}) for room in ROOMS)  # ``later <what> …``
ANSWERS: dict[str, Answer] = merged(getattr(room, "ANSWERS", {}) for room in ROOMS)  # question kind → answer


def personal(reply: Message) -> Message:
    """The one rule for where an answer may be shown: what a room did not mark is the person's own."""
    return reply if reply.personal is not None else replace(reply, personal=True)


def handler_for(command: c.Command) -> Handler:
    if isinstance(command, c.RemindLater):  # one command word, snoozing the nudges of two rooms
        return SNOOZES.get(command.about, SNOOZES["negotiation"])
    return HANDLERS[type(command)]


class Coach(Accounts):
    """``admins``: platform user ids of the people who manage this install (``DEALCOACH_ADMINS``: Teams AAD
    object ids, console names), besides those their platform reports (an actor's ``admin``: Slack's
    ``is_admin``/``is_owner``). An admin's ``team add`` needs no consent."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        defaults: CoachDefaults | None = None,
        *,
        admins: Collection[str] = (),
        calendar: CalendarSetup | None = None,
    ) -> None:
        self.sessions = sessions
        self.calendar = calendar or CalendarSetup()
        self.clock = clock
        self.admins = frozenset(admins)
        self.defaults = defaults or CoachDefaults()
        self.timing = self.defaults.timing
        self._new_user = self.defaults.new_user()  # the defaults are frozen: built once, not per command

    # -- entry points -------------------------------------------------------------------------------

    async def handle_text(
        self, actor: c.Actor, text: str, *, also: AlsoInTransaction | None = None, shared: bool = False
    ) -> Message:
        """Parse what the user typed (in their time zone) and handle it.

        ``also(session)`` runs inside the command's transaction just before it commits (an adapter marks its
        inbox row handled there, so a command is applied once or not at all); if it raises, nothing is stored.
        ``shared``: asked where others read the answer; an answer that shows the person's own data is not
        given (nor anything stored): :class:`~coaching.ports.Personal` is raised instead.
        """
        if texts.unstorable(text):
            return personal(error(texts.UNSTORABLE))
        fetched: c.Command | None = None  # ``calendar <url>`` / ``calendar sync``: fetched before the transaction
        if not shared:
            fetched = await self._prefetched(actor, text)

        def parse(turn: Turn, words: str) -> c.Command:
            command = parse_command(actor, words, self.context(turn.user))
            if fetched is not None and type(command) is type(fetched) and words == text:
                return fetched
            return command

        async def dispatch(turn: Turn, command: c.Command) -> Message:
            refusal = calendars.refuse_when_shared(command) if shared else None
            return refusal if refusal is not None else await self._dispatch(turn, command)

        async def run(turn: Turn) -> Message:
            question = questions.awaited(turn.user, turn.now)
            answer = ANSWERS.get(question["kind"]) if question else None
            if question is not None and answer is not None:  # the room that asked reads it first
                reply = await answer(turn, question, text)
                if isinstance(reply, Message):
                    return reply
                if isinstance(reply, questions.Rerun):
                    done = await dispatch(turn, parse(turn, reply.text))
                    if reply.receipt and turn.user.awaiting is None:  # the same words again are not run twice
                        ttl = questions.RECEIPT_TTL
                        questions.ask(turn.user, reply.receipt, now=turn.now, ttl=ttl, text=reply.text)
                    return done
            return await dispatch(turn, parse(turn, text))

        return await self._run(actor, run, also, shared)

    async def _prefetched(self, actor: c.Actor, text: str) -> c.Command | None:
        """The calendar command in ``text`` with its feed fetched, when it needs one (network, never inside a
        transaction); None for every other command."""
        if self.calendar.feeds is None or "calendar" not in text[:40].lower():
            return None
        try:  # the calendar words read no times: any zone will do here, the command proper is read again
            command = parse_command(actor, text, Context(now=self.clock.now(), tz=n.user_zone_named(actor.timezone)))
        except CommandError:
            return None
        if not isinstance(command, c.CalendarSubscribe | c.CalendarSync):
            return None
        return await calendars.prefetch(self.sessions, self.calendar, actor, command)

    async def import_calendar(self, actor: c.Actor, data: bytes, *, filename: str) -> Message:
        """An .ics file the person sent: read once, exactly as a feed's sync reads it; the reply lists what was
        found, with *Not a negotiation* / *Never this series* per meeting. A file that is too large, empty or
        no calendar gets a clear error, and nothing is stored."""
        return await self._run(actor, lambda turn: calendars.import_file(turn, data, filename))

    async def sync_calendars(
        self, *, worker: str, stopping: Callable[[], bool] = lambda: False
    ) -> calendars.PollReport:
        """The scheduler's calendar poll: sync every feed that is due (claimed, so replicas share the work)."""
        return await calendars.poll(
            self.sessions, self.calendar, self.clock, self.turn, worker=worker, stopping=stopping
        )

    async def handle(
        self, command: c.Command, *, also: AlsoInTransaction | None = None, shared: bool = False
    ) -> Message:
        """Handle a structured command (a form's); ``also`` and ``shared`` as for :meth:`handle_text`."""
        if texts.unstorable(command):
            return personal(error(texts.UNSTORABLE))
        return await self._run(command.actor, lambda turn: self._dispatch(turn, command), also, shared)

    @staticmethod
    async def _dispatch(turn: Turn, command: c.Command) -> Message:
        questions.settle(turn.user)  # any command ends an open question; its handler may ask a new one
        return await handler_for(command)(turn, command)

    async def _run(
        self,
        actor: c.Actor,
        run: Callable[[Turn], Awaitable[Message]],
        also: AlsoInTransaction | None = None,
        shared: bool = False,
    ) -> Message:
        try:
            # No ``async with`` around the session: its close (a task, a shield and a greenlet hop, ~40 µs) would
            # only let go of the objects read; the transaction's end already gave the connection back to the pool.
            session = self.sessions()
            async with session.begin():
                user = await self._ensure_user(session, actor)
                reply = personal(await run(self.turn(session, user, actor)))
                if shared and reply.personal:
                    raise Personal(type(reply).__name__)
                if also is not None:
                    await also(session)
                return reply
        except CommandError as problem:
            if shared:  # what the person typed is about their own data, or it would not have got this far
                raise Personal("error") from None
            return personal(error(problem.message, problem.usage, problem.field))
        except Abandon:
            raise
        except Exception as problem:
            if transient.is_transient(problem):  # nothing was stored; a caller that can retry will
                return transient.not_saved(problem, f"{actor.address.platform} command")
            log.exception("command failed for %s user %s", actor.address.platform, actor.address.user)
            return error("Sorry, something went wrong on my side. Nothing was changed; please try again.")

    def context(self, user: User) -> Context:
        return Context(now=self.clock.now(), tz=n.user_zone(user), dates=store.date_order(user))

    def turn(self, session: AsyncSession, user: User, actor: c.Actor | None = None) -> Turn:
        """What a room's handler or composer gets: this transaction, the person, now, and the install's defaults."""
        admin = actor is not None and (actor.admin or actor.address.user in self.admins)
        return Turn(session, user, self.clock.now(), n.user_zone(user), self.defaults, admin, self.calendar)

    async def home(self, actor: c.Actor) -> list[Message]:
        """What an app home shows: upcoming negotiations, open commitments, counterparts due for contact."""
        messages = [await self.handle_text(actor, "list"), await self.handle_text(actor, "commitments")]
        async with self.sessions() as session:
            user = await store.user_at(session, address=actor.address)
            due = await relationships.home_section(self.turn(session, user)) if user else None
        if due is not None:
            messages.append(due)
        return messages

    # -- nudges -------------------------------------------------------------------------------------

    async def compose(self, session: AsyncSession, nudge: Nudge, user: User) -> Composed:
        """The message for a due nudge, written now so it shows the latest state — or why not to send."""
        return await compose_due(COMPOSERS.get(nudge.kind), self.turn(session, user), nudge)
