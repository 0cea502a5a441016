"""Slack payloads in, neutral commands out: pure functions, no I/O, no SDK objects.

Every function takes the parsed body Bolt hands a listener (a ``dict`` in Slack's documented shape)
and returns something from ``coaching`` (an :class:`Actor`, a command dataclass) or a small frozen
value of this module. Forms are translated through :data:`FORMS`, a table from a modal's
``callback_id`` to the function that reads its fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from coaching import questions
from coaching.calendars import PER_ITEM_ACTIONS
from coaching.commands import (
    OUTCOMES,
    ROLES,
    Actor,
    AddCommitment,
    ChangeSettings,
    Command,
    LogNegotiation,
    RecordOutcome,
)
from coaching.parser import CHANNELS, quiet_hours
from coaching.ports import Address
from coaching.store import valid_locale
from coaching.timelang import DATE_ORDERS

PLATFORM = "slack"

# callback ids of our modals
LOG_FORM = "dealcoach.log"
OUTCOME_FORM = "dealcoach.outcome"
COMMITMENT_FORM = "dealcoach.commitment"
SETTINGS_FORM = "dealcoach.settings"
EDIT_FORM = "dealcoach.edit"  # a question's Edit: the person's line, to correct and send again

# a neutral button's action_id that opens a form -> the modal it opens
FORM_ACTIONS = {
    "form.log": LOG_FORM,
    "form.outcome": OUTCOME_FORM,
    "form.commitment": COMMITMENT_FORM,
    "form.settings": SETTINGS_FORM,
    questions.EDIT: EDIT_FORM,
}

FORM_TEXT = 2000  # a form's text inputs take this much (``max_length`` in render)

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


def installation_of(body: Mapping[str, Any]) -> str:
    """The workspace whose installation an event is for: ``authorizations[0]`` (its team, or its
    enterprise for an org-wide install), else the envelope's team.

    Through a Slack Connect channel the envelope's ``team_id`` is the organisation the event came
    from, which may not be the one that installed DealCoach; uninstall and token revocation act on
    the installation's own workspace only."""
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list) and authorizations and isinstance(authorizations[0], Mapping):
        first = authorizations[0]
        team, enterprise = first.get("team_id"), first.get("enterprise_id")
        org_wide = first.get("is_enterprise_install") in (True, "true")
        for candidate in (enterprise, team) if org_wide else (team, enterprise):
            if isinstance(candidate, str) and candidate:
                return candidate
    return team_of(body)


def actor(
    team: str,
    user: str,
    *,
    display_name: str | None = None,
    timezone: str | None = None,
    locale: str | None = None,
    admin: bool = False,
    email: str | None = None,
) -> Actor:
    return Actor(
        Address(PLATFORM, team, user),
        display_name=display_name,
        timezone=timezone,
        locale=locale,
        admin=admin,
        email=email,
    )


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
    """The words after the slash command (or of a DM), as the person typed them, for the shared parser.

    Slack escapes mentions as ``<@U123|name>`` (``should_escape`` in the manifest); the parser gets
    ``<@U123>``, the form every platform-neutral mention takes. Slack sends ``&``, ``<`` and ``>`` the
    person typed as ``&amp;``, ``&lt;`` and ``&gt;``; they are stored as typed (``render.escape``
    escapes them again on the way out).
    """
    text = _MENTION.sub(lambda m: f"<{m.group(1)}{m.group(2)}>", (text or "").strip())
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_LEADING_MENTION = re.compile(r"\s*<@[A-Z0-9]+>[\s:,]*")


def mentioned_text(text: str | None) -> str:
    """The words of an ``app_mention`` after the app's own mention (``<@UBOT> list`` → ``list``)."""
    return _LEADING_MENTION.sub("", command_text(text), count=1).strip()


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
        """A message of plain buttons (Kept · Missed) takes one answer; one with forms, or a list with the same
        buttons for each item (the meetings found in a calendar), takes several — except a question
        (Yes · Edit), which is answered once either way."""
        actions = {neutral_action_id(str(e.get("action_id"))) for e in _buttons_of(self.message_blocks)}
        if questions.CONFIRM in actions:
            return bool(self.message_ts)
        return bool(self.message_ts) and not actions & FORM_ACTIONS.keys() and not is_list(self.message_blocks)

    @property
    def dedupe_key(self) -> str:
        """A message's final choice is made once (Kept, then Missed, does nothing); otherwise the same
        button on the same message (or the same version of a view) acts once."""
        if self.final_choice and self.channel and self.message_ts:
            return answered_key(self.channel, self.message_ts)
        where = f"{self.channel}:{self.message_ts}" if self.message_ts else f"{self.view_id}:{self.view_hash}"
        if self.final_choice:
            return f"click:{where}"
        return f"click:{where}:{self.action_id}:{self.value}"


