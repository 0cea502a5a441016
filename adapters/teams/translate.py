"""Bot Framework activity → DealCoach input: pure functions, no I/O.

An incoming message becomes :class:`TypedText` (words for the coach's parser, the same words as the
Slack slash command); a click on a DealCoach card becomes whatever :mod:`adapters.teams.submissions`
reads from its data. This module also says who sent an activity, from where, in what kind of
conversation (personal or shared), and whether a bot sent it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botbuilder.schema import Activity, ConversationAccount, ConversationReference

from adapters.teams import submissions
from adapters.teams.submissions import SUBMIT_KEY, CardClick, Incoming, TypedText
from coaching.commands import Actor
from coaching.ports import Address
from coaching.store import valid_locale, zone

PLATFORM = "teams"
DEFAULT_TENANT = "default"
PERSONAL = "personal"


# --- who and where ---------------------------------------------------------------------------------


def _extra(model: Any, key: str) -> Any:
    extra = getattr(model, "additional_properties", None) or {}
    return extra.get(key)


def tenant_of(activity: Activity) -> str:
    """The tenant id: ``conversation.tenantId`` or ``channelData.tenant.id``; "default" if neither."""
    conversation = activity.conversation
    if conversation is not None:
        tenant = conversation.tenant_id or _extra(conversation, "tenantId")
        if tenant:
            return str(tenant)
    channel_data = activity.channel_data
    if isinstance(channel_data, Mapping):
        tenant = channel_data.get("tenant")
        if isinstance(tenant, Mapping) and tenant.get("id"):
            return str(tenant["id"])
    return DEFAULT_TENANT


def user_id_of(activity: Activity) -> str:
    sender = activity.from_property
    if sender is None or not (sender.aad_object_id or sender.id):
        raise ValueError("activity has no sender (from.id)")
    return str(sender.aad_object_id or sender.id)


def address_of(activity: Activity) -> Address:
    conversation = activity.conversation
    return Address(
        platform=PLATFORM,
        workspace=tenant_of(activity),
        user=user_id_of(activity),
        channel=conversation.id if conversation is not None else None,
    )


def valid_timezone(name: Any) -> str | None:
    """``name`` if it is an IANA time zone this Python knows, else None."""
    return name if isinstance(name, str) and zone(name) else None


def timezone_of(activity: Activity) -> str | None:
    """The user's time zone: the ``clientInfo`` entity's ``timezone``, else ``localTimezone``."""
    for entity in activity.entities or ():
        if getattr(entity, "type", None) == "clientInfo":
            found = valid_timezone(_extra(entity, "timezone"))
            if found:
                return found
    return valid_timezone(activity.local_timezone)


def locale_of(activity: Activity) -> str | None:
    """The user's locale ("en-US"): the activity's ``locale``, else the ``clientInfo`` entity's."""
    found = valid_locale(activity.locale)
    if found:
        return found
    for entity in activity.entities or ():
        if getattr(entity, "type", None) == "clientInfo":
            found = valid_locale(_extra(entity, "locale"))
            if found:
                return found
    return None


def actor_of(activity: Activity) -> Actor:
    sender = activity.from_property
    return Actor(
        address=address_of(activity),
        display_name=(sender.name or None) if sender is not None else None,
        timezone=timezone_of(activity),
        locale=locale_of(activity),
    )


# Teams conversation ids: "a:…" is a personal chat with the bot, "19:…@thread.v2" a group chat,
# "19:…@thread.skype|tacv2" a channel, and a reply in a channel thread ends in ";messageid=…".
_SHARED_ID_MARKS = ("@thread", ";messageid=", "@unq.gbl.spaces")
SHARED_KINDS = ("groupChat", "channel")


def _channel_data(activity: Activity) -> Mapping[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, Mapping) else {}


def team_id_of(activity: Activity) -> str | None:
    team = _channel_data(activity).get("team")
    return str(team["id"]) if isinstance(team, Mapping) and team.get("id") else None


