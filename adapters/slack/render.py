"""Neutral messages out, Block Kit in: slack_sdk's block and view models, never hand-written dicts.

``message_blocks`` renders a :class:`~coaching.messages.Message` for a DM, an ephemeral reply or
the App Home; the ``*_modal`` functions build the forms; ``after_click`` rewrites a message once a
button on it was used, so the choice shows and the button cannot be pressed again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    DateTimePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    TimePickerElement,
)
from slack_sdk.models.views import View

from adapters.slack import translate
from coaching.commands import ROLES
from coaching.messages import Button, Message, Section

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_BUTTON_TEXT = 75
MAX_BUTTONS_PER_BLOCK = 25
ACTIONS_BLOCK = "dealcoach.actions"
CHOICE_BLOCK = "dealcoach.choice"

# "@here" typed as plain text: Slack's parsing of mrkdwn turns it into a broadcast
_BROADCAST = re.compile(r"(?<!\w)@(here|channel|everyone)\b", re.IGNORECASE)
WORD_JOINER = "\u2060"  # invisible; keeps "@here" from being read as one word


def escape(text: str) -> str:
    """Text for mrkdwn, shown as it was typed and never as a mention or a link.

    Slack's three control characters become entities, so ``<!here>``, ``<!channel>``,
    ``<!everyone>``, ``<@U…>``, ``<#C…>`` and ``<http://…|…>`` that someone typed stay text; a
    plain ``@here`` / ``@channel`` / ``@everyone`` gets a word joiner after the ``@``. The coach
    writes no mentions or links of its own, so nothing is let through as markup. Every mrkdwn
    object is also ``verbatim`` (:func:`mrkdwn`), which stops Slack's automatic parsing."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", escaped)


