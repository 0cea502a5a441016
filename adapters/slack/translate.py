"""Slack payloads in, neutral commands out: pure functions, no I/O, no SDK objects.

Every function takes the parsed body Bolt hands a listener (a ``dict`` in Slack's documented shape)
and returns something from ``coaching`` (an :class:`Actor`, a command dataclass) or a small frozen
value of this module. Forms are translated through :data:`FORMS`, a table from a modal's
``callback_id`` to the function that reads its fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from coaching.commands import (
    OUTCOMES,
    Actor,
    AddCommitment,
    ChangeSettings,
    Command,
    LogNegotiation,
    RecordOutcome,
)
from coaching.ports import Address

PLATFORM = "slack"

# callback ids of our modals
LOG_FORM = "dealcoach.log"
OUTCOME_FORM = "dealcoach.outcome"
COMMITMENT_FORM = "dealcoach.commitment"
SETTINGS_FORM = "dealcoach.settings"

# a neutral button's action_id that opens a form -> the modal it opens
FORM_ACTIONS = {
    "form.log": LOG_FORM,
    "form.outcome": OUTCOME_FORM,
    "form.commitment": COMMITMENT_FORM,
    "form.settings": SETTINGS_FORM,
}

CHANNELS = ("video", "phone", "email", "in-person")

# Slack's escaped mentions: <@U123|name>, <@U123>, <#C123|name>, <!here>
_MENTION = re.compile(r"<([@#])([A-Z0-9]+)(?:\|[^>]*)?>")
_SUFFIX = re.compile(r"#\d+$")


class PayloadError(ValueError):
    """The payload lacks what Slack always sends; answered with 400, never a traceback."""


class FormError(ValueError):
    """A form field is missing or wrong; shown next to the field (``response_action: errors``)."""

    def __init__(self, block_id: str, message: str):
        super().__init__(message)
        self.block_id = block_id
        self.message = message


# ---------------------------------------------------------------------------- who is asking


def _get(body: Mapping[str, Any], *path: str) -> Any:
    value: Any = body
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def team_of(body: Mapping[str, Any]) -> str:
    """The workspace a payload belongs to (team id; the enterprise id for org-wide installs)."""
    team = (
        body.get("team_id")
        or _get(body, "team", "id")
        or _get(body, "user", "team_id")
        or _get(body, "view", "team_id")
        or body.get("enterprise_id")
        or _get(body, "enterprise", "id")
    )
    if not isinstance(team, str) or not team:
        raise PayloadError("payload has no team")
    return team


def actor(team: str, user: str, *, display_name: str | None = None, timezone: str | None = None) -> Actor:
    return Actor(Address(PLATFORM, team, user), display_name=display_name, timezone=timezone)


def actor_from_command(body: Mapping[str, Any], *, timezone: str | None = None) -> Actor:
    """A slash command's sender (``team_id``, ``user_id``, ``user_name``)."""
    user = body.get("user_id")
    if not isinstance(user, str) or not user:
        raise PayloadError("slash command has no user_id")
    return actor(team_of(body), user, display_name=body.get("user_name"), timezone=timezone)


def user_of(body: Mapping[str, Any]) -> str | None:
    """The user id of any payload Bolt hands us (command, interaction or event)."""
    for value in (body.get("user_id"), _get(body, "user", "id"), _get(body, "event", "user")):
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping) and isinstance(value.get("id"), str):
            return value["id"]
    return None


# ---------------------------------------------------------------------------- typed words


def command_text(text: str | None) -> str:
    """The words after the slash command, as the shared parser reads them.

    Slack escapes mentions as ``<@U123|name>`` (``should_escape`` in the manifest); the parser gets
    ``<@U123>``, the form every platform-neutral mention takes.
    """
    text = (text or "").strip()
    return _MENTION.sub(lambda m: f"<{m.group(1)}{m.group(2)}>", text)


def wants_log_form(text: str) -> bool:
    """``log`` with no arguments opens the form instead of printing the usage line."""
    return text.strip().lower() == "log"


# ---------------------------------------------------------------------------- clicks


@dataclass(frozen=True)
class Click:
    """One button click, reduced to what the coach and the renderer need."""

    action_id: str  # the neutral action id ("commitment.kept", "form.outcome")
    value: str  # the text command the button stands for
    label: str
    trigger_id: str | None
    channel: str | None  # where the clicked message is (None for App Home)
    message_ts: str | None
    view_id: str | None
    view_hash: str | None
    message_blocks: tuple[dict[str, Any], ...]
    ephemeral: bool = False  # an ephemeral reply: no chat.update, answer through response_url
    response_url: str | None = None

    @property
    def form(self) -> str | None:
        return FORM_ACTIONS.get(self.action_id)

    @property
    def final_choice(self) -> bool:
        """A message of plain buttons (Kept · Missed) takes one answer; one with forms takes several."""
        elements = (
            e
            for b in self.message_blocks
            if b.get("type") == "actions"
            for e in b.get("elements") or ()
            if isinstance(e, Mapping)
        )
        return bool(self.message_ts) and not any(
            neutral_action_id(str(e.get("action_id"))) in FORM_ACTIONS for e in elements
        )

    @property
    def dedupe_key(self) -> str:
        """A message's final choice is made once (Kept, then Missed, does nothing); otherwise the same
        button on the same message (or the same version of a view) acts once."""
        where = f"{self.channel}:{self.message_ts}" if self.message_ts else f"{self.view_id}:{self.view_hash}"
        if self.final_choice:
            return f"click:{where}"
        return f"click:{where}:{self.action_id}:{self.value}"


