"""Answered privately: how an answer that shows a person's own data leaves a shared chat.

In a channel or group chat, an answer that shows the person's own data (their negotiations, commitments,
counterparts, settings, digest, export …) goes to their personal chat with DealCoach — created when there
is none yet — and the thread gets one line saying so. Everything else (help, inviting a colleague to a
team) is answered in the thread.

Which answers are personal is the coach's to say: each room marks what it returns (``Message.personal``),
and this adapter only reads the flag. When the asker has no personal chat yet, the coach is asked with
``shared=True`` first: it answers only what may be shown in the thread, and for anything personal rolls the
command back (:class:`coaching.ports.Personal`), so nothing runs whose answer could not be shown.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import ConversationReference

from adapters.teams import reach, replies, translate
from adapters.teams.deps import Deps
from adapters.teams.reach import Unreachable
from coaching.commands import Actor
from coaching.messages import Message
from coaching.ports import DeliveryError

log = logging.getLogger(__name__)

SENT_PRIVATELY = "I've answered you privately, in our personal chat."
PRIVATE_ONLY = (
    "That answer is about your own deals, so it only goes to our personal chat — and I can't open one with "
    "you yet. Open DealCoach from the Teams app bar (or search for it under Chat), then ask again."
)


async def personal_chat(deps: Deps, turn: TurnContext) -> dict[str, Any] | None:
    """The asker's personal-chat reference: stored, else opened now (and stored); None if Teams refuses."""
    activity = turn.activity
    actor = translate.actor_of(activity)
    address = translate.address_of(activity)
    stored = await deps.coach.conversation_ref(address)
    if stored:
        return stored
    try:
        reference = await reach.open_personal_chat(turn, reach.sender_of(activity), app_id=deps.app_id)
    except Unreachable:
        return None
    channel = reference["conversation"]["id"]
    personal = Actor(replace(address, channel=channel), actor.display_name, actor.timezone)
    await deps.coach.upsert_user(personal, channel=channel, conversation_ref=reference)
    return reference


async def send_privately(deps: Deps, turn: TurnContext, message: Message, stored: dict[str, Any] | None) -> bool:
    """``message`` into the asker's personal chat; False when there is none and Teams won't open one."""
    stored = stored or await personal_chat(deps, turn)
    if stored is None:
        return False
    address = translate.address_of(turn.activity)
    try:
        reference = ConversationReference().deserialize(stored)
        await deps.sender.deliver(reference, replace(address, channel=reference.conversation.id), message)
    except DeliveryError as error:
        log.warning("teams: private answer not delivered: %s", error)
        return False
    except Exception as error:  # an unreadable stored reference: the same as none
        log.warning("teams: private answer not delivered: %s", type(error).__name__)
        return False
    return True


async def deliver(deps: Deps, turn: TurnContext, message: Message, reference: dict[str, Any] | None = None) -> bool:
    """Show ``message`` where it may be seen; True when it went to the personal chat from a shared one."""
    if translate.is_personal(turn.activity) or not message.personal:
        await replies.reply(turn, message)
        return False
    delivered = await send_privately(deps, turn, message, reference)
    await replies.reply(turn, Message(text=SENT_PRIVATELY if delivered else PRIVATE_ONLY))
    return delivered