def answered_key(channel: str, message_ts: str) -> str:
    """The dedupe key of a message that takes one answer: its first click (or a question's Edit) claims it."""
    return f"click:{channel}:{message_ts}"


def neutral_action_id(action_id: str) -> str:
    """Block Kit wants action ids unique within a block; the renderer appends ``#<n>``."""
    return _SUFFIX.sub("", action_id)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def click_from_block_actions(body: Mapping[str, Any]) -> Click:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        raise PayloadError("block_actions without actions")
    action = actions[0]
    value = action.get("value")
    if not isinstance(value, str):
        raise PayloadError("button without a value")
    container = body.get("container") if isinstance(body.get("container"), Mapping) else {}
    message = body.get("message") if isinstance(body.get("message"), Mapping) else {}
    blocks = message.get("blocks") if isinstance(message.get("blocks"), list) else []
    return Click(
        action_id=neutral_action_id(str(action.get("action_id", ""))),
        value=value,
        label=str(_get(action, "text", "text") or value),
        trigger_id=_text_or_none(body.get("trigger_id")),
        channel=_text_or_none(_get(body, "channel", "id")) or _text_or_none(container.get("channel_id")),
        message_ts=_text_or_none(container.get("message_ts")) or _text_or_none(message.get("ts")),
        view_id=_text_or_none(_get(body, "view", "id")),
        view_hash=_text_or_none(_get(body, "view", "hash")),
        message_blocks=tuple(b for b in blocks if isinstance(b, Mapping)),
        ephemeral=container.get("is_ephemeral") is True,
        response_url=_text_or_none(body.get("response_url")),
    )


def _buttons_of(blocks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for b in blocks if b.get("type") == "actions" for e in b.get("elements") or () if isinstance(e, Mapping)]


def is_list(blocks: Sequence[Mapping[str, Any]]) -> bool:
    """The message is a list with buttons per item (``coaching.calendars.PER_ITEM_ACTIONS``)."""
    return any(neutral_action_id(str(e.get("action_id"))) in PER_ITEM_ACTIONS for e in _buttons_of(blocks))


