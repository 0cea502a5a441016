"""Bot Framework activity → DealCoach input: pure functions, no I/O.

An incoming message becomes either :class:`TypedText` (words for the coach's parser, the same words as
the Slack slash command) or a command dataclass from :mod:`coaching.commands` (card forms, which carry
structured fields). Card submissions are looked up in :data:`SUBMISSIONS` by the ``dealcoach`` key that
:mod:`adapters.teams.render` puts into every ``Action.Submit``'s data.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from botbuilder.schema import Activity, ConversationAccount, ConversationReference

from coaching.commands import OUTCOMES, Actor, AddCommitment, Command, RecordOutcome
from coaching.ports import Address
from coaching.store import zone

PLATFORM = "teams"
DEFAULT_TENANT = "default"
SUBMIT_KEY = "dealcoach"  # key in Action.Submit data that marks a DealCoach card submission
SUMMARY_KEY = "summary"  # Action.Submit data: the card's one-line text, to show it again after the click
LABEL_KEY = "label"  # Action.Submit data: the clicked button's label
MAX_SUMMARY = 150  # characters of the card's text carried in every button's data
MAX_LABEL = 80
PERSONAL = "personal"


@dataclass(frozen=True)
class TypedText:
    """Words for the coach's text parser (``coach.handle_text``)."""

    actor: Actor
    text: str


class SubmissionError(ValueError):
    """A card submission DealCoach cannot read; the message is safe to show to the user."""


@dataclass(frozen=True)
class CardClick:
    """A click on one of DealCoach's cards: which message to update, and what to show on it."""

    activity_id: str  # the card's activity (the submit's ``replyToId``)
    summary: str  # the card's one-line text
    label: str  # the clicked button's label


Incoming = TypedText | Command


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


def actor_of(activity: Activity) -> Actor:
    sender = activity.from_property
    return Actor(
        address=address_of(activity),
        display_name=(sender.name or None) if sender is not None else None,
        timezone=timezone_of(activity),
    )


def conversation_type(activity: Activity) -> str:
    """ "personal", "groupChat" or "channel"; the emulator and Web Chat send none: treat as personal."""
    conversation = activity.conversation
    if conversation is None:
        return PERSONAL
    return conversation.conversation_type or ("groupChat" if conversation.is_group else PERSONAL)


def is_personal(activity: Activity) -> bool:
    return conversation_type(activity) == PERSONAL


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
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\u00a0]+")
_PERSON = re.compile(r"\x00(\d+)\x00")