def conversation_type(activity: Activity) -> str:
    """ "personal", "groupChat" or "channel", read from ``conversationType``, ``channelData.team``/``channel``
    and the id's shape. When in doubt the conversation is shared, never personal: a personal answer in a
    channel would show someone's negotiations to everyone there."""
    conversation = activity.conversation
    if conversation is None:
        return "groupChat"
    declared = conversation.conversation_type
    data = _channel_data(activity)
    conversation_id = str(conversation.id or "")
    if declared == "channel" or data.get("team") or data.get("channel"):
        return "channel"
    if declared == "groupChat" or conversation.is_group or any(m in conversation_id for m in _SHARED_ID_MARKS):
        return "channel" if ";messageid=" in conversation_id else "groupChat"
    if declared == PERSONAL:
        return PERSONAL
    if declared is None and (activity.channel_id != "msteams" or conversation_id.startswith("a:")):
        return PERSONAL  # the emulator and Web Chat send no type; a Teams 1:1 with a bot has an "a:" id
    return "groupChat"


def is_personal(activity: Activity) -> bool:
    return conversation_type(activity) == PERSONAL


def from_a_bot(activity: Activity, app_id: str | None = None) -> bool:
    """Sent by this bot or another one: ignored, so two bots (or a relay) can never talk in a loop.

    botbuilder copies the incoming ``recipient`` into a reply's ``from`` without a role, so a relayed
    reply of ours is recognised by its id; Teams gives bots ``28:`` ids and users ``29:`` ids."""
    sender = activity.from_property
    if sender is None:
        return False
    sender_id = str(sender.id or "")
    own = {activity.recipient.id if activity.recipient else None}
    if app_id:
        own |= {app_id, f"28:{app_id}"}
    role = str(sender.role or "").lower()
    teams_bot = activity.channel_id == "msteams" and sender_id.startswith("28:")
    return role == "bot" or sender_id in own or teams_bot


def reference_of(activity: Activity) -> dict[str, Any]:
    """The JSON-able conversation reference kept for proactive messages.

    No ``activityId``: a nudge starts a new message instead of replying to an old one, and the stored
    reference stays the same from message to message (so it is only written when it changes).
    """
    conversation = activity.conversation
    if conversation is not None:
        conversation = ConversationAccount().deserialize(conversation.serialize())
        tenant = tenant_of(activity)
        if not conversation.tenant_id and tenant != DEFAULT_TENANT:
            conversation.tenant_id = tenant
    reference = ConversationReference(
        user=activity.from_property,
        bot=activity.recipient,
        conversation=conversation,
        channel_id=activity.channel_id,
        locale=activity.locale,
        service_url=activity.service_url,
    )
    return reference.serialize()


# --- what they said ------------------------------------------------------------------------------

_AT_TAG = re.compile(r"<at(?:\s[^>]*)?>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_LEADING = re.compile(r"(?:\s|&nbsp;|<(?!at[\s>])[^>]*>)*$", re.IGNORECASE)  # only space and non-<at> tags
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\u00a0]+")
_PERSON = re.compile(r"\x00(\d+)\x00")
_TYPED_MENTION = re.compile(r"<@([^>]*)>")
_NAME_UNSAFE = re.compile(r"[<>|\x00]")


@dataclass(frozen=True)
class _Mentions:
    """The message's mention entities: the bot's tag texts, and other people's (tag text → token)."""

    bot: frozenset[str]
    people: dict[str, str]


def _mentions(activity: Activity) -> _Mentions:
    bot_id = activity.recipient.id if activity.recipient is not None else None
    bot: set[str] = set()
    people: dict[str, str] = {}
    for entity in activity.entities or ():
        mentioned, tag = _extra(entity, "mentioned"), _extra(entity, "text")
        if getattr(entity, "type", None) != "mention" or not isinstance(mentioned, Mapping):
            continue
        if not isinstance(tag, str) or not tag or not isinstance(mentioned.get("id"), str):
            continue
        if mentioned["id"] == bot_id:
            bot.add(tag)
            continue
        inner = _AT_TAG.sub(lambda m: m.group(1), tag)
        name = _NAME_UNSAFE.sub("", html.unescape(inner).strip() or str(mentioned.get("name") or ""))
        people.setdefault(tag, f"<@{mentioned['id']}|{name}>")
    return _Mentions(frozenset(bot), people)


