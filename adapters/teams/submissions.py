"""Card submissions → DealCoach input: pure functions, no I/O.

Every button of a DealCoach card carries its data under the ``dealcoach`` key (the action id) and a
``command`` (the equivalent typed words); Teams merges the form's inputs into that data, as strings.
The same data arrives from an ``Action.Submit`` (a message activity's ``value``) and from an
``Action.Execute`` (the ``adaptiveCard/action`` invoke's ``value.action.data``). Everything in it was
sent by a client, so every field is type- and range-checked here: what cannot be read becomes a
:class:`SubmissionError` whose text is safe to show to the person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from coaching import questions
from coaching.commands import OUTCOMES, Actor, AddCommitment, Command, RecordOutcome

SUBMIT_KEY = "dealcoach"  # key in a button's data that marks a DealCoach card submission
SUMMARY_KEY = "summary"  # the card's one-line text, to show it again after the click
LABEL_KEY = "label"  # the clicked button's label
FOR_KEY = "for"  # the person a card was made for (people picker, file consent)
PERSON_KEY = "person"  # the people picker's input: the chosen person's AAD object id
PICK_PERSON = "person.pick"  # the action id of the people picker's button
LINE_KEY = "line"  # a question's Edit form: the corrected line
MAX_SUMMARY = 150  # characters of the card's text carried in every button's data
MAX_LABEL = 80
MAX_COMMAND = 4_000  # the coach's own limit for typed words
MAX_FIELD = 2_000  # a free-text form field (notes, observations)
MAX_SHORT = 500  # a short form field (what was promised, issues settled)
AAD_OBJECT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_WHOLE = re.compile(r"\+?\d{1,7}")


@dataclass(frozen=True)
class TypedText:
    """Words for the coach's text parser (``coach.handle_text``)."""

    actor: Actor
    text: str


@dataclass(frozen=True)
class PersonPick:
    """A person chosen in the people picker, for the command that named them (``team add``, ``handoff 3 …``)."""

    actor: Actor
    command: str  # the command's words without the person: "team add", "handoff 3 the note"
    person: str  # their AAD object id, as the picker gives it


Incoming = TypedText | PersonPick | Command


class SubmissionError(ValueError):
    """A card submission DealCoach cannot read; the message is safe to show to the user."""


@dataclass(frozen=True)
class CardClick:
    """A click on one of DealCoach's cards: which message to update, and what to show on it."""

    activity_id: str  # the card's activity (the submit's ``replyToId``)
    summary: str  # the card's one-line text
    label: str  # the clicked button's label


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _label(key: str) -> str:
    return key.replace("_", " ")


def text_field(value: Mapping[str, Any], key: str, limit: int = MAX_FIELD) -> str | None:
    """A text input: a string (a whole number is taken as its digits), stripped, at most ``limit`` long."""
    raw = value.get(key)
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise SubmissionError(f"{_label(key)} must be text.")
    text = raw.strip()
    if len(text) > limit:
        raise SubmissionError(f"{_label(key)} is too long ({limit:,} characters at most).")
    return text or None


def _flag(value: Mapping[str, Any], key: str) -> bool | None:
    raw = value.get(key)
    if isinstance(raw, bool) or raw is None:
        return raw
    text = text_field(value, key, 10)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise SubmissionError(f"{_label(key)} must be yes or no.")


def _count(value: Mapping[str, Any], key: str, *, low: int, high: int) -> int | None:
    """A whole number from ``low`` to ``high``; "nan", "inf", 1e309, 2.5 and true are not."""
    raw = value.get(key)
    problem = SubmissionError(f"{_label(key)} must be a whole number from {low} to {high}.")
    if isinstance(raw, bool):
        raise problem
    if isinstance(raw, float):
        if not raw.is_integer():  # also NaN and infinity
            raise problem
        raw = int(raw)
    if raw is not None and not isinstance(raw, int | str):
        raise problem
    if not isinstance(raw, int):
        text = text_field(value, key, 20)
        if text is None:
            return None
        if not _WHOLE.fullmatch(text):
            raise problem
        raw = int(text)
    if not low <= raw <= high:
        raise problem
    return raw


def _command(value: Mapping[str, Any]) -> str:
    return text_field(value, "command", MAX_COMMAND) or ""


def _negotiation_id(value: Mapping[str, Any]) -> int:
    """The negotiation id from the button's command (``"done 4"``, ``"commit 4 ours "``)."""
    words = _command(value).split()
    if len(words) < 2 or not words[1].isdigit() or len(words[1]) > 9:
        raise SubmissionError("This card is missing its negotiation number; type the command instead.")
    return int(words[1])


