"""A request (typed words, a card click, a form) → the coach → its answer, shown where it may be seen.

Shared by message activities and ``adaptiveCard/action`` invokes: colleagues are resolved first
(:mod:`adapters.teams.people`), a question from a shared chat whose answer is personal needs the asker's
personal chat before anything runs (:mod:`adapters.teams.private`), and a coach failure becomes an
apology, never a stack trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from botbuilder.core import TurnContext

from adapters.secret_words import about_calendar
from adapters.teams import calendars, people, private, replies, translate
from adapters.teams.deps import Deps
from adapters.teams.submissions import TypedText
from coaching.commands import TeamAdd
from coaching.messages import Message, Section
from coaching.ports import Personal
from coaching.privacy import FORGOTTEN

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong on my side and nothing was changed. Please try again in a moment."


@dataclass(frozen=True)
class Answered:
    message: Message  # what the coach (or the adapter, instead of it) said
    privately: bool = False  # it went to the personal chat, and the thread got one line
    ran: bool = True  # the coach handled a command (False: a picker, or no personal chat to answer in)


async def ask(deps: Deps, request: Any, *, shared: bool = False) -> Message:
    """The coach's answer (``shared``: only if it may be shown in a shared chat, else :class:`Personal`)."""
    try:
        if isinstance(request, TypedText):
            return await deps.coach.handle_text(request.actor, request.text, shared=shared)
        return await deps.coach.handle(request, shared=shared)
    except Personal:
        raise
    except Exception:
        log.exception("teams: the coach failed on %s", type(request).__name__)
        return Message(text=SORRY, kind="error")


def _secret(request: Any) -> bool:
    """Typed words that may hold a secret (``calendar <url>``): asked in a shared chat, the coach refuses them
    there even when the answer could go to the personal chat — everyone in the chat has read the words."""
    return isinstance(request, TypedText) and about_calendar(request.text)


def _with_notes(answer: Message, notes: list[str]) -> Message:
    if not notes or answer.is_error:
        return answer
    return replace(answer, sections=(*answer.sections, Section(lines=tuple(notes))))


async def respond(deps: Deps, turn: TurnContext, request: Any) -> Answered:
    """Answer ``request``; in a shared chat, a personal answer goes to the asker's personal chat."""
    shared = not translate.is_personal(turn.activity)
    resolution = await people.resolve(deps, turn, request)
    if resolution.reply is not None:
        await replies.send(turn, resolution.reply)
        return Answered(Message(text=resolution.reply.summary or ""), ran=False)
    request = await calendars.with_email_if_calendar(deps, turn, resolution.request)
    reference = await deps.coach.conversation_ref(translate.address_of(turn.activity)) if shared else None
    if isinstance(request, TeamAdd) and shared and reference is None:
        reference = await private.personal_chat(deps, turn)  # a new lead's weekly digest needs their personal chat
    try:  # no personal chat yet, or words that must not be typed here: only what may be shown here runs
        answer = await ask(deps, request, shared=shared and (reference is None or _secret(request)))
    except Personal:
        reference = reference or await private.personal_chat(deps, turn)
        if reference is None:  # nowhere to show the answer: it did not run
            refusal = Message(text=private.PRIVATE_ONLY)
            await replies.reply(turn, refusal)
            return Answered(refusal, ran=False)
        answer = await ask(deps, request)
    answer = _with_notes(answer, resolution.notes)
    if answer.kind == FORGOTTEN:  # the stored reference went too: the next activity must store it again
        deps.memo.forget(translate.address_of(turn.activity))
    privately = await private.deliver(deps, turn, answer, reference)
    return Answered(answer, privately=privately)