def mrkdwn(text: str) -> MarkdownTextObject:
    """A mrkdwn text object of text already passed through :func:`escape` (bold and code still work)."""
    return MarkdownTextObject(text=text, verbatim=True)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chunks(lines: Iterable[str], limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Join lines into texts no longer than ``limit`` (a section holds 3000 characters)."""
    out: list[str] = []
    current = ""
    for line in lines:
        line = _clip(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def _plain(text: str, limit: int = 150) -> PlainTextObject:
    return PlainTextObject(text=_clip(text, limit), emoji=True)


def button(b: Button, index: int) -> ButtonElement:
    return ButtonElement(
        text=_plain(b.label, MAX_BUTTON_TEXT),
        # Block Kit wants action ids unique within a block; translate strips the suffix again.
        action_id=f"{b.action_id}#{index}",
        value=b.value[:2000],
        style=b.style if b.style in ("primary", "danger") else None,
    )


def section_blocks(section: Section) -> list[Block]:
    blocks: list[Block] = []
    lines = [f"*{escape(section.heading)}*"] if section.heading else []
    lines += [escape(line) for line in section.lines]
    blocks += [SectionBlock(text=mrkdwn(text)) for text in _chunks(lines)]
    facts = [mrkdwn(_clip(f"*{escape(label)}*\n{escape(value)}", MAX_FIELD_TEXT)) for label, value in section.facts]
    for start in range(0, len(facts), 10):  # a section holds at most 10 fields
        blocks.append(SectionBlock(fields=facts[start : start + 10]))
    return blocks


def action_blocks(buttons: Sequence[Button]) -> list[Block]:
    elements = [button(b, i) for i, b in enumerate(buttons)]
    return [
        ActionsBlock(
            block_id=ACTIONS_BLOCK if start == 0 else f"{ACTIONS_BLOCK}.{start}",
            elements=elements[start : start + MAX_BUTTONS_PER_BLOCK],
        )
        for start in range(0, len(elements), MAX_BUTTONS_PER_BLOCK)
    ]


def message_blocks(message: Message, *, limit: int = MAX_MESSAGE_BLOCKS) -> list[Block]:
    """The whole message as blocks: summary, sections, then the buttons (always kept)."""
    summary = f":warning: {escape(message.text)}" if message.is_error else escape(message.text)
    body: list[Block] = [SectionBlock(text=mrkdwn(t)) for t in _chunks([summary])]
    for section in message.sections:
        body += section_blocks(section)
    actions = action_blocks(message.buttons)
    room = limit - len(actions)
    if len(body) > room:
        body = body[: room - 1] + [ContextBlock(elements=[mrkdwn("_(shortened)_")])]
    return body + actions


def blocks_json(blocks: Iterable[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


def fallback_text(message: Message) -> str:
    """The notification text (``text`` beside ``blocks``): the one-line summary, escaped like the
    blocks (Slack reads it as mrkdwn and notifies on the mentions in it)."""
    return _clip(escape(message.text), 3000)


def message_payload(message: Message) -> dict[str, Any]:
    """Arguments for ``chat.postMessage`` / ``chat.update``."""
    return {"text": fallback_text(message), "blocks": blocks_json(message_blocks(message))}


def ephemeral_response(message: Message) -> dict[str, Any]:
    """A slash command's reply, as the HTTP response body (only the sender sees it)."""
    return {"response_type": "ephemeral", **message_payload(message)}


# ---------------------------------------------------------------------------- after a click


def _is_action_block(block: Mapping[str, Any]) -> bool:
    return block.get("type") == "actions" and str(block.get("block_id", "")).startswith(ACTIONS_BLOCK)


def after_click(
    original: Sequence[Mapping[str, Any]], click: translate.Click, reply: Message | None
) -> list[dict[str, Any]]:
    """The clicked message's blocks once a button was used.

    A choice among plain buttons (Kept · Missed · Snooze) is final: all of them go. On a message with
    forms (the follow-up prompt), or a list with buttons per item (the meetings a calendar import found), only
    the clicked button goes, because the others still make sense;
    "Add commitment" stays, since a negotiation can end with several commitments. A failed action
    keeps every button. A line under the message says what was chosen and what the coach answered.
    """
    failed = reply is not None and reply.is_error
    buttons = [
        e
        for b in original
        if _is_action_block(b)
        for e in b.get("elements", [])
        if isinstance(e, Mapping) and e.get("type") == "button"
    ]
    has_forms = any(translate.neutral_action_id(str(e.get("action_id"))) in translate.FORM_ACTIONS for e in buttons)
    has_forms = has_forms or translate.is_list(original)  # several choices, one per button
    question = translate.is_question(original)  # Yes · Edit: answered once, either way

    def keep(element: Mapping[str, Any]) -> bool:
        neutral = translate.neutral_action_id(str(element.get("action_id")))
        if failed:
            return True
        if question:
            return False
        if neutral == "form.commitment":
            return True
        if neutral == click.action_id and (element.get("value") == click.value or not click.value):
            return False
        return has_forms

    kept = [dict(e) for e in buttons if keep(e)]
    blocks = [dict(b) for b in original if not _is_action_block(b)]
    choices = sum(1 for b in blocks if str(b.get("block_id", "")).startswith(CHOICE_BLOCK))
    if reply is not None:
        mark = ":warning:" if failed else ":white_check_mark:"
        line = f"{mark} *{escape(click.label)}*: {escape(reply.text)}"
        blocks.append(
            ContextBlock(block_id=f"{CHOICE_BLOCK}.{choices}", elements=[mrkdwn(_clip(line, 3000))]).to_dict()
        )
    if kept:
        blocks.append(ActionsBlock(block_id=ACTIONS_BLOCK, elements=kept).to_dict())
    return blocks[-MAX_MESSAGE_BLOCKS:]


def chosen_reply(click: translate.Click, reply: Message) -> dict[str, Any]:
    """An ephemeral message replaced by the answer to the click on it (Slack sends no copy of it)."""
    mark = ":warning:" if reply.is_error else ":white_check_mark:"
    choice = ContextBlock(block_id=f"{CHOICE_BLOCK}.0", elements=[mrkdwn(f"{mark} *{escape(click.label)}*")])
    return {"text": fallback_text(reply), "blocks": blocks_json([choice, *message_blocks(reply, limit=49)])}


def first_text(blocks: Sequence[Mapping[str, Any]]) -> str:
    for block in blocks:
        text = block.get("text")
        if isinstance(text, Mapping) and isinstance(text.get("text"), str):
            return _clip(text["text"], 3000)
    return "DealCoach"


# ---------------------------------------------------------------------------- forms


def _options(pairs: Iterable[tuple[str, str]]) -> list[Option]:
    return [Option(value=value, label=label) for value, label in pairs]


def _yes_no(block_id: str, label: str, *, optional: bool = True) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        element=RadioButtonsElement(action_id="value", options=_options([("yes", "Yes"), ("no", "No")])),
    )


