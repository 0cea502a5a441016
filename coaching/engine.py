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
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coaching import commands as c
from coaching import (
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
from coaching import nudges as n
from coaching.messages import Attachment, Message, error
from coaching.models import Nudge, User, Workspace
from coaching.parser import CommandError, Context, parse_command
from coaching.ports import Abandon, Address, Clock, Personal
from coaching.room import Answer, CoachDefaults, Composed, Composer, Defer, Handler, Skip, Turn, compose_due, merged

__all__ = ["Coach", "CoachDefaults", "Composed", "Defer", "Skip"]  # the last four live in coaching.room

log = logging.getLogger(__name__)

AlsoInTransaction = Callable[[AsyncSession], Awaitable[None]]
ROOMS = (guide, negotiations, commitments, relationships, directory, leads, privacy, settings)
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


class Coach:
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
    ) -> None:
        self.sessions = sessions
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

        async def run(turn: Turn) -> Message:
            question = questions.awaited(turn.user, turn.now)
            answer = ANSWERS.get(question["kind"]) if question else None
            if question is not None and answer is not None:  # the room that asked reads it first
                reply = await answer(turn, question, text)
                if isinstance(reply, Message):
                    return reply
                if isinstance(reply, questions.Rerun):
                    done = await self._dispatch(turn, parse_command(actor, reply.text, self.context(turn.user)))
                    if reply.receipt and turn.user.awaiting is None:  # the same words again are not run twice
                        ttl = questions.RECEIPT_TTL
                        questions.ask(turn.user, reply.receipt, now=turn.now, ttl=ttl, text=reply.text)
                    return done
            return await self._dispatch(turn, parse_command(actor, text, self.context(turn.user)))

        return await self._run(actor, run, also, shared)

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
            async with self.sessions() as session, session.begin():
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
        return Turn(session, user, self.clock.now(), n.user_zone(user), self.defaults, admin)

    async def _ensure_user(self, session: AsyncSession, actor: c.Actor) -> User:
        return await store.ensure_user(
            session,
            address=actor.address,
            display_name=actor.display_name,
            timezone=actor.timezone,
            locale=actor.locale,
            new=self._new_user,
        )

    async def upsert_user(
        self, actor: c.Actor, *, channel: str | None = None, conversation_ref: dict[str, Any] | None = None
    ) -> None:
        """Record what a platform told us about a person: name, time zone, DM channel, Teams reference."""
        async with self.sessions() as session, session.begin():
            user = await self._ensure_user(session, actor)
            if channel and user.dm_channel != channel:
                user.dm_channel = channel
            if conversation_ref is not None and user.conversation_ref != conversation_ref:
                user.conversation_ref = conversation_ref

    async def home(self, actor: c.Actor) -> list[Message]:
        """What an app home shows: upcoming negotiations, open commitments, counterparts due for contact."""
        messages = [await self.handle_text(actor, "list"), await self.handle_text(actor, "commitments")]
        async with self.sessions() as session:
            user = await store.user_at(session, address=actor.address)
            due = await relationships.home_section(self.turn(session, user)) if user else None
        if due is not None:
            messages.append(due)
        return messages

    async def export_file(self, address: Address) -> Attachment | None:
        """The person's data export as a file, built now (for platforms that fetch it in a second step,
        such as a Teams file-upload consent); None if DealCoach stores nothing about them."""
        async with self.sessions() as session:
            user = await store.user_at(session, address=address)
            if user is None:
                return None
            message = await privacy.export_message(session, user)
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

    # -- nudges -------------------------------------------------------------------------------------

    async def compose(self, session: AsyncSession, nudge: Nudge, user: User) -> Composed:
        """The message for a due nudge, written now so it shows the latest state — or why not to send."""
        return await compose_due(COMPOSERS.get(nudge.kind), self.turn(session, user), nudge)