def text_of(activity: Activity) -> str:
    """The message text without the bot's @mention, HTML tags or entities, and surrounding space.

    Mentions of other people become ``<@id|Name>`` (their AAD object id when Teams gives it), the same
    shape as a Slack user mention, so commands like ``handoff 3 @Bob`` keep who was meant.
    """
    text = (activity.text or "").replace("\x00", "")
    bot_names: set[str] = set()
    people: list[str] = []
    recipient = activity.recipient
    for entity in activity.entities or ():
        if getattr(entity, "type", None) != "mention":
            continue
        mentioned = _extra(entity, "mentioned") or {}
        mention_text = _extra(entity, "text")
        if not isinstance(mentioned, Mapping) or not isinstance(mention_text, str) or not mention_text:
            continue
        if recipient is not None and mentioned.get("id") == recipient.id:
            text = text.replace(mention_text, " ")
            if mentioned.get("name"):
                bot_names.add(str(mentioned["name"]))
        elif mentioned.get("id") and mention_text in text:
            who = str(mentioned.get("aadObjectId") or mentioned["id"])
            name = _AT_TAG.sub(lambda m: m.group(1), mention_text).strip() or str(mentioned.get("name") or "")
            people.append(f"<@{who}|{html.unescape(name)}>")
            text = text.replace(mention_text, f" \x00{len(people) - 1}\x00 ")
    if recipient is not None and recipient.name:
        bot_names.add(recipient.name)
    # A mention the entity list did not describe exactly: drop <at>Bot name</at> of the bot only.
    text = _AT_TAG.sub(lambda m: " " if m.group(1).strip() in bot_names else m.group(1), text)
    text = html.unescape(_TAG.sub(" ", text.replace("<br>", "\n").replace("<br/>", "\n")))
    text = _PERSON.sub(lambda m: people[int(m.group(1))], text)
    lines = [_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


# --- card submissions -----------------------------------------------------------------------------


def _negotiation_id(value: Mapping[str, Any]) -> int:
    """The negotiation id from the button's command (``"done 4"``, ``"commit 4 ours "``)."""
    words = str(value.get("command") or "").split()
    if len(words) < 2 or not words[1].isdigit():
        raise SubmissionError("This card is missing its negotiation number; type the command instead.")
    return int(words[1])


def _text(value: Mapping[str, Any], key: str) -> str | None:
    raw = value.get(key)
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def _flag(value: Mapping[str, Any], key: str) -> bool | None:
    raw = _text(value, key)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise SubmissionError(f"{key.replace('_', ' ')} must be yes or no, not {raw!r}.")


def _count(value: Mapping[str, Any], key: str, *, low: int, high: int) -> int | None:
    raw = _text(value, key)
    if raw is None:
        return None
    try:
        number = float(raw)
    except ValueError:
        raise SubmissionError(f"{key.replace('_', ' ')} must be a number, not {raw!r}.") from None
    if number != int(number) or not low <= number <= high:
        raise SubmissionError(f"{key.replace('_', ' ')} must be a whole number from {low} to {high}.")
    return int(number)


def outcome_form(actor: Actor, value: Mapping[str, Any]) -> RecordOutcome:
    outcome = _text(value, "outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise SubmissionError(f"outcome must be one of {', '.join(OUTCOMES)}.")
    return RecordOutcome(
        actor=actor,
        negotiation=_negotiation_id(value),
        notes=_text(value, "notes"),
        outcome=outcome,
        opened_with_connection=_flag(value, "connection"),
        sentiment=_count(value, "sentiment", low=1, high=5),
        hard_win=_flag(value, "hard_win"),
        concessions_given=_count(value, "given", low=0, high=1000),
        concessions_received=_count(value, "received", low=0, high=1000),
        observations=_text(value, "observations"),
        settled=_issues(value, "settled"),
    )


def _issues(value: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    text = _text(value, key)
    return tuple(part.strip() for part in text.split(",") if part.strip()) if text else None


def commitment_form(actor: Actor, value: Mapping[str, Any]) -> AddCommitment:
    words = str(value.get("command") or "").split()
    side = _text(value, "side") or (words[2] if len(words) > 2 else "ours")
    if side not in ("ours", "theirs"):
        raise SubmissionError("side must be ours or theirs.")
    what = _text(value, "what")
    if not what:
        raise SubmissionError("Say what was promised.")
    due_text = _text(value, "due")
    due: date | None = None
    if due_text:
        try:
            due = date.fromisoformat(due_text[:10])
        except ValueError:
            raise SubmissionError(f"due must be a date like 2026-12-01, not {due_text!r}.") from None
    return AddCommitment(actor=actor, negotiation=_negotiation_id(value), side=side, text=what, due=due)


def button(actor: Actor, value: Mapping[str, Any]) -> TypedText:
    command = _text(value, "command")
    if not command:
        raise SubmissionError("This button has no command; type the command instead.")
    return TypedText(actor, command)


# action id (or its "form." prefix) → translator; everything else is a plain button with a command
SUBMISSIONS: dict[str, Callable[[Actor, Mapping[str, Any]], Incoming]] = {
    "form.outcome": outcome_form,
    "form.commitment": commitment_form,
}


def submission_of(actor: Actor, value: Mapping[str, Any]) -> Incoming:
    action = str(value.get(SUBMIT_KEY) or "")
    return SUBMISSIONS.get(action, button)(actor, value)


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def card_click(activity: Activity) -> CardClick | None:
    """The card a personal-chat ``Action.Submit`` came from; None for typed text, other scopes, or
    cards rendered before their buttons carried the card's text (those are left as they are)."""
    value = activity.value
    if not isinstance(value, Mapping) or not value.get(SUBMIT_KEY) or not is_personal(activity):
        return None
    summary, label = _text(value, SUMMARY_KEY), _text(value, LABEL_KEY)
    if not activity.reply_to_id or summary is None or label is None:
        return None
    return CardClick(
        activity_id=str(activity.reply_to_id),
        summary=clip(summary, MAX_SUMMARY),
        label=clip(label, MAX_LABEL),
    )


def incoming(activity: Activity) -> Incoming | None:
    """What a message activity asks for; None when there is nothing to do (empty text, foreign card)."""
    actor = actor_of(activity)
    value = activity.value
    if isinstance(value, Mapping) and value.get(SUBMIT_KEY):
        return submission_of(actor, value)
    text = text_of(activity)
    if not text:
        return None
    return TypedText(actor, text)