def _text(
    block_id: str,
    label: str,
    *,
    optional: bool = True,
    multiline: bool = False,
    hint: str | None = None,
    max_length: int = translate.FORM_TEXT,  # translate refuses longer, as the typed commands do
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        hint=hint,
        element=PlainTextInputElement(action_id="value", multiline=multiline, max_length=max_length),
    )


def _number(block_id: str, label: str, *, minimum: int, maximum: int, initial: int | None = None) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        element=NumberInputElement(
            action_id="value",
            is_decimal_allowed=False,
            min_value=str(minimum),
            max_value=str(maximum),
            initial_value=None if initial is None else str(initial),
        ),
    )


def _modal(callback_id: str, title: str, submit: str, blocks: list[Block], context: translate.FormContext) -> View:
    return View(
        type="modal",
        callback_id=callback_id,
        title=_plain(title, 24),
        submit=_plain(submit, 24),
        close=_plain("Cancel", 24),
        blocks=blocks,
        private_metadata=context.dump(),
    )


def log_modal(context: translate.FormContext, *, initial: datetime | None = None) -> View:
    """``log`` with no arguments: counterpart, start, duration, channel, title and the frame."""
    channels = [(c, c.capitalize() if c != "in-person" else "In person") for c in translate.CHANNELS]
    blocks: list[Block] = [
        _text(
            "counterpart", "Counterpart", optional=False, hint="The company or person on the other side", max_length=200
        ),
        InputBlock(
            block_id="when",
            label="Starts",
            element=DateTimePickerElement(
                action_id="value", initial_date_time=int(initial.timestamp()) if initial else None
            ),
        ),
        _number("duration", "Duration (minutes)", minimum=5, maximum=24 * 60, initial=60),
        InputBlock(
            block_id="channel",
            label="Channel",
            optional=True,
            element=StaticSelectElement(
                action_id="value",
                options=_options(channels),
                initial_option=_options(channels[:1])[0],
            ),
        ),
        _text("title", "Title", max_length=300),
        _yes_no("repeat", "Will you deal with them again?"),
        _text("long_term_value", "What would a long-term partnership bring?", multiline=True),
    ]
    return _modal(translate.LOG_FORM, "Log a negotiation", "Log", blocks, context)


def outcome_modal(context: translate.FormContext) -> View:
    outcomes = [
        ("agreed", "Agreed"),
        ("partial", "Partly agreed"),
        ("no-deal", "No deal"),
        ("postponed", "Postponed"),
    ]
    sentiment = [(str(n), label) for n, label in enumerate(["Upset", "Unhappy", "Neutral", "Content", "Happy"], 1)]
    blocks: list[Block] = [
        InputBlock(
            block_id="outcome",
            label="Outcome",
            element=StaticSelectElement(action_id="value", options=_options(outcomes)),
        ),
        _yes_no("opened_with_connection", "Did you open with a few minutes of personal connection?"),
        InputBlock(
            block_id="sentiment",
            label="How did the counterpart feel at the end?",
            optional=True,
            element=StaticSelectElement(action_id="value", options=_options(sentiment)),
        ),
        _yes_no("hard_win", "Was it a hard win (they paid more or gave more than they expected)?"),
        _number("concessions_given", "Concessions we gave", minimum=0, maximum=1000),
        _number("concessions_received", "Concessions we received", minimum=0, maximum=1000),
        _text("settled", "Issues settled", hint="Comma-separated, e.g. price, service agreements"),
        _text("notes", "Notes", multiline=True),
        _text("observations", "Personal observations about the counterpart", multiline=True),
    ]
    return _modal(translate.OUTCOME_FORM, f"Outcome #{context.negotiation}", "Save", blocks, context)


def commitment_modal(context: translate.FormContext, *, side: str | None = None) -> View:
    sides = _options([("ours", "Ours (we promised)"), ("theirs", "Theirs (they promised)")])
    initial = next((o for o in sides if o.value == side), None)
    blocks: list[Block] = [
        InputBlock(
            block_id="side",
            label="Whose commitment?",
            element=RadioButtonsElement(action_id="value", options=sides, initial_option=initial),
        ),
        _text("text", "What was promised (and by whom)?", optional=False, multiline=True, max_length=1000),
        InputBlock(block_id="due", label="Due", optional=True, element=DatePickerElement(action_id="value")),
        InputBlock(
            block_id="due_time",
            label="Due time (your time zone)",
            optional=True,
            hint="Leave it empty for the whole day: reminders come at 09:00",
            element=TimePickerElement(action_id="value"),
        ),
    ]
    return _modal(translate.COMMITMENT_FORM, f"Commitment for #{context.negotiation}", "Add", blocks, context)