def neutral_action_id(action_id: str) -> str:
    """Block Kit wants action ids unique within a block; the renderer appends ``#<n>``."""
    return _SUFFIX.sub("", action_id)


def click_from_block_actions(body: Mapping[str, Any]) -> Click:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise PayloadError("block_actions without actions")
    action = actions[0]
    value = action.get("value")
    if not isinstance(value, str):
        raise PayloadError("button without a value")
    container = body.get("container") if isinstance(body.get("container"), Mapping) else {}
    channel = _get(body, "channel", "id") or container.get("channel_id")
    message = body.get("message") if isinstance(body.get("message"), Mapping) else {}
    blocks = message.get("blocks") if isinstance(message.get("blocks"), list) else []
    return Click(
        action_id=neutral_action_id(str(action.get("action_id", ""))),
        value=value,
        label=str(_get(action, "text", "text") or value),
        trigger_id=body.get("trigger_id"),
        channel=channel,
        message_ts=container.get("message_ts") or message.get("ts"),
        view_id=_get(body, "view", "id"),
        view_hash=_get(body, "view", "hash"),
        message_blocks=tuple(b for b in blocks if isinstance(b, Mapping)),
        ephemeral=bool(container.get("is_ephemeral")),
        response_url=body.get("response_url") if isinstance(body.get("response_url"), str) else None,
    )


def form_target(value: str) -> tuple[int | None, str | None]:
    """A form button's value is its text command: ``done 4`` or ``commit 4 ours `` -> (4, "ours")."""
    words = value.split()
    number = int(words[1]) if len(words) > 1 and words[1].isdigit() else None
    side = words[2] if len(words) > 2 and words[2] in ("ours", "theirs") else None
    return number, side


# ---------------------------------------------------------------------------- forms


@dataclass(frozen=True)
class FormContext:
    """What a modal remembers between ``views.open`` and ``view_submission`` (private_metadata)."""

    negotiation: int | None = None
    channel: str | None = None  # the message the form was opened from, to update it afterwards
    message_ts: str | None = None
    label: str | None = None  # the button that opened it

    def dump(self) -> str:
        return json.dumps({k: v for k, v in self.__dict__.items() if v is not None}, separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None) -> FormContext:
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {k: data[k] for k in ("negotiation", "channel", "message_ts", "label") if k in data}
        return cls(**known)


