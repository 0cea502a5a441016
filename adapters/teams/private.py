"""Answered privately: what shows a person's own data, and how such an answer leaves a shared chat.

In a channel or group chat, an answer that shows the person's own data (their negotiations, commitments,
counterparts, settings, digest, export …) goes to their personal chat with DealCoach — created when there
is none yet — and the thread gets one line saying so. Everything else (help, adding a colleague to a
team) is answered in the thread.

Which commands show personal data is decided by the command word, in :data:`PERSONAL_DATA` — for now
here, on the adapter side, and carried on the answer as ``Message.personal`` (the coach may set that
flag itself later; an answer it marks personal stays personal).
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
from adapters.teams.submissions import PersonPick, TypedText
from coaching.commands import Actor
from coaching.messages import Message
from coaching.parser import ALIASES
from coaching.ports import DeliveryError

log = logging.getLogger(__name__)

SENT_PRIVATELY = "I've answered you privately, in our personal chat."
PRIVATE_ONLY = (
    "That answer is about your own deals, so it only goes to our personal chat — and I can't open one with "
    "you yet. Open DealCoach from the Teams app bar (or search for it under Chat), then ask again."
)

# the command word (for `team`: with its first argument) → does the answer show the person's own data?
PERSONAL_DATA: dict[str, bool] = {
    "help": False,
    "ok": False,
    "team add": False,
    "team remove": False,
    "team": True,  # `team` / `team list`: who is on your team, and your lead
    "team list": True,
    "team accept": True,
    "team decline": True,
    "team leave": True,
    "list": True,
    "prep": True,
    "commitments": True,
    "digest": True,
    "export": True,
    "forget-me": True,
    "settings": True,
    "counterpart": True,
    "counterparts": True,
    "due": True,
    "calendar": True,
    "log": True,  # the answer lists back-to-backs and coffee-chat history
    "done": True,
    "outcome": True,
    "followup": True,
    "reschedule": True,
    "cancel": True,
    "frame": True,
    "issues": True,
    "commit": True,
    "kept": True,
    "missed": True,
    "coffee": True,
    "call": True,
    "note": True,
    "snooze": True,
    "links": True,
    "later": True,
    "handoff": True,  # names the counterpart
}
UNKNOWN_WORD_IS_PERSONAL = True  # a command this table does not know yet: private, to be safe


def command_word(text: str) -> str:
    """The table key for ``text``: its first word (aliases resolved), with ``team``'s first argument."""
    words = text.lower().split()
    if words and words[0].startswith("/"):
        words = words[1:]
    if not words:
        return "help"
    word = ALIASES.get(words[0], words[0])
    if word == "team" and len(words) > 1:
        action = {"rm": "remove", "delete": "remove", "ls": "list"}.get(words[1], words[1])
        return f"team {action}"
    return word


def shows_personal_data(request: Any, answer: Message | None = None) -> bool:
    """Whether the answer to ``request`` is answered privately in a shared chat (before it is known,
    ``answer`` is None: decided by the command word alone)."""
    if answer is not None and answer.personal:
        return True
    if isinstance(request, TypedText | PersonPick):
        text = request.text if isinstance(request, TypedText) else request.command
        return PERSONAL_DATA.get(command_word(text), UNKNOWN_WORD_IS_PERSONAL)
    return True  # a structured command comes from a form about one of the person's negotiations


def marked(request: Any, answer: Message) -> Message:
    return replace(answer, personal=shows_personal_data(request, answer))


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