DATE_ORDER_CHOICES = (
    ("dmy", "6 December (day first)"),
    ("mdy", "June 12 (month first)"),
    ("ymd", "June 12 (year first: 2026/6/12)"),
)


def settings_modal(context: translate.FormContext) -> View:
    blocks: list[Block] = [
        _text("timezone", "Time zone (IANA name, e.g. Europe/Berlin)", max_length=64),
        _number("lead", "Pre-call reminder lead time (minutes)", minimum=0, maximum=24 * 60),
        _text("quiet", "Quiet hours (HH:MM-HH:MM, or off)", max_length=40),
        InputBlock(
            block_id="nudges",
            label="Nudges",
            optional=True,
            element=RadioButtonsElement(action_id="value", options=_options([("on", "On"), ("off", "Off")])),
        ),
        InputBlock(
            block_id="role",
            label="Role",
            optional=True,
            element=RadioButtonsElement(
                action_id="value", options=_options((role, role.capitalize()) for role in ROLES)
            ),
        ),
        InputBlock(
            block_id="dates",
            label="Dates like 6/12 are",
            optional=True,
            element=RadioButtonsElement(action_id="value", options=_options(DATE_ORDER_CHOICES)),
        ),
    ]
    return _modal(translate.SETTINGS_FORM, "Settings", "Save", blocks, context)


def edit_modal(context: translate.FormContext, line: str) -> View:
    """A question's Edit: the line the person typed, to correct and send again (read as typed words are)."""
    blocks: list[Block] = [
        InputBlock(
            block_id="line",
            label="Your line, as you meant it",
            hint="e.g. log Tyrell friday 11am — nothing was stored yet",
            element=PlainTextInputElement(
                action_id="value", initial_value=line[: translate.MAX_LINE] or None, max_length=translate.MAX_LINE
            ),
        )
    ]
    return _modal(translate.EDIT_FORM, "Edit", "Send", blocks, context)


FORM_VIEWS = {
    translate.LOG_FORM: lambda ctx, side, line: log_modal(ctx),
    translate.OUTCOME_FORM: lambda ctx, side, line: outcome_modal(ctx),
    translate.COMMITMENT_FORM: lambda ctx, side, line: commitment_modal(ctx, side=side),
    translate.SETTINGS_FORM: lambda ctx, side, line: settings_modal(ctx),
    translate.EDIT_FORM: lambda ctx, side, line: edit_modal(ctx, line),
}


def form_view(form: str, context: translate.FormContext, side: str | None = None, line: str = "") -> View:
    """The modal ``form``; ``line`` is the clicked button's words (what an Edit form starts with)."""
    return FORM_VIEWS[form](context, side, line)


# ---------------------------------------------------------------------------- App Home

HOME_BUTTONS = (
    Button("Log a negotiation", "form.log", "log", style="primary"),
    Button("Settings", "form.settings", "settings"),
    Button("Help", "home.help", "help"),
)


def home_view(parts: Sequence[Message]) -> View:
    """The App Home tab: one block group per part (upcoming, commitments, stay in touch...)."""
    blocks: list[Block] = [HeaderBlock(text=_plain("DealCoach", 150)), *action_blocks(HOME_BUTTONS)]
    for part in parts:
        blocks.append(DividerBlock())
        blocks += message_blocks(part, limit=MAX_VIEW_BLOCKS)
    if len(blocks) > MAX_VIEW_BLOCKS:
        blocks = blocks[: MAX_VIEW_BLOCKS - 1] + [ContextBlock(elements=[mrkdwn("_(more in `/negotiation list`)_")])]
    # each part's actions block would reuse ACTIONS_BLOCK; block ids must be unique in a view
    for i, block in enumerate(blocks):
        if isinstance(block, ActionsBlock):
            block.block_id = f"{ACTIONS_BLOCK}.home{i}"
    return View(type="home", blocks=blocks)