def _issues(value: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    text = text_field(value, key, MAX_SHORT)
    return tuple(part.strip() for part in text.split(",") if part.strip())[:20] if text else None


def outcome_form(actor: Actor, value: Mapping[str, Any]) -> RecordOutcome:
    outcome = text_field(value, "outcome", 40)
    if outcome is not None and outcome not in OUTCOMES:
        raise SubmissionError(f"Outcome must be one of {', '.join(OUTCOMES)}.")
    return RecordOutcome(
        actor=actor,
        negotiation=_negotiation_id(value),
        notes=text_field(value, "notes"),
        outcome=outcome,
        opened_with_connection=_flag(value, "connection"),
        sentiment=_count(value, "sentiment", low=1, high=5),
        hard_win=_flag(value, "hard_win"),
        concessions_given=_count(value, "given", low=0, high=1000),
        concessions_received=_count(value, "received", low=0, high=1000),
        observations=text_field(value, "observations"),
        settled=_issues(value, "settled"),
    )


def _due(value: Mapping[str, Any]) -> tuple[date | None, str | None]:
    """The due day from the date picker, or — from a client that shows a text box instead, or with a due time —
    words the coach reads with the time language in the person's zone, as a typed ``by …``."""
    due_text = text_field(value, "due", 40)
    at = text_field(value, "due_time", 10)
    if at is not None and not re.fullmatch(r"\d{1,2}:\d\d(?::\d\d)?", at):
        raise SubmissionError("Due time must be a time like 17:00.")
    if not due_text:
        if at is not None:
            raise SubmissionError("Pick the day it is due, too.")
        return None, None
    try:
        day = date.fromisoformat(due_text[:10])
    except ValueError:
        return None, f"{due_text} {at}" if at else due_text
    return day, f"{day.isoformat()} {at[:5]}" if at else None


def commitment_form(actor: Actor, value: Mapping[str, Any]) -> AddCommitment:
    words = _command(value).split()
    side = text_field(value, "side", 10) or (words[2] if len(words) > 2 else "ours")
    if side not in ("ours", "theirs"):
        raise SubmissionError("Side must be ours or theirs.")
    what = text_field(value, "what", MAX_SHORT)
    if not what:
        raise SubmissionError("Say what was promised.")
    due, due_words = _due(value)
    return AddCommitment(
        actor=actor, negotiation=_negotiation_id(value), side=side, text=what, due=due, due_words=due_words
    )


def person_pick(actor: Actor, value: Mapping[str, Any]) -> PersonPick:
    """The people picker's answer; only the person the picker was shown to can use it."""
    if text_field(value, FOR_KEY, 200) != actor.address.user:
        raise SubmissionError("This card was for someone else. Type the command yourself, e.g. `team add @name`.")
    person = text_field(value, PERSON_KEY, 100)
    if person is None:
        raise SubmissionError("Pick someone first, then press the button.")
    if not AAD_OBJECT_ID.fullmatch(person):
        raise SubmissionError("I can't read who was picked; please pick them again.")
    command = _command(value)
    if not command:
        raise SubmissionError("This card has no command; type the command instead.")
    return PersonPick(actor, command=command, person=person.lower())


def edit_form(actor: Actor, value: Mapping[str, Any]) -> TypedText:
    """A question's Edit: the corrected line, read as typed words are."""
    line = text_field(value, LINE_KEY, MAX_COMMAND)
    if not line:
        raise SubmissionError("Type the line as you meant it.")
    return TypedText(actor, line)


def button(actor: Actor, value: Mapping[str, Any]) -> TypedText:
    command = _command(value)
    if not command:
        raise SubmissionError("This button has no command; type the command instead.")
    return TypedText(actor, command)


# action id → translator; everything else is a plain button with a command
SUBMISSIONS: dict[str, Callable[[Actor, Mapping[str, Any]], Incoming]] = {
    "form.outcome": outcome_form,
    "form.commitment": commitment_form,
    questions.EDIT: edit_form,
    PICK_PERSON: person_pick,
}


def is_ours(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get(SUBMIT_KEY), str) and bool(value[SUBMIT_KEY])


def submission_of(actor: Actor, value: Mapping[str, Any]) -> Incoming:
    return SUBMISSIONS.get(str(value.get(SUBMIT_KEY)), button)(actor, value)


def card_click_of(reply_to: Any, value: Mapping[str, Any]) -> CardClick | None:
    """The card a click came from, to redraw it; None for cards rendered before their buttons carried the
    card's text (those are left as they are)."""
    try:
        summary, label = text_field(value, SUMMARY_KEY, 1000), text_field(value, LABEL_KEY, 1000)
    except SubmissionError:
        return None
    if not isinstance(reply_to, str) or not reply_to or summary is None or label is None:
        return None
    return CardClick(activity_id=reply_to, summary=clip(summary, MAX_SUMMARY), label=clip(label, MAX_LABEL))


def command_of(value: Mapping[str, Any]) -> str:
    """The button's command words, or "" (for deciding where an answer may be shown)."""
    try:
        return _command(value)
    except SubmissionError:
        return ""