def addressed_to_bot(activity: Activity) -> bool:
    """The bot is @mentioned: by a mention entity, or by an ``<at>`` tag the message starts with."""
    if _mentions(activity).bot:
        return True
    text = activity.text or ""
    first = _AT_TAG.search(text)
    return first is not None and bool(_LEADING.match(text[: first.start()]))


def text_of(activity: Activity) -> str:
    """The message text without the bot's @mention, HTML tags or entities, and surrounding space.

    Any ``<at>…</at>`` the message starts with is the bot being addressed and is removed, whatever the
    entities say (Teams' entity text and the tag can differ). Other people's mentions become
    ``<@id|Name>`` (their Teams id), the same shape as a Slack mention, so ``team add @Sam`` keeps who
    was meant; such a token can only come from a mention entity — typed ``<@…>`` text is defused.
    """
    text = (activity.text or "").replace("\x00", "")
    mentions = _mentions(activity)
    people: list[str] = []
    pieces: list[str] = []
    at = 0
    for match in _AT_TAG.finditer(text):
        pieces.append(text[at : match.start()])
        at = match.end()
        tag, leading = match.group(0), bool(_LEADING.match("".join(pieces)))
        if tag in mentions.bot:
            pieces.append(" ")
        elif tag in mentions.people:
            people.append(mentions.people[tag])
            pieces.append(f" \x00{len(people) - 1}\x00 ")
        elif leading:
            pieces.append(" ")
        else:
            pieces.append(match.group(1))  # a tag no entity describes: keep the name as plain text
    pieces.append(text[at:])
    text = "".join(pieces).replace("<br>", "\n").replace("<br/>", "\n")
    text = html.unescape(_TAG.sub(" ", text))
    text = _TYPED_MENTION.sub(lambda m: "@" + m.group(1), text)
    text = _PERSON.sub(lambda m: people[int(m.group(1))], text)
    lines = [_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


def execute_data(activity: Activity) -> Mapping[str, Any] | None:
    """The data of an ``Action.Execute`` (an ``adaptiveCard/action`` invoke), the verb as the action id."""
    value = activity.value
    action = value.get("action") if isinstance(value, Mapping) else None
    if not isinstance(action, Mapping) or action.get("type") != "Action.Execute":
        return None
    data = action.get("data")
    data = dict(data) if isinstance(data, Mapping) else {}
    verb = action.get("verb")
    if isinstance(verb, str) and verb and not data.get(SUBMIT_KEY):
        data[SUBMIT_KEY] = verb
    return data


def submitted(activity: Activity) -> Mapping[str, Any] | None:
    """A DealCoach card's data in this activity (an Action.Submit's value or an Action.Execute's data)."""
    data = execute_data(activity) if activity.type == "invoke" else activity.value
    return data if submissions.is_ours(data) else None


def card_click(activity: Activity) -> CardClick | None:
    """The card a click in the personal chat came from, to redraw it (``submissions.card_click_of``);
    None for typed text, for shared chats (the card is not the clicker's alone) and for older cards."""
    data = submitted(activity)
    if data is None or not is_personal(activity):
        return None
    return submissions.card_click_of(activity.reply_to_id, data)


def incoming(activity: Activity) -> Incoming | None:
    """What a message or card click asks for; None when there is nothing to do (no text, a foreign card).
    Raises SubmissionError for a card submission that cannot be read."""
    actor = actor_of(activity)
    data = submitted(activity)
    if data is not None:
        return submissions.submission_of(actor, data)
    if activity.type == "invoke":
        return None
    text = text_of(activity)
    return TypedText(actor, text) if text else None