def is_question(blocks: Sequence[Mapping[str, Any]]) -> bool:
    """The message asks a question (it has the Yes of ``coaching.questions``): any answer settles it."""
    return any(neutral_action_id(str(e.get("action_id"))) == questions.CONFIRM for e in _buttons_of(blocks))


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
    def load(cls, raw: Any) -> FormContext:
        """Our own private_metadata, read back; anything else is an empty context."""
        try:
            data = json.loads(raw) if isinstance(raw, str) and raw else {}
        except (ValueError, RecursionError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        number = data.get("negotiation")
        texts = {k: data[k] for k in ("channel", "message_ts", "label") if isinstance(data.get(k), str)}
        return cls(negotiation=number if type(number) is int and number > 0 else None, **texts)


Values = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _value(values: Values, block_id: str) -> Any:
    """The value of one input, whatever its element type; ``None`` when empty."""
    block = values.get(block_id)
    field = block.get("value") if isinstance(block, Mapping) else None
    if not isinstance(field, Mapping):
        return None
    kind = field.get("type")
    if kind in ("static_select", "radio_buttons"):
        option = field.get("selected_option")
        value = option.get("value") if isinstance(option, Mapping) else None
    elif kind == "checkboxes":
        options = field.get("selected_options")
        chosen = [o.get("value") for o in options if isinstance(o, Mapping)] if isinstance(options, list) else []
        return [v for v in chosen if isinstance(v, str)]
    elif kind == "datetimepicker":
        stamp = field.get("selected_date_time")
        return stamp if type(stamp) is int else None
    elif kind == "datepicker":
        value = field.get("selected_date")
    elif kind == "timepicker":
        value = field.get("selected_time")
    else:
        value = field.get("value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _required(values: Values, block_id: str, message: str) -> Any:
    value = _value(values, block_id)
    if value in (None, "", []):
        raise FormError(block_id, message)
    return value


def _text(values: Values, block_id: str, *, limit: int, required: str | None = None) -> str | None:
    """A typed text, at most ``limit`` characters (the limits the typed commands have)."""
    value = _required(values, block_id, required) if required else _value(values, block_id)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise FormError(block_id, f"Keep it to {limit:,} characters.")
    return value


def _choice(values: Values, block_id: str, allowed: tuple[str, ...], message: str) -> str | None:
    value = _value(values, block_id)
    if value is not None and value not in allowed:
        raise FormError(block_id, message)
    return value


def _int(values: Values, block_id: str, *, low: int, high: int) -> int | None:
    raw = _value(values, block_id)
    if raw is None:
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?[0-9]{1,9}", raw):
        raise FormError(block_id, "Enter a whole number.")
    number = int(raw)
    if not low <= number <= high:
        raise FormError(block_id, f"Enter a number from {low} to {high}.")
    return number


def _yes_no(values: Values, block_id: str) -> bool | None:
    answer = _choice(values, block_id, ("yes", "no"), "Pick yes or no.")
    return None if answer is None else answer == "yes"


def _log(actor: Actor, values: Values, context: FormContext) -> LogNegotiation:
    counterpart = _text(values, "counterpart", limit=200, required="Who are you negotiating with?")
    stamp = _required(values, "when", "When does it start?")
    try:
        when = datetime.fromtimestamp(stamp, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise FormError("when", "Pick a date and a time.") from None
    return LogNegotiation(
        actor=actor,
        counterpart=counterpart or "",
        when=when,
        duration_minutes=_int(values, "duration", low=5, high=24 * 60),
        channel=_choice(values, "channel", CHANNELS, "Pick video, phone, email or in-person."),
        title=_text(values, "title", limit=300),
        repeat=_yes_no(values, "repeat"),
        long_term_value=_text(values, "long_term_value", limit=FORM_TEXT),
    )


def _outcome(actor: Actor, values: Values, context: FormContext) -> RecordOutcome:
    if context.negotiation is None:
        raise FormError("outcome", "This form has lost its negotiation; open it again from the message.")
    return RecordOutcome(
        actor=actor,
        negotiation=context.negotiation,
        notes=_text(values, "notes", limit=FORM_TEXT),
        outcome=_choice(values, "outcome", OUTCOMES, "Pick one of the outcomes."),
        opened_with_connection=_yes_no(values, "opened_with_connection"),
        sentiment=_int(values, "sentiment", low=1, high=5),
        hard_win=_yes_no(values, "hard_win"),
        concessions_given=_int(values, "concessions_given", low=0, high=1000),
        concessions_received=_int(values, "concessions_received", low=0, high=1000),
        observations=_text(values, "observations", limit=FORM_TEXT),
        settled=_issues(values, "settled"),
    )


def _issues(values: Values, block_id: str) -> tuple[str, ...] | None:
    text = _text(values, block_id, limit=FORM_TEXT)
    parts = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    if any(len(part) > 200 for part in parts):
        raise FormError(block_id, "Keep each issue to 200 characters.")
    return parts or None


def _commitment(actor: Actor, values: Values, context: FormContext) -> AddCommitment:
    if context.negotiation is None:
        raise FormError("text", "This form has lost its negotiation; open it again from the message.")
    side = _required(values, "side", "Whose commitment is it?")
    if side not in ("ours", "theirs"):
        raise FormError("side", "Pick ours or theirs.")
    text = _text(values, "text", limit=1000, required="What was promised?")
    raw_due = _value(values, "due")
    try:
        due = date.fromisoformat(raw_due) if raw_due else None
    except (TypeError, ValueError):
        raise FormError("due", "Pick a date.") from None
    at = _value(values, "due_time")
    if at is not None and (not isinstance(at, str) or not re.fullmatch(r"\d\d:\d\d", at)):
        raise FormError("due_time", "Pick a time.")
    if at is not None and due is None:
        raise FormError("due", "Pick the day it is due, too.")
    # a due time is read by the coach in the person's zone, as a typed `by 2026-12-04 17:00` is
    words = f"{due.isoformat()} {at}" if due and at else None
    return AddCommitment(
        actor=actor, negotiation=context.negotiation, side=side, text=text or "", due=due, due_words=words
    )


def _settings(actor: Actor, values: Values, context: FormContext) -> ChangeSettings:
    """The settings form, read as ``settings`` reads typed words: quiet hours through
    :func:`coaching.parser.quiet_hours`, a role of :data:`coaching.commands.ROLES`."""
    quiet = _text(values, "quiet", limit=40)
    if quiet is not None:
        try:
            quiet_hours(quiet)
        except ValueError:
            raise FormError("quiet", "Quiet hours look like 19:00-08:00 (or off).") from None
    nudges = _choice(values, "nudges", ("on", "off"), "Pick on or off.")
    return ChangeSettings(
        actor=actor,
        timezone=_text(values, "timezone", limit=64),
        lead_minutes=_int(values, "lead", low=0, high=24 * 60),
        quiet=quiet,
        nudges=None if nudges is None else nudges == "on",
        role=_choice(values, "role", ROLES, "Your role is sales or procurement."),
        dates=_choice(values, "dates", DATE_ORDERS, "Pick how dates like 6/12 are read."),
    )


@dataclass(frozen=True)
class Typed:
    """A form whose answer is words for the shared parser (a question's Edit: the corrected line)."""

    text: str


MAX_LINE = 4000  # the parser's own limit for typed words


def _edit(actor: Actor, values: Values, context: FormContext) -> Typed:
    return Typed(_text(values, "line", limit=MAX_LINE, required="Type the line as you meant it.") or "")


FORMS: dict[str, Callable[[Actor, Values, FormContext], Command | Typed]] = {
    LOG_FORM: _log,
    OUTCOME_FORM: _outcome,
    COMMITMENT_FORM: _commitment,
    SETTINGS_FORM: _settings,
    EDIT_FORM: _edit,
}


@dataclass(frozen=True)
class Submission:
    command: Command | Typed
    context: FormContext
    view_id: str | None


def command_from_view(body: Mapping[str, Any], actor: Actor) -> Submission:
    """A ``view_submission`` -> the command its form stands for. Raises :class:`FormError`."""
    view = body.get("view")
    if not isinstance(view, Mapping):
        raise PayloadError("view_submission without a view")
    translate = FORMS.get(str(view.get("callback_id")))
    if translate is None:
        raise PayloadError(f"unknown form {str(view.get('callback_id'))[:60]!r}")
    values = _get(view, "state", "values")
    context = FormContext.load(view.get("private_metadata"))
    command = translate(actor, values if isinstance(values, Mapping) else {}, context)
    view_id = view.get("id")
    return Submission(command=command, context=context, view_id=view_id if isinstance(view_id, str) else None)


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


def locale_of_profile(user: Mapping[str, Any]) -> str | None:
    """``users.info`` with ``include_locale=true`` carries the person's language as ``locale`` ("en-US")."""
    return valid_locale(user.get("locale"))


_EMAIL = re.compile(r"[^@\s<>]{1,64}@[^@\s<>]{1,255}")


def email_of_profile(user: Mapping[str, Any]) -> str | None:
    """``users.info``'s ``profile.email`` (only with the ``users:read.email`` scope): its domain is one of the
    person's own, so a meeting with colleagues only is not taken for a negotiation."""
    profile = user.get("profile") if isinstance(user.get("profile"), Mapping) else {}
    email = profile.get("email")
    return email.strip().lower() if isinstance(email, str) and _EMAIL.fullmatch(email.strip()) else None


def admin_of_profile(user: Mapping[str, Any]) -> bool:
    """A workspace admin or owner (``users.info``: ``is_admin``, ``is_owner``, ``is_primary_owner``)."""
    return any(user.get(flag) is True for flag in ("is_admin", "is_owner", "is_primary_owner"))


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
