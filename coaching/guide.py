"""The coach explaining itself: ``help`` (the command list, or one command's usage), the nod to ``ok``, a kind
word back for ``hi`` and ``thanks``, "did you mean …?" for a word that is no command, the question it asks
instead of storing a moment it is not sure of, and the answers to any "did you mean …?" a room asked.

What this room says shows nobody's own data (``personal=False``): in a shared chat it is answered there."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from coaching import commands as c
from coaching import questions
from coaching.messages import Button, Message, Section, error
from coaching.parser import ALIASES, USAGE, command_words_like
from coaching.room import Answer, Composer, Handler, Turn


async def show_help(turn: Turn, command: c.Help) -> Message:
    if command.topic:
        word = command.topic.split()[0]
        entry = USAGE.get(ALIASES.get(word, word))
        if entry is None:
            near = command_words_like(word)
            hint = f" Did you mean `help {near[0]}`?" if near else " Type `help` for the list."
            return replace(error(f"There is no command “{command.topic}”.{hint}"), personal=False)
        return Message(text=f"`{entry.usage}`", sections=(Section(lines=(entry.summary,)),), personal=False)
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
                    'Quote a counterpart\'s name to take it exactly as typed: `log "Initec" friday 3pm`.',
                )
            ),
        ),
        personal=False,
    )


async def acknowledge(turn: Turn, command: c.Acknowledge) -> Message:
    """``ok``: the "Got it" button; nothing to do but say so."""
    return Message(text="👍 Got it.", personal=False)


async def greet(turn: Turn, command: c.Greet) -> Message:
    """``hi`` / ``thanks``: a short, friendly answer and what to try next."""
    name = (turn.user.display_name or "").split(" ")[0]
    if command.thanks:
        text = "You're welcome! Good luck with the next one."
        hint = "`list` shows what's coming up; `due` who would enjoy hearing from you."
    else:
        hello = f"Hi {name}!" if name else "Hi!"
        text = f"{hello} I'm DealCoach: I help you connect before you negotiate, and follow up after."
        hint = "Try `log Acme tomorrow 3pm`, `list` or `help`."
    return Message(text=text, sections=(Section(lines=(hint,)),), personal=False)


async def unknown_word(turn: Turn, command: c.UnknownWord) -> Message:
    """A word that is no command: "did you mean …?" for a near one (a typed ``yes`` runs it), else the list."""
    if questions.word(command.word) in questions.YES | questions.NO and not command.rest:  # nothing to answer
        stray = error("I haven't asked you anything just now (or the question has lapsed): nothing was changed.")
        return replace(stray, personal=False)
    # A web address is never repeated back: it may be a calendar's secret address, pasted alone or as
    # `calender https://…`, where others read the answer.
    if "://" in command.word or command.word.lower().startswith("www."):
        advice = "That looks like a web address. To follow your calendar, type `calendar <its address>` to me in a DM."
        return replace(error(advice), personal=False)
    if not command.suggestions:
        return replace(error(f"I don't know “{command.word}”. Type `help` to see what I can do."), personal=False)
    rest = "" if "://" in command.rest else command.rest
    runs = [f"{word} {rest}".strip() for word in command.suggestions]
    questions.suggest(turn.user, now=turn.now, yes=runs[0])
    shown = " or ".join(f"`{word}`" for word in command.suggestions)
    return Message(
        text=f"I don't know “{command.word}”. Did you mean {shown}?",
        sections=(Section(lines=(f"Say yes to run `{runs[0]}`.",)),),
        buttons=tuple(Button(f"Yes: {text}", "command.pick", text) for text in runs),
        personal=False,
    )


async def answer_suggestion(turn: Turn, question: dict[str, Any], text: str) -> Message | questions.Rerun | None:
    """A typed answer to any "Did you mean …?" (:func:`coaching.questions.suggest`): yes runs the suggestion,
    no runs the alternative if there is one (a new counterpart), anything else is read as a command."""
    said = questions.word(text)
    if said in questions.YES and isinstance(question.get("yes"), str):
        return questions.Rerun(question["yes"])
    if said in questions.NO:
        if isinstance(question.get("no"), str):
            return questions.Rerun(question["no"])
        questions.settle(turn.user)
        return Message(text="OK, nothing changed.", personal=False)
    return None


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
    )  # personal: it repeats what the person typed about their own deals


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
    c.Greet: greet,
    c.UnknownWord: unknown_word,
    c.ConfirmMoment: ask_moment,
}
COMPOSERS: dict[str, Composer] = {}
ANSWERS: dict[str, Answer] = {
    MOMENT: answer_moment,
    CONFIRMED: answer_confirmed,
    questions.SUGGESTION: answer_suggestion,
}