Values = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _value(values: Values, block_id: str) -> Any:
    """The value of one input, whatever its element type; ``None`` when empty."""
    field = values.get(block_id, {}).get("value")
    if not isinstance(field, Mapping):
        return None
    kind = field.get("type")
    if kind in ("static_select", "radio_buttons"):
        option = field.get("selected_option")
        return option.get("value") if isinstance(option, Mapping) else None
    if kind == "checkboxes":
        return [o.get("value") for o in field.get("selected_options") or [] if isinstance(o, Mapping)]
    if kind == "datetimepicker":
        return field.get("selected_date_time")
    if kind == "datepicker":
        return field.get("selected_date")
    if kind == "timepicker":
        return field.get("selected_time")
    value = field.get("value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _required(values: Values, block_id: str, message: str) -> Any:
    value = _value(values, block_id)
    if value in (None, "", []):
        raise FormError(block_id, message)
    return value


def _int(values: Values, block_id: str, *, low: int, high: int) -> int | None:
    raw = _value(values, block_id)
    if raw is None:
        return None
    try:
        number = int(str(raw))
    except ValueError:
        raise FormError(block_id, "Enter a whole number.") from None
    if not low <= number <= high:
        raise FormError(block_id, f"Enter a number from {low} to {high}.")
    return number


def _yes_no(values: Values, block_id: str) -> bool | None:
    raw = _value(values, block_id)
    return None if raw is None else raw == "yes"


def _log(actor: Actor, values: Values, context: FormContext) -> LogNegotiation:
    counterpart = _required(values, "counterpart", "Who are you negotiating with?")
    stamp = _required(values, "when", "When does it start?")
    try:
        when = datetime.fromtimestamp(int(stamp), UTC)
    except (TypeError, ValueError, OverflowError):
        raise FormError("when", "Pick a date and a time.") from None
    channel = _value(values, "channel")
    if channel is not None and channel not in CHANNELS:
        raise FormError("channel", "Pick video, phone, email or in-person.")
    return LogNegotiation(
        actor=actor,
        counterpart=counterpart,
        when=when,
        duration_minutes=_int(values, "duration", low=5, high=24 * 60),
        channel=channel,
        title=_value(values, "title"),
        repeat=_yes_no(values, "repeat"),
        long_term_value=_value(values, "long_term_value"),
    )


def _outcome(actor: Actor, values: Values, context: FormContext) -> RecordOutcome:
    if context.negotiation is None:
        raise FormError("outcome", "This form has lost its negotiation; open it again from the message.")
    outcome = _value(values, "outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise FormError("outcome", "Pick one of the outcomes.")
    return RecordOutcome(
        actor=actor,
        negotiation=context.negotiation,
        notes=_value(values, "notes"),
        outcome=outcome,
        opened_with_connection=_yes_no(values, "opened_with_connection"),
        sentiment=_int(values, "sentiment", low=1, high=5),
        hard_win=_yes_no(values, "hard_win"),
        concessions_given=_int(values, "concessions_given", low=0, high=1000),
        concessions_received=_int(values, "concessions_received", low=0, high=1000),
        observations=_value(values, "observations"),
        settled=_issues(_value(values, "settled")),
    )


def _issues(text: str | None) -> tuple[str, ...] | None:
    parts = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    return parts or None


def _commitment(actor: Actor, values: Values, context: FormContext) -> AddCommitment:
    if context.negotiation is None:
        raise FormError("text", "This form has lost its negotiation; open it again from the message.")
    side = _required(values, "side", "Whose commitment is it?")
    if side not in ("ours", "theirs"):
        raise FormError("side", "Pick ours or theirs.")
    text = _required(values, "text", "What was promised?")
    raw_due = _value(values, "due")
    try:
        due = date.fromisoformat(raw_due) if raw_due else None
    except ValueError:
        raise FormError("due", "Pick a date.") from None
    return AddCommitment(actor=actor, negotiation=context.negotiation, side=side, text=text, due=due)


def _settings(actor: Actor, values: Values, context: FormContext) -> ChangeSettings:
    nudges = _value(values, "nudges")
    role = _value(values, "role")
    return ChangeSettings(
        actor=actor,
        timezone=_value(values, "timezone"),
        lead_minutes=_int(values, "lead", low=0, high=24 * 60),
        quiet=_value(values, "quiet"),
        nudges=None if nudges is None else nudges == "on",
        role=role,
    )


FORMS: dict[str, Callable[[Actor, Values, FormContext], Command]] = {
    LOG_FORM: _log,
    OUTCOME_FORM: _outcome,
    COMMITMENT_FORM: _commitment,
    SETTINGS_FORM: _settings,
}


@dataclass(frozen=True)
class Submission:
    command: Command
    context: FormContext
    view_id: str | None


def command_from_view(body: Mapping[str, Any], actor: Actor) -> Submission:
    """A ``view_submission`` -> the command its form stands for. Raises :class:`FormError`."""
    view = body.get("view")
    if not isinstance(view, Mapping):
        raise PayloadError("view_submission without a view")
    translate = FORMS.get(str(view.get("callback_id")))
    if translate is None:
        raise PayloadError(f"unknown form {view.get('callback_id')!r}")
    values = _get(view, "state", "values")
    context = FormContext.load(view.get("private_metadata"))
    command = translate(actor, values if isinstance(values, Mapping) else {}, context)
    return Submission(command=command, context=context, view_id=view.get("id"))


# ---------------------------------------------------------------------------- shapes

# What Bolt itself indexes into before any listener runs, per payload type.
_REQUIRED_SHAPE: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "block_actions": lambda b: (
        isinstance(b.get("actions"), list) and bool(b["actions"]) and all(isinstance(a, Mapping) for a in b["actions"])
    ),
    "view_submission": lambda b: isinstance(b.get("view"), Mapping),
    "view_closed": lambda b: isinstance(b.get("view"), Mapping),
    "event_callback": lambda b: isinstance(b.get("event"), Mapping),
}


def well_formed(body: Any) -> bool:
    """False for a body that would trip Bolt's own parsing (a 400, not a 500 with a traceback)."""
    if not isinstance(body, Mapping) or not body:
        return False
    if "command" in body and not (body.get("team_id") and body.get("user_id")):
        return False
    check = _REQUIRED_SHAPE.get(str(body.get("type")))
    return check(body) if check is not None else True


# ---------------------------------------------------------------------------- events


def event_id(body: Mapping[str, Any]) -> str | None:
    value = body.get("event_id")
    return value if isinstance(value, str) and value else None


def bot_tokens_revoked(event: Mapping[str, Any]) -> bool:
    """``tokens_revoked`` lists user and bot tokens; only losing the bot token ends the install."""
    return bool(_get(event, "tokens", "bot"))


def timezone_of_profile(user: Mapping[str, Any]) -> str | None:
    """``users.info`` / ``user_change`` carry the IANA zone as ``tz``."""
    tz = user.get("tz")
    return tz if isinstance(tz, str) and ("/" in tz or tz == "UTC") else None


def display_name_of_profile(user: Mapping[str, Any]) -> str | None:
    profile = user.get("profile") if isinstance(user.get("profile"), Mapping) else {}
    for value in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
