"""A question the coach asked and awaits an answer to, one per person.

Some answers are not commands: ``yes`` to "I read *Tyrell* on *Fri 04 Dec 11:00* — is that right?", ``4`` to
"How warm were they, 1–5?". The question is kept on the person's row (``users.awaiting``) with the moment it
lapses. The engine offers the next thing the person types to the room that asked (its ``ANSWERS`` table, keyed
by the question's kind); if that room does not take it as an answer, it is read as a command, and any command
ends the question. A question never outlives its ``until``, so a stray ``yes`` hours later confirms nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from coaching.models import User

QUESTION = "question"  # the kind of a message that asks: any of its buttons answers it, once
CONFIRM = "moment.confirm"  # the action id of a question's Yes button: its value is the command it confirms
EDIT = "form.edit"  # ... and of its Edit button: a form with the person's line in it, to correct and send

YES = frozenset({"yes", "y", "yep", "yeah", "ok", "okay", "right", "correct", "sure", "confirm", "👍"})
NO = frozenset({"no", "n", "nope", "cancel", "wrong", "stop"})


RECEIPT_TTL = timedelta(minutes=30)
SUGGESTION = "suggestion"  # "Did you mean …?": ``yes`` runs the suggestion, ``no`` runs ``no`` or changes nothing
SUGGESTION_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class Rerun:
    """An answer that stands for a command: handle ``text`` as if the person had typed it. ``receipt``: a
    question kind to keep afterwards, about the same words, for ``RECEIPT_TTL`` — so the room that asked sees
    them again (a second click on Yes, a message delivered twice) and does not run them a second time."""

    text: str
    receipt: str | None = None


def same_words(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def ask(user: User, kind: str, *, now: datetime, ttl: timedelta, **about: Any) -> None:
    """Remember that ``user`` was asked a question of ``kind``; ``about`` must be JSON-serialisable."""
    user.awaiting = {"kind": kind, "until": (now + ttl).isoformat(), **about}


def suggest(user: User, *, now: datetime, yes: str, no: str | None = None) -> None:
    """Ask "Did you mean …?": a typed ``yes`` handles ``yes`` (a command's words), ``no`` handles ``no`` (or
    nothing, when None). Answered by :func:`coaching.guide.answer_suggestion`."""
    ask(user, SUGGESTION, now=now, ttl=SUGGESTION_TTL, yes=yes, no=no)


def awaited(user: User, now: datetime) -> dict[str, Any] | None:
    """The question ``user`` still owes an answer to, or None (none asked, or it lapsed)."""
    question = user.awaiting
    if not question:
        return None
    try:
        if datetime.fromisoformat(question["until"]) < now:
            return None
    except (KeyError, TypeError, ValueError):
        return None
    return question


def settle(user: User) -> None:
    """The question is answered or abandoned."""
    if user.awaiting is not None:
        user.awaiting = None


def word(text: str) -> str:
    """The answer as one comparable word: ``Yes!`` → ``yes``."""
    return " ".join(text.lower().split()).strip(" .!?")
