"""The coach explaining itself: ``help`` (the command list, or one command's usage), the nod to ``ok``, and the
question it asks instead of storing a moment it is not sure of."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from coaching import commands as c
from coaching import questions
from coaching.messages import Button, Message, Section, error
from coaching.parser import USAGE
from coaching.room import Answer, Composer, Handler, Turn


async def show_help(turn: Turn, command: c.Help) -> Message:
    if command.topic:
        entry = USAGE.get(command.topic.split()[0])
        if entry is None:
            return error(f"There is no command “{command.topic}”. Type `help` for the list.")
        return Message(text=f"`{entry.usage}`", sections=(Section(lines=(entry.summary,)),))
    lines = tuple(f"`{u.usage}` — {u.summary}" for u in USAGE.values())
    return Message(
        text="DealCoach reminds you to connect before you negotiate, to follow up after, and to keep "
        "what was promised. Commands:",
        sections=(
            Section(lines=lines),
            Section(
                lines=(
                    "Times are read in your time zone: `2026-12-01 14:00`, `tomorrow 3pm`, `in 20 minutes`, "
                    "`next tuesday 10am`, `friday`.",
                )
            ),
        ),
    )


async def acknowledge(turn: Turn, command: c.Acknowledge) -> Message:
    """``ok``: the "Got it" button; nothing to do but say so."""
    return Message(text="👍 Got it.")


MOMENT = "moment"  # the question "I read … — is that right?"
CONFIRMED = "moment.confirmed"  # ... answered with yes: the same words again are not run a second time
MOMENT_TTL = timedelta(minutes=30)


async def ask_moment(turn: Turn, command: c.ConfirmMoment) -> Message:
    """A moment the coach is not sure of is never stored: it asks. The Yes button carries the command's
    unambiguous words (``ConfirmMoment.text``), so a click runs exactly the proposed command through the parser;
    a typed ``yes`` does the same while the question is open, and either runs it once. The Edit button offers the
    line as the person typed it, to correct (a form where the platform has one; in the console, type it again)."""
    questions.ask(turn.user, MOMENT, now=turn.now, ttl=MOMENT_TTL, text=command.text)
    return Message(
        text=command.question,
        sections=(Section(lines=("Nothing is stored yet: say yes, or send the line again as you meant it.",)),),
        buttons=(
            Button("Yes", questions.CONFIRM, command.text, "primary"),
            Button("Edit", questions.EDIT, command.typed or command.text),
        ),
        kind=questions.QUESTION,
    )


async def answer_moment(turn: Turn, question: dict[str, Any], text: str) -> Message | questions.Rerun | None:
    proposed = question.get("text")
    if not isinstance(proposed, str):
        return None
    said = questions.word(text)
    if said in questions.YES or questions.same_words(text, proposed):  # typed yes, or the Yes button
        return questions.Rerun(proposed, receipt=CONFIRMED)
    if said in questions.NO:
        questions.settle(turn.user)
        return Message(text="OK, nothing stored. Send the line again as you meant it.")
    return None


async def answer_confirmed(turn: Turn, question: dict[str, Any], text: str) -> Message | None:
    """The question was answered: its Yes again (a second click, a message delivered twice) stores nothing."""
    done = question.get("text")
    if isinstance(done, str) and questions.same_words(text, done):
        return Message(text="That is stored already: you confirmed it a moment ago.")
    return None


HANDLERS: dict[type[c.Command], Handler] = {
    c.Help: show_help,
    c.Acknowledge: acknowledge,
    c.ConfirmMoment: ask_moment,
}
COMPOSERS: dict[str, Composer] = {}
ANSWERS: dict[str, Answer] = {MOMENT: answer_moment, CONFIRMED: answer_confirmed}
