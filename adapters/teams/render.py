"""Neutral :class:`~coaching.messages.Message` → Teams message: plain text or an Adaptive Card.

A message with sections or buttons becomes an Adaptive Card, schema 1.5 (Universal Actions). Every button
is an ``Action.Execute`` — its click arrives as an ``adaptiveCard/action`` invoke that is answered with
the updated card — with an ``Action.Submit`` fallback for clients without Universal Actions (their click
arrives as a message, and the card is updated with ``updateActivity``). Both carry the same data: the
equivalent text command, and on a nudge about one thing the card's one-line text and the button's label,
so :func:`after_click` can redraw the card with the choice shown and no buttons
(:func:`collapses_after_click`). ``form.*`` buttons open an inline form (``Action.ShowCard``) whose
submission comes back as a structured command through :mod:`adapters.teams.submissions`. Images go
inline into the card; other files (the data export) are offered with a file-upload consent card
(:func:`activities`). :func:`people_picker` asks for a colleague with Teams' people picker.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from botbuilder.schema import Activity, ActivityTypes, Attachment

from adapters.teams.files import consent_cards
from adapters.teams.submissions import (
    FOR_KEY,
    LABEL_KEY,
    LINE_KEY,
    MAX_COMMAND,
    MAX_LABEL,
    MAX_SUMMARY,
    PERSON_KEY,
    PICK_PERSON,
    SUBMIT_KEY,
    SUMMARY_KEY,
    CardClick,
    clip,
)
from coaching import questions
from coaching.commands import OUTCOMES
from coaching.messages import Attachment as MessageAttachment
from coaching.messages import Button, Message

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
MAX_TEXT = 20_000  # keep well inside Teams' ~28 KB message limit

_STYLES = {"primary": "positive", "danger": "destructive"}


def _block(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _choices(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"title": title, "value": value} for title, value in pairs]


def _yes_no(input_id: str, label: str) -> dict[str, Any]:
    return {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "style": "expanded",
        "isMultiSelect": False,
        "choices": _choices(("Yes", "true"), ("No", "false")),
    }


def _outcome_inputs(button: Button) -> list[dict[str, Any]]:
    return [
        {
            "type": "Input.ChoiceSet",
            "id": "outcome",
            "label": "Outcome",
            "value": "agreed",
            "choices": _choices(*((o.replace("-", " ").capitalize(), o) for o in OUTCOMES)),
        },
        _yes_no("connection", "Did you open with a personal connection?"),
        {
            "type": "Input.ChoiceSet",
            "id": "sentiment",
            "label": "Counterpart sentiment (1 = upset, 5 = delighted)",
            "choices": _choices(*((str(n), str(n)) for n in range(1, 6))),
        },
        _yes_no("hard_win", "Was it a hard win (they gave more than they wanted)?"),
        {"type": "Input.Number", "id": "given", "label": "Concessions we gave", "min": 0, "max": 1000},
        {"type": "Input.Number", "id": "received", "label": "Concessions we received", "min": 0, "max": 1000},
        {
            "type": "Input.Text",
            "id": "settled",
            "label": "Issues settled (comma-separated, e.g. price, service agreements)",
            "maxLength": 500,
        },
        {
            "type": "Input.Text",
            "id": "observations",
            "label": "Personal observations about them",
            "isMultiline": True,
            "maxLength": 2000,
        },
        {"type": "Input.Text", "id": "notes", "label": "Notes", "isMultiline": True, "maxLength": 2000},
    ]


def _commitment_inputs(button: Button) -> list[dict[str, Any]]:
    words = button.value.split()
    side = words[2] if len(words) > 2 and words[2] in ("ours", "theirs") else "ours"
    return [
        {
            "type": "Input.ChoiceSet",
            "id": "side",
            "label": "Who promised?",
            "style": "expanded",
            "value": side,
            "choices": _choices(("We did", "ours"), ("They did", "theirs")),
        },
        {
            "type": "Input.Text",
            "id": "what",
            "label": "What was promised?",
            "isRequired": True,
            "errorMessage": "Say what was promised.",
            "maxLength": 500,
        },
        {"type": "Input.Date", "id": "due", "label": "Due by"},
        {"type": "Input.Time", "id": "due_time", "label": "Due time (optional, your time zone)"},
    ]


def _edit_inputs(button: Button) -> list[dict[str, Any]]:
    """A question's Edit: the person's line, to correct and send again (read as typed words are)."""
    return [
        {
            "type": "Input.Text",
            "id": LINE_KEY,
            "label": "Your line, as you meant it (nothing was stored yet)",
            "value": button.value[:MAX_COMMAND],
            "isRequired": True,
            "errorMessage": "Type the line as you meant it.",
            "maxLength": MAX_COMMAND,
        }
    ]


# form action id → the inputs of its inline card
FORMS: dict[str, Callable[[Button], list[dict[str, Any]]]] = {
    "form.outcome": _outcome_inputs,
    "form.commitment": _commitment_inputs,
    questions.EDIT: _edit_inputs,
}


def _submit(title: str, data: dict[str, str], style: str | None = None) -> dict[str, Any]:
    """An ``Action.Execute`` (verb = the action id) falling back to an ``Action.Submit`` with the same data."""
    styled = {"style": _STYLES[style]} if style in _STYLES else {}
    fallback = {"type": "Action.Submit", "title": title, "data": data, **styled}
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": data[SUBMIT_KEY],
        "data": data,
        **styled,
        "fallback": fallback,
    }


def action_of(button: Button, summary: str = "") -> dict[str, Any]:
    data = {SUBMIT_KEY: button.action_id, "command": button.value}
    if summary:
        data |= {SUMMARY_KEY: clip(summary, MAX_SUMMARY), LABEL_KEY: clip(button.label, MAX_LABEL)}
    inputs = FORMS.get(button.action_id)
    if inputs is None:
        return _submit(button.label, data, button.style)
    return {
        "type": "Action.ShowCard",
        "title": button.label,
        "card": {
            "type": "AdaptiveCard",
            "body": inputs(button),
            "actions": [_submit("Save", data, "primary")],
        },
    }


def adaptive_card(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_block(message.text, weight="Bolder", size="Medium")]
    for section in message.sections:
        if section.heading:
            body.append(_block(section.heading, weight="Bolder", spacing="Medium", separator=True))
        body.extend(_block(line, spacing="Small") for line in section.lines)
        if section.facts:
            body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in section.facts]})
    body.extend(_image(attachment) for attachment in message.attachments if _fits_in_card(attachment))
    card = _card(body)
    if message.buttons:
        summary = message.text if collapses_after_click(message) else ""
        card["actions"] = [action_of(b, summary) for b in message.buttons]
    return card


def collapses_after_click(message: Message) -> bool:
    """A nudge about one thing (a negotiation, a commitment) is settled by any of its buttons: the card
    then shows the choice and loses its buttons. Replies (their buttons are next steps, not answers),
    lists (several things) and cards with forms (the other forms are still wanted after one is saved)
    stay as they are; their commands are idempotent. A question (Yes · Edit) is answered once, either way."""
    if message.kind == questions.QUESTION:
        return True
    nudge = message.kind not in ("reply", "error")
    return nudge and message.ref is not None and not any(b.action_id in FORMS for b in message.buttons)


def _card(body: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }


# Teams rejects a message over ~28 KB; the digest's chart goes inline (base64) only while it leaves room
# for the text, otherwise the card stays text-only and the chart is still in Slack and the CLI.
MAX_INLINE_IMAGE = 16 * 1024


def _fits_in_card(attachment: MessageAttachment) -> bool:
    return attachment.content_type.startswith("image/") and len(attachment.data) <= MAX_INLINE_IMAGE


def _image(attachment: MessageAttachment) -> dict[str, Any]:
    encoded = base64.b64encode(attachment.data).decode("ascii")
    return {
        "type": "Image",
        "url": f"data:{attachment.content_type};base64,{encoded}",
        "altText": attachment.title or attachment.filename,
        "size": "Stretch",
        "spacing": "Medium",
    }


def wants_card(message: Message) -> bool:
    return bool(message.sections or message.buttons or message.attachments) and not message.is_error


def render(message: Message) -> Activity:
    """The outgoing activity: an Adaptive Card (``summary`` = the one-line text) or plain text."""
    if not wants_card(message):
        return Activity(type=ActivityTypes.message, text=message.plain_text()[:MAX_TEXT], text_format="plain")
    return Activity(
        type=ActivityTypes.message,
        summary=message.text,
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=adaptive_card(message))],
    )


def activities(message: Message, recipient: str) -> list[Activity]:
    """Everything that goes out for ``message`` to the person ``recipient`` (their user id): :func:`render`,
    then a file-upload consent card per file (the export) — the file itself only travels after that person
    accepts (:mod:`adapters.teams.files`)."""
    return [render(message), *consent_cards(message, recipient)]


def after_click_card(click: CardClick) -> dict[str, Any]:
    """The clicked card once its choice was applied: its one-line text, what was chosen, no buttons."""
    body = [
        _block(click.summary, weight="Bolder", size="Medium"),
        _block(f"\u2713 {click.label}", color="Good", spacing="Small"),
    ]
    return _card(body)


def after_click(click: CardClick) -> Activity:
    """:func:`after_click_card` as the update of the clicked message (``updateActivity``)."""
    return Activity(
        type=ActivityTypes.message,
        id=click.activity_id,
        summary=click.summary,
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=after_click_card(click))],
    )


PICKER_BUTTONS = {"team add": "Add to my team", "team remove": "Remove from my team", "handoff": "Send the note"}


def people_picker(text: str, command: str, recipient: str) -> Activity:
    """A card with Teams' people picker (the directory of the tenant) for ``command`` ("team add",
    "handoff 3 …"); only ``recipient`` (the person who asked) can use it."""
    verb = "handoff" if command.startswith("handoff") else command
    picker = {
        "type": "Input.ChoiceSet",
        "id": PERSON_KEY,
        "label": "Who?",
        "isRequired": True,
        "errorMessage": "Pick someone.",
        "choices": [],
        "choices.data": {"type": "Data.Query", "dataset": "graph.microsoft.com/users"},
    }
    data = {SUBMIT_KEY: PICK_PERSON, "command": command, FOR_KEY: recipient}
    card = _card([_block(text), picker])
    card["actions"] = [_submit(PICKER_BUTTONS.get(verb, "Choose"), data, "primary")]
    return Activity(
        type=ActivityTypes.message,
        summary=text,
        attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)],
    )
