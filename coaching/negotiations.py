"""Negotiations: log, list, prep, frame, outcome, follow-up, reschedule, cancel and the snoozes of their
nudges — and the pre-call reminder, the follow-up prompt and its reminder that keep them on time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Row,
    Subquery,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)

from coaching import commands as c
from coaching import counterparts as known
from coaching import nudges as n
from coaching import playbook as book
from coaching import questions, store
from coaching.messages import Button, Message, Section
from coaching.models import Counterpart, Negotiation, Nudge, Touchpoint
from coaching.parser import ALIASES, CHANNELS, PARSERS, USAGE, CommandError, command_text, moment_words
from coaching.room import Answer, Composed, Composer, Handler, Skip, Turn, check_moment
from coaching.texts import (
    arrival_note,
    commitment_lines,
    reading_lines,
    remind_again,
    span_text,
    when_soon,
    when_text,
)

INFORMAL_TOUCHPOINTS = ("coffee", "call", "note")


# -- log ---------------------------------------------------------------------------------------------


async def log_negotiation(turn: Turn, command: c.LogNegotiation) -> Message:
    session, user, now, tz = turn.session, turn.user, turn.now, turn.tz
    name = " ".join(command.counterpart.split())
    if not name:
        raise CommandError("Who is the negotiation with?", USAGE["log"].usage)
    channel = command.channel or turn.defaults.channel
    if channel not in CHANNELS:
        raise CommandError(f"“{channel}” is not a channel: use video, phone, email or in-person.")
    duration = command.duration_minutes or turn.defaults.duration_minutes
    if not 1 <= duration <= 1440:
        raise CommandError("A negotiation lasts between 1 minute and 24 hours.", field="duration_minutes")
    check_moment(turn, command.when, "when")
    counterpart = await known.resolve(
        turn,
        name,
        words=lambda other: command_text(replace(command, counterpart=other), turn.context),
        exact=command.exact,
        creates=True,
    )
    if isinstance(counterpart, Message):
        return counterpart  # "Did you mean Initech?"
    values = {
        "created_at": now,
        "owner_id": user.id,
        "counterpart_id": counterpart.id,
        "title": (command.title or "").strip()[:300] or None,
        "starts_at": command.when,
        "duration_minutes": duration,
        "channel": channel,
        "status": "scheduled",
        "back_to_back": False,
        "repeat": command.repeat,
        "long_term_value": command.long_term_value,
    }
    negotiation = Negotiation(**values)  # not in the session: stored by the one INSERT below
    warnings = await _back_to_back(turn, negotiation)  # before it is stored, so its own flag goes in with it
    values["back_to_back"] = negotiation.back_to_back
    [stored] = await store.rows(session, _INSERT_NEGOTIATION, {**values, "numbering": user.id})
    negotiation.id, negotiation.number = stored.id, stored.number
    warm = counterpart.long_term or command.repeat  # a relationship to keep warm: this rep's weekly list
    if warm:
        known.mark_long_term(counterpart)
    weekly = [n.plan_stay_in_touch(user, now)] if warm else []
    planned = await n.schedule_negotiation(session, negotiation, user, now=now, timing=turn.timing, also=weekly)

    held = negotiation.starts_at <= now
    head = (
        f"Logged #{negotiation.number}: {counterpart.name}, {when_soon(negotiation.starts_at, tz, now)} "
        f"({duration} min, {channel})."
    )
    lines: list[str] = list(reading_lines(command.notes))
    if not user.nudges_enabled:  # nothing below would come: say so, and how to change it
        lines.append(
            f"That time has passed, so I take it the call happened: record it with `done {negotiation.number}`."
            if held
            else "No pre-call reminder or follow-up prompt will come."
        )
        lines.append(book.NUDGES_OFF)
    elif held:
        lines.append("That time has passed, so I take it the call happened: the follow-up prompt is on its way.")
    else:
        precall = next((p for p in planned if p.kind == n.PRECALL), None)
        if precall:
            lines.append(
                f"Pre-call reminder: {when_text(precall.due_at, tz, now)}"
                + (" (now, it starts soon)." if precall.due_at <= now else ".")
            )
        followup = next(p for p in planned if p.kind == n.FOLLOWUP)
        lines.append(f"Follow-up prompt: {await _arrives(turn, followup)}.")
    sections = [Section(lines=tuple(lines))]
    if warnings:
        sections.append(Section(heading="Heads-up", lines=tuple(warnings)))
    buttons: list[Button] = []
    if not held:
        coffee = await _coffee_suggestion(turn, negotiation, counterpart)
        if coffee:
            sections.append(coffee)
            buttons.append(Button("Record coffee chat", "coffee.record", f'coffee "{counterpart.name}"'))
        if negotiation.repeat is None:
            sections.append(
                Section(heading="Frame it", lines=(book.FRAME_QUESTIONS[0],))
            )  # fmt: skip
            buttons += [
                Button("We'll deal again", "frame.repeat", f"frame {negotiation.number} repeat"),
                Button("One-off", "frame.one_off", f"frame {negotiation.number} one-off"),
            ]
        buttons.append(Button("Prep brief", "negotiation.prep", f"prep {negotiation.number}"))
    return Message(text=head, sections=tuple(sections), buttons=tuple(buttons), ref=f"negotiation:{negotiation.number}")


async def _arrives(turn: Turn, planned: n.Planned) -> str:
    """When a planned nudge will really come (after quiet hours and the daily budget), as a confirmation says it."""
    arrival = await n.arrives(turn.session, turn.user, planned, budget=turn.defaults.daily_nudges)
    return when_text(arrival.at, turn.tz, turn.now) + arrival_note(arrival)


# A new negotiation is one INSERT, numbered in it (the owner's next own number, as store.next_number reads it).
_NEGOTIATIONS = Negotiation.__table__
_INSERT_NEGOTIATION = (
    insert(_NEGOTIATIONS)
    .values(
        number=select(func.coalesce(func.max(Negotiation.number), 0) + 1)
        .where(Negotiation.owner_id == bindparam("numbering"))
        .scalar_subquery()
    )
    .returning(_NEGOTIATIONS.c.id, _NEGOTIATIONS.c.number)
)
_NEAR = (
    select(
        Negotiation.id,
        Negotiation.number,
        Negotiation.starts_at,
        Negotiation.duration_minutes,
        Counterpart.name.label("counterpart"),
    )
    .join(Counterpart, Counterpart.id == Negotiation.counterpart_id)
    .where(
        Negotiation.owner_id == bindparam("owner"),
        Negotiation.id != bindparam("id"),
        Negotiation.status != "cancelled",
        Negotiation.starts_at < bindparam("before"),
        Negotiation.starts_at > bindparam("after"),
    )
)


async def _back_to_back(turn: Turn, negotiation: Negotiation) -> list[str]:
    """Warn about a negotiation less than the gap before or after this one (or overlapping it); flags this one
    (``back_to_back``) and, in the database, the ones that start too soon after it."""
    gap = turn.timing.back_to_back_gap
    starts = negotiation.starts_at
    ends = starts + timedelta(minutes=negotiation.duration_minutes)
    window = {
        "owner": turn.user.id,
        "id": negotiation.id or 0,  # 0: not stored yet (ids start at 1)
        "before": ends + gap,
        "after": starts - timedelta(days=1) - gap,
    }
    others = await store.rows(turn.session, _NEAR, window)
    warnings: list[str] = []
    crowded: list[int] = []
    negotiation.back_to_back = False
    for other in others:
        other_ends = other.starts_at + timedelta(minutes=other.duration_minutes)
        if other_ends + gap <= starts:
            continue
        name = f"{other.counterpart} (#{other.number})"
        if other.starts_at < ends and starts < other_ends:
            warnings.append(book.OVERLAP.format(other=name))
            negotiation.back_to_back = True
        elif other_ends <= starts:
            warnings.append(book.BACK_TO_BACK.format(gap=span_text(starts - other_ends), other=name))
            negotiation.back_to_back = True
        else:  # the other starts shortly after this one ends: that one has no breathing room
            warnings.append(
                f"Back-to-back: your negotiation with {name} starts {span_text(other.starts_at - ends)} "
                "after this one ends. Leave time to reflect and prepare."
            )
            crowded.append(other.id)
    if crowded:
        await turn.session.execute(update(Negotiation).where(Negotiation.id.in_(crowded)).values(back_to_back=True))
    return warnings


_INFORMAL_SINCE = (
    select(func.count())
    .select_from(Touchpoint)
    .where(
        Touchpoint.user_id == bindparam("user"),
        Touchpoint.counterpart_id == bindparam("counterpart"),
        or_(*(Touchpoint.kind == kind for kind in INFORMAL_TOUCHPOINTS)),  # not IN (...): re-rendered every time
        Touchpoint.at >= bindparam("since"),
    )
)


async def _coffee_suggestion(turn: Turn, negotiation: Negotiation, counterpart: Counterpart) -> Section | None:
    now = turn.now
    if negotiation.starts_at - now < turn.timing.coffee_min_ahead:
        return None
    window = turn.timing.contact_gap
    recent = await store.scalar(
        turn.session, _INFORMAL_SINCE, {"user": turn.user.id, "counterpart": counterpart.id, "since": now - window}
    )
    if recent:
        return None
    text = book.COFFEE_SUGGESTION.format(counterpart=counterpart.name, days=window.days)
    return Section(heading="Coffee first?", lines=(text,))


# -- list --------------------------------------------------------------------------------------------


# What a line of ``list`` shows, for three pages in one query built once: each page is its own ordered, bounded
# subquery, numbered by its own order, so the rows come back page by page in the order each page is read.
_LISTED = (
    Negotiation.number,
    Counterpart.name.label("counterpart"),
    Negotiation.starts_at,
    Negotiation.duration_minutes,
    Negotiation.channel,
    Negotiation.status,
    Negotiation.outcome,
    Negotiation.followup_sent_at,
)
LIST_PAGES = (("Upcoming", 25), ("Awaiting outcome", 10), ("Recent", 5))
LIST_MORE = "… and more: `counterpart <name>` shows one counterpart's negotiations, `export` all of them."


def _list_page(page: int, where: ColumnElement[bool], order: tuple[Any, ...]) -> Subquery:
    return (
        select(literal(page).label("page"), func.row_number().over(order_by=order).label("place"), *_LISTED)
        .join(Counterpart, Counterpart.id == Negotiation.counterpart_id)
        .where(Negotiation.owner_id == bindparam("owner"), where)
        .order_by(*order)
        .limit(LIST_PAGES[page][1] + 1)  # one more than shown: the page then says there are more
        .subquery()
    )


_SCHEDULED = Negotiation.status == "scheduled"
_LIST = union_all(
    *(
        select(page)
        for page in (
            _list_page(0, and_(_SCHEDULED, Negotiation.starts_at > bindparam("now")), (Negotiation.starts_at,)),
            _list_page(1, and_(_SCHEDULED, Negotiation.starts_at <= bindparam("now")), (Negotiation.starts_at.desc(),)),
            _list_page(2, Negotiation.status == "done", (Negotiation.done_at.desc(), Negotiation.starts_at.desc())),
        )
    )
).subquery()
_LIST_ROWS = select(_LIST).order_by(_LIST.c.page, _LIST.c.place)


async def list_negotiations(turn: Turn, command: c.ListNegotiations) -> Message:
    """``list``: *Upcoming* (still ahead), *Awaiting outcome* (held, no outcome yet) and *Recent* (done)."""
    now, tz = turn.now, turn.tz
    rows = await store.rows(turn.session, _LIST_ROWS, {"owner": turn.user.id, "now": now})
    if not rows:
        return Message(text="No negotiations yet. Log one: `log Acme tomorrow 3pm`.")

    def line(neg: Row[Any]) -> str:
        state = ""
        if neg.status == "scheduled" and neg.starts_at <= now:
            state = f" — how did it go? `done {neg.number}`"
        elif neg.status == "done":
            state = " — " + (neg.outcome or "held") + ("" if neg.followup_sent_at else ", no follow-up yet")
        return (
            f"#{neg.number} {neg.counterpart} — {when_text(neg.starts_at, tz, now)}, "
            f"{neg.duration_minutes} min, {neg.channel}{state}"
        )

    pages: dict[int, list[str]] = {}
    for row in rows:
        shown = pages.setdefault(row.page, [])
        if len(shown) < LIST_PAGES[row.page][1]:
            shown.append(line(row))
        elif len(shown) == LIST_PAGES[row.page][1]:  # a bounded page, whatever the history: say where the rest is
            shown.append(LIST_MORE)
    sections = tuple(Section(heading=LIST_PAGES[page][0], lines=tuple(lines)) for page, lines in pages.items())
    return Message(text=f"Your negotiations ({tz.key} time):", sections=sections)


# -- frame, outcome, follow-up -----------------------------------------------------------------------


async def frame(turn: Turn, command: c.Frame) -> Message:
    negotiation = await turn.negotiation(command.negotiation)
    negotiation.repeat = command.repeat
    if command.repeat:  # the counterpart may be long-term for colleagues already; this rep's list starts now
        await known.start_long_term(turn.session, turn.user, negotiation.counterpart, turn.now)
    advice = book.FRAME_RELATIONSHIP if command.repeat else book.FRAME_ONE_OFF
    what = "a relationship" if command.repeat else "a one-off"
    return Message(
        text=f"Framed #{negotiation.number} with {negotiation.counterpart.name} as {what}.",
        sections=(Section(lines=(advice,)),),
        ref=f"negotiation:{negotiation.number}",
    )


@dataclass(frozen=True)
class Step:
    """One outcome question ``done`` asks: its words, its buttons (label → ``outcome`` words), and how a typed
    answer reads (→ ``outcome`` words, or None when it is no answer to this question)."""

    question: str
    choices: tuple[tuple[str, str], ...]
    read: Callable[[str], str | None]


def _choice(prefix: str, words: dict[str, str]) -> Callable[[str], str | None]:
    return lambda said: f"{prefix} {words[said]}" if said in words else None


def _yes_no(prefix: str) -> Callable[[str], str | None]:
    words = {**dict.fromkeys(questions.YES, "yes"), **dict.fromkeys(questions.NO, "no")}
    return _choice(prefix, words)


def _count(prefix: str, low: int, high: int) -> Callable[[str], str | None]:
    return _choice(prefix, {str(i): str(i) for i in range(low, high + 1)} | {"none": "0", "zero": "0"})


def _noticed(said: str) -> str | None:
    return f"noticed {said}" if said else None


NOTHING = frozenset({"nothing", "none", "-", "nothing to add", "n/a"}) | questions.NO  # to "anything you noticed?"


_RESULTS = {"agreed": "agreed", "agree": "agreed", "deal": "agreed", "partial": "partial", "partly": "partial",
            "no-deal": "no-deal", "no deal": "no-deal", "nodeal": "no-deal", "postponed": "postponed",
            "later": "postponed", "1": "agreed", "2": "partial", "3": "no-deal", "4": "postponed"}  # fmt: skip
STEPS: dict[str, Step] = {
    "outcome": Step(
        "how did it end?",
        (
            ("Agreed", "result agreed"),
            ("Partial", "result partial"),
            ("No deal", "result no-deal"),
            ("Postponed", "result postponed"),
        ),
        _choice("result", _RESULTS),
    ),  # fmt: skip
    "opened_with_connection": Step(
        "did you open with personal connection — the first minutes on them, not the deal?",
        (("Yes", "connection yes"), ("No", "connection no")),
        _yes_no("connection"),
    ),
    "sentiment": Step(
        "how did {counterpart} feel about it, from 1 (upset) to 5 (happy)?",
        tuple((str(i), f"sentiment {i}") for i in range(1, 6)),
        _count("sentiment", 1, 5),
    ),
    "hard_win": Step(
        "was it a hard win — did they give more than they expected to?",
        (("Yes", "hard-win yes"), ("No", "hard-win no")),
        _yes_no("hard-win"),
    ),
    "concessions_given": Step(
        "how many concessions did you give?", tuple((str(i), f"gave {i}") for i in range(4)), _count("gave", 0, 100)
    ),
    "concessions_received": Step(
        "and how many did you get in return?", tuple((str(i), f"got {i}") for i in range(4)), _count("got", 0, 100)
    ),
    "observations": Step(
        "anything personal you noticed about them — a holiday, a new role, what they care about? "
        "I'll bring it up before your next call.",
        (),
        _noticed,
    ),
}
assert tuple(STEPS) == c.OUTCOME_STEPS
OUTCOME = "outcome"  # the question: one of STEPS, about one negotiation
OUTCOME_TTL = timedelta(hours=2)
SKIP = frozenset({"skip", "stop", "enough", "that's all", "thats all", "later", "skip it"})


async def record_outcome(turn: Turn, command: c.RecordOutcome) -> Message:
    """``done <id>`` (then one question at a time), ``outcome <id> …`` and the outcome form: whatever is given is
    stored at once, so ``skip`` keeps it. A hard win (or sentiment ≤ 2) brings the repair plan right away."""
    session, user, now = turn.session, turn.user, turn.now
    negotiation = await turn.negotiation(command.negotiation)
    if negotiation.status == "cancelled":
        raise CommandError(f"#{negotiation.number} was cancelled; log it again if it happened.")
    if command.sentiment is not None and not 1 <= command.sentiment <= 5:
        raise CommandError("Counterpart sentiment is 1 (cold) to 5 (warm).", field="sentiment")
    for field, value in (
        ("concessions_given", command.concessions_given),
        ("concessions_received", command.concessions_received),
    ):
        if value is not None and not 0 <= value <= 100:
            raise CommandError("Concessions are counted 0 to 100.", field=field)
    name, number = negotiation.counterpart.name, negotiation.number
    ahead = negotiation.status == "scheduled" and negotiation.starts_at > now
    if ahead and command.walk and not command.anyway:  # "done" on a call that hasn't started: ask first
        again = f"done {number} anyway" + (f" {command.notes.strip()}" if command.notes else "")
        questions.suggest(user, now=now, yes=again)
        return Message(
            text=f"#{number} with {name} is still ahead: {when_text(negotiation.starts_at, turn.tz, now)}. "
            "Has it happened already?",
            sections=(
                Section(
                    lines=(
                        f"Say yes and I'll record it as held just now; or move it with `reschedule {number} <when>`.",
                    )
                ),
            ),  # fmt: skip
            buttons=(Button("Yes, it's over", "outcome.held", again, "primary"),),
            ref=f"negotiation:{number}",
        )
    noted: list[str] = []
    if ahead:  # it happened earlier than logged: it ended just now
        noted.append(f"Recorded as held just now (it was logged for {when_text(negotiation.starts_at, turn.tz, now)}).")
        negotiation.starts_at = now - timedelta(minutes=negotiation.duration_minutes)
    again = negotiation.status == "done"
    was_hard = _hard(negotiation)
    negotiation.status = "done"
    negotiation.done_at = negotiation.done_at or now
    if command.notes:
        notes = command.notes.strip()[:4000]
        negotiation.notes = f"{negotiation.notes}\n{notes}" if again and negotiation.notes else notes
    answered = []
    for field in c.OUTCOME_STEPS:
        value = getattr(command, field)
        if value is not None:
            setattr(negotiation, field, value)
            answered.append(field)
    if command.settled:
        await known.settle_issues(session, negotiation, command.settled)
    hard = _hard(negotiation)
    if hard:
        await n.plan_repair(session, user, negotiation, now)
    # The call is over: no pre-call reminder, no "how did it go?" — but keep the follow-up reminder.
    await n.drop_pending(session, negotiation_id=negotiation.id, kinds=(n.PRECALL, n.FOLLOWUP))
    if negotiation.followup_sent_at is None:
        followup_at = max(now, negotiation.starts_at + timedelta(minutes=negotiation.duration_minutes))
        reminder = n.Planned(
            n.FOLLOWUP_REMINDER,
            n.negotiation_key(n.FOLLOWUP_REMINDER, negotiation),
            followup_at + turn.timing.followup_reminder_after,
        )
        await n.enqueue(session, user, [reminder], negotiation_id=negotiation.id)
    noted += [f"Noted: {_said(negotiation, field)}." for field in answered]
    sections = [Section(lines=tuple(noted))]
    if hard and not was_hard:
        care = (
            book.HARD_WIN,
            "I'll remind you to send a personal note tomorrow and to check in two weeks from now."
            if user.nudges_enabled
            else book.NUDGES_OFF,
            f"Tell the account owner: `handoff {number} @owner`.",
        )
        sections.append(Section(heading="Relationship care", lines=care))
    stepwise = command.walk or len(answered) == 1
    if "concessions_received" in answered or not stepwise:  # the ledger, once both sides of it are in
        entry = await known.ledger(session, user, negotiation.counterpart_id)
        if entry is not None and entry.one_sided:
            sections.append(Section(heading="Concessions", lines=known.ledger_lines(entry, name)))
    step = next((f for f in c.OUTCOME_STEPS if getattr(negotiation, f) is None), None)
    if step is not None and stepwise:
        return ask_step(turn, negotiation, step, sections)
    return summary(turn, negotiation, sections, verb="Updated" if again and not stepwise else "Recorded")


def _hard(negotiation: Negotiation) -> bool:
    return bool(negotiation.hard_win) or (negotiation.sentiment is not None and negotiation.sentiment <= 2)


def _said(negotiation: Negotiation, field: str) -> str:
    """What one outcome answer reads like: ``sentiment 4/5``."""
    value = getattr(negotiation, field)
    if field == "outcome":
        return value
    if field == "opened_with_connection":
        return "opened with personal connection" if value else "no personal opening"
    if field == "sentiment":
        return f"sentiment {value}/5"
    if field == "hard_win":
        return "a hard win" if value else "not a hard win"
    if field == "concessions_given":
        return f"gave {value}"
    if field == "concessions_received":
        return f"got {value}"
    return f"you noticed “{value}”"


def ask_step(turn: Turn, negotiation: Negotiation, field: str, sections: list[Section]) -> Message:
    """The next outcome question, with its buttons (full ``outcome`` commands, so a click works even after the
    question lapsed) and a Skip."""
    step, number = STEPS[field], negotiation.number
    questions.ask(turn.user, OUTCOME, now=turn.now, ttl=OUTCOME_TTL, negotiation=number, step=field)
    question = step.question.format(counterpart=negotiation.counterpart.name)
    typed = "Type your answer" if not step.choices else "Pick one or type it"
    hint = f"{typed}; `skip` stops the questions (what you answered is kept)."
    first, *rest = sections or [Section()]
    return Message(
        text=f"#{number} with {negotiation.counterpart.name}: {question}",
        sections=(replace(first, lines=(*first.lines, hint)), *rest),
        buttons=(
            *(Button(label, f"outcome.{field}", f"outcome {number} {words}") for label, words in step.choices),
            Button("Skip", "outcome.skip", "skip"),
        ),
        ref=f"negotiation:{number}",
    )


def summary(turn: Turn, negotiation: Negotiation, sections: list[Section], *, verb: str = "Recorded") -> Message:
    """The outcome as recorded, and what to do next: the personal note, the promises made."""
    number, name = negotiation.number, negotiation.counterpart.name
    said = [_said(negotiation, f) for f in c.OUTCOME_STEPS[:-1] if getattr(negotiation, f) is not None]
    lines = []
    if negotiation.followup_sent_at is None:
        lines.append(f"Send {name} a personal note within a day, then `followup {number}`.")
    lines.append(f"Promises made? `commit {number} ours|theirs <what> by <when>`.")
    return Message(
        text=f"{verb} the outcome of #{number} with {name}" + (": " + " · ".join(said) if said else "") + ".",
        sections=(*sections, Section(lines=tuple(lines))),
        buttons=(
            Button("Follow-up sent", "negotiation.followup", f"followup {number}"),
            Button("Add commitment", "form.commitment", f"commit {number} ours "),
        ),
        ref=f"negotiation:{number}",
    )


async def answer_outcome(turn: Turn, question: dict[str, Any], text: str) -> Message | questions.Rerun | None:
    """A typed answer to an outcome question: ``4`` → ``outcome 3 sentiment 4``; ``skip`` ends it (what was
    answered is kept); a command word is read as that command; anything else gets a hint and the question
    stays open."""
    step, number = STEPS.get(question.get("step", "")), question.get("negotiation")
    if step is None or not isinstance(number, int):
        return None
    said = questions.word(text)
    if said in SKIP or (not step.choices and said in NOTHING):
        questions.settle(turn.user)
        negotiation = await turn.negotiation(number)
        return summary(turn, negotiation, [Section(lines=("OK, no more questions.",))])
    first = said.split(" ", 1)[0]
    if first in PARSERS or first in ALIASES:
        return None  # a command: it runs, and ends the questions
    words = step.read(said if step.choices else " ".join(text.split())[:4000])
    if words is not None:
        return questions.Rerun(f"outcome {number} {words}")
    choices = ", ".join(label for label, _ in step.choices)
    return Message(
        text=f"I didn't get that. Answer {choices or 'in a few words'} — or `skip`.",
        ref=f"negotiation:{number}",
    )


async def follow_up_sent(turn: Turn, command: c.FollowUpSent) -> Message:
    negotiation = await turn.negotiation(command.negotiation)
    if negotiation.followup_sent_at is not None:
        return Message(
            text=f"Already noted: you followed up with {negotiation.counterpart.name} on "
            f"{when_text(negotiation.followup_sent_at, turn.tz, turn.now)}.",
            ref=f"negotiation:{negotiation.number}",
        )
    now = turn.now
    negotiation.followup_sent_at = now
    ends = negotiation.starts_at + timedelta(minutes=negotiation.duration_minutes)
    negotiation.followup_on_time = now <= ends + turn.timing.followup_reminder_after
    turn.session.add(
        Touchpoint(
            created_at=now,
            user_id=turn.user.id,
            counterpart_id=negotiation.counterpart_id,
            negotiation_id=negotiation.id,
            kind="note",
            at=now,
            note=(command.note or "").strip()[:4000] or None,
        )
    )
    store.touch(negotiation.counterpart, now)
    await n.drop_pending(turn.session, negotiation_id=negotiation.id, kinds=(n.FOLLOWUP, n.FOLLOWUP_REMINDER))
    return Message(
        text=f"Noted: personal follow-up sent to {negotiation.counterpart.name}. That's how deals last.",
        ref=f"negotiation:{negotiation.number}",
    )


# -- reschedule, cancel, snooze ----------------------------------------------------------------------


async def reschedule(turn: Turn, command: c.Reschedule) -> Message:
    session = turn.session
    negotiation = await turn.negotiation(command.negotiation)
    if negotiation.status != "scheduled":
        raise CommandError(f"#{negotiation.number} is {negotiation.status}; only scheduled ones can move.")
    check_moment(turn, command.when, "when")
    await n.drop_pending(session, negotiation_id=negotiation.id, kinds=n.NEGOTIATION_KINDS)
    negotiation.starts_at = command.when
    await session.flush()
    warnings = await _back_to_back(turn, negotiation)
    await n.schedule_negotiation(session, negotiation, turn.user, now=turn.now, timing=turn.timing)
    sections = (Section(lines=reading_lines(command.notes)),) if command.notes else ()
    if warnings:
        sections += (Section(heading="Heads-up", lines=tuple(warnings)),)
    return Message(
        text=f"Moved #{negotiation.number} with {negotiation.counterpart.name} to "
        f"{when_soon(negotiation.starts_at, turn.tz, turn.now)}; its reminders moved too.",
        sections=sections,
        ref=f"negotiation:{negotiation.number}",
    )


async def cancel(turn: Turn, command: c.CancelNegotiation) -> Message:
    negotiation = await turn.negotiation(command.negotiation)
    if negotiation.status == "cancelled":
        return Message(text=f"#{negotiation.number} was already cancelled.")
    if negotiation.status == "done":
        raise CommandError(f"#{negotiation.number} is done already; there is nothing to cancel.")
    negotiation.status = "cancelled"
    await n.drop_pending(turn.session, negotiation_id=negotiation.id, kinds=n.NEGOTIATION_KINDS)
    return Message(
        text=f"Cancelled #{negotiation.number} with {negotiation.counterpart.name}; no more reminders for it.",
        ref=f"negotiation:{negotiation.number}",
    )


async def snooze(turn: Turn, command: c.RemindLater) -> Message:
    """Snooze a negotiation's nudge: the same nudge again, later (a new outbox row; the sent one stays sent).
    The answer says when it will really come, and warns when that is after the call it is about."""
    session, user, now, tz = turn.session, turn.user, turn.now, turn.tz
    # a moment the person named ("later commitment 2 friday 10am") or a delay
    due = command.at or n.snoozed_until(now, tz, command.minutes, turn.timing)
    check_moment(turn, due, "at")
    negotiation = await turn.negotiation(command.number)
    repair = {"note": n.REPAIR_NOTE, "check-in": n.REPAIR_CHECKIN}.get(command.about)
    if negotiation.status == "scheduled" and repair is None:
        kind = n.PRECALL if negotiation.starts_at > due else n.FOLLOWUP
    elif negotiation.status == "scheduled":
        raise CommandError(f"#{negotiation.number} hasn't happened yet; nothing to repair.")
    else:  # held: the relationship-repair nudge asked for, or the one it last brought
        kind = repair or await session.scalar(
            select(Nudge.kind)
            .where(
                Nudge.negotiation_id == negotiation.id,
                Nudge.user_id == user.id,
                Nudge.kind.in_(n.REPAIR_KINDS),
                Nudge.status == "sent",
            )
            .order_by(Nudge.sent_at.desc())
            .limit(1)
        )
        if kind is None:
            raise CommandError(f"#{negotiation.number} is {negotiation.status}; nothing to remind you of.")
    if repair is None:  # a later snooze of the same negotiation replaces the one before (the button below)
        await session.execute(
            delete(Nudge).where(
                Nudge.negotiation_id == negotiation.id,
                Nudge.kind.in_(n.NEGOTIATION_KINDS),
                Nudge.status == "pending",
                Nudge.claimed_by.is_(None),
                Nudge.key.like(f"%:{negotiation.id}:later:%"),
            )
        )
    planned = n.Planned(
        kind, f"{kind}:{negotiation.id}:later:{int(now.timestamp())}", due, exempt_quiet=kind == n.PRECALL
    )
    await n.enqueue(session, user, [planned], negotiation_id=negotiation.id)
    arrival = await n.arrives(session, user, planned, budget=turn.defaults.daily_nudges)
    what = f"#{negotiation.number} with {negotiation.counterpart.name}"
    lines = list(reading_lines(command.notes))
    buttons: tuple[Button, ...] = ()
    ahead = negotiation.status == "scheduled" and negotiation.starts_at > now
    if ahead and repair is None and arrival.at >= negotiation.starts_at:
        starts = when_text(negotiation.starts_at, tz, now)
        lines.append(
            f"⚠ That is after the call: {what} starts {starts}. You'll get no reminder before it, only the "
            "follow-up prompt after."
        )
        before = _before_the_call(turn, negotiation)
        if before is not None:
            label = f"Before the call, {before.astimezone(tz):%H:%M}"
            words = f"later negotiation {negotiation.number} {moment_words(before, tz)}"
            buttons = (Button(label, "nudge.snooze", words),)
    return Message(
        text=remind_again(what, arrival, tz, now, nudges=user.nudges_enabled),
        sections=(Section(lines=tuple(lines)),) if lines else (),
        buttons=buttons,
        ref=f"negotiation:{negotiation.number}",
    )


def _before_the_call(turn: Turn, negotiation: Negotiation) -> datetime | None:
    """Where a pre-call reminder could still go: the person's lead time before the start, else 5 minutes."""
    for lead in (timedelta(minutes=turn.user.lead_minutes), timedelta(minutes=5)):
        moment = (negotiation.starts_at - lead).replace(second=0, microsecond=0)
        if moment > turn.now:
            return moment
    return None


# -- prep brief --------------------------------------------------------------------------------------


# What a brief reads about the same counterpart, built once: the last five held, the last notes and observations.
_HISTORY = (
    select(
        Negotiation.number,
        Negotiation.starts_at,
        Negotiation.outcome,
        Negotiation.sentiment,
        Negotiation.hard_win,
        Negotiation.notes,
    )
    .where(
        Negotiation.owner_id == bindparam("owner"),
        Negotiation.counterpart_id == bindparam("counterpart"),
        Negotiation.id != bindparam("id"),
        Negotiation.status == "done",
    )
    .order_by(Negotiation.starts_at.desc())
    .limit(5)
)
_NOTES = (
    select(Touchpoint.note)
    .where(
        Touchpoint.user_id == bindparam("owner"),
        Touchpoint.counterpart_id == bindparam("counterpart"),
        Touchpoint.note.is_not(None),
    )
    .order_by(Touchpoint.at.desc())
    .limit(3)
)
_OBSERVATIONS = (
    select(Negotiation.observations)
    .where(
        Negotiation.owner_id == bindparam("owner"),
        Negotiation.counterpart_id == bindparam("counterpart"),
        Negotiation.observations.is_not(None),
    )
    .order_by(Negotiation.starts_at.desc())
    .limit(3)
)


async def prep(turn: Turn, command: c.Prep) -> Message:
    session, user, tz = turn.session, turn.user, turn.tz
    negotiation = await turn.negotiation(command.negotiation)
    counterpart = negotiation.counterpart
    sections = [_frame_section(negotiation)]
    tabled = await known.issue_lines(session, user, negotiation)
    if tabled:  # the rep's own issues; the catalogue was only there to help them name these
        on_table = (*tabled, f"More on the table? `issues {negotiation.number} <issue>, …`")
    else:
        on_table = (
            "Agreement issues: " + "; ".join(book.AGREEMENT_ISSUES) + ".",
            "Relationship issues: " + "; ".join(book.RELATIONSHIP_ISSUES) + ".",
            f"Mark yours: `issues {negotiation.number} price, long-term goals`.",
        )
    sections.append(Section(heading="What's on the table", lines=on_table))
    answers = known.links_for(user, counterpart)
    sections.append(Section(heading=f"Lever of links ({user.role})", lines=known.leverage_lines(user.role, answers)))
    about = {"owner": user.id, "counterpart": counterpart.id}
    history = await store.rows(session, _HISTORY, {**about, "id": negotiation.id})
    if history:
        sections.append(Section(heading="History", lines=tuple(_history_line(h, tz, turn.now) for h in history)))
    sections.extend(await _relationship_sections(turn, negotiation))
    on_call = (
        book.CONNECTION_FIRST,
        book.CHANNEL_TIPS[negotiation.channel],
        book.NOT_TOUGHER,
        book.STRENGTHS_OF_ONLINE,
    )
    sections.append(Section(heading="On the call", lines=on_call))
    return Message(
        text=f"Prep brief #{negotiation.number}: {counterpart.name}, {when_text(negotiation.starts_at, tz, turn.now)} "
        f"({negotiation.duration_minutes} min, {negotiation.channel}).",
        sections=tuple(sections),
        ref=f"negotiation:{negotiation.number}",
    )


def _frame_section(negotiation: Negotiation) -> Section:
    if negotiation.repeat is None:
        return Section(
            heading="Frame",
            lines=(
                book.FRAME_UNKNOWN,
                book.FRAME_QUESTIONS[1].format(number=negotiation.number),
            ),
        )
    advice = book.FRAME_RELATIONSHIP if negotiation.repeat else book.FRAME_ONE_OFF
    lines = [advice]
    if negotiation.long_term_value:
        lines.append(f"What a partnership could bring: {negotiation.long_term_value}")
    return Section(heading="Frame", lines=tuple(lines))


def _history_line(negotiation: Negotiation | Row[Any], tz: ZoneInfo, now: datetime) -> str:
    parts = [f"#{negotiation.number} {when_text(negotiation.starts_at, tz, now)}"]
    if negotiation.outcome:
        parts.append(negotiation.outcome)
    if negotiation.sentiment is not None:
        parts.append(f"sentiment {negotiation.sentiment}/5")
    if negotiation.hard_win:
        parts.append("hard win")
    if negotiation.notes:
        parts.append(negotiation.notes.splitlines()[0][:120])
    return " — ".join(parts)


async def _relationship_sections(turn: Turn, negotiation: Negotiation) -> list[Section]:
    """Open commitments both ways and remembered personal notes about this counterpart."""
    session, user = turn.session, turn.user
    open_commitments = await store.open_commitments(
        session, owner_id=user.id, counterpart_id=negotiation.counterpart_id
    )
    sections = []
    if open_commitments:
        lines = commitment_lines(open_commitments, turn.tz, turn.now)
        sections.append(Section(heading="Open commitments", lines=lines))
    about = {"owner": user.id, "counterpart": negotiation.counterpart_id}
    notes = await store.scalars(session, _NOTES, about)
    observations = await store.scalars(session, _OBSERVATIONS, about)
    remembered = [x for x in (*observations, *notes) if x]
    if remembered:
        sections.append(Section(heading="What you know about them", lines=tuple(remembered[:5])))
    entry = await known.ledger(session, user, negotiation.counterpart_id)
    if entry is not None:
        lines = known.ledger_lines(entry, negotiation.counterpart.name)
        sections.append(Section(heading="Concession ledger", lines=lines))
    return sections


# -- nudges ------------------------------------------------------------------------------------------


async def compose_nudge(turn: Turn, nudge: Nudge) -> Composed:
    """A pre-call reminder, a follow-up prompt or its reminder, from the negotiation as it is now."""
    negotiation = await turn.session.get(Negotiation, nudge.negotiation_id) if nudge.negotiation_id else None
    if negotiation is None:
        return Skip("negotiation gone")
    if nudge.kind == n.PRECALL:
        return await _precall(turn, nudge, negotiation)
    if negotiation.status == "cancelled":
        return Skip("cancelled")
    name, number = negotiation.counterpart.name, negotiation.number
    if nudge.kind == n.FOLLOWUP:
        if negotiation.status == "done":
            return Skip("outcome already recorded")
        return Message(
            text=f"How did #{number} with {name} go?",
            sections=(Section(lines=(book.FOLLOWUP_PROMPT.format(counterpart=name),)),),
            buttons=(
                Button("Log outcome", "outcome.start", f"done {number}", "primary"),
                Button("Outcome form", "form.outcome", f"outcome {number} "),
                Button("Add commitment", "form.commitment", f"commit {number} ours "),
                Button("Follow-up sent", "negotiation.followup", f"followup {number}"),
                Button("Remind me in 1 h", "nudge.snooze", f"later negotiation {number} 60"),
            ),
            kind=nudge.kind,
            ref=f"negotiation:{number}",
        )
    # FOLLOWUP_REMINDER
    if negotiation.followup_sent_at is not None:
        return Skip("follow-up sent")
    return Message(
        text=f"A personal note to {name}?",
        sections=(Section(lines=(book.FOLLOWUP_REMINDER.format(counterpart=name), book.ENGAGE)),),
        buttons=(
            Button("Follow-up sent", "negotiation.followup", f"followup {number}", "primary"),
            Button("Remind me tomorrow", "nudge.snooze", f"later negotiation {number} tomorrow"),
        ),
        kind=nudge.kind,
        ref=f"negotiation:{number}",
    )


async def _precall(turn: Turn, nudge: Nudge, negotiation: Negotiation) -> Composed:
    now = turn.now
    if negotiation.status != "scheduled" or negotiation.starts_at <= now - timedelta(minutes=5):
        return Skip("no longer ahead")
    name, number = negotiation.counterpart.name, negotiation.number
    sections = [
        Section(heading="Personal connection first", lines=(book.CONNECTION_FIRST, book.NO_RUSHING)),
        _frame_section(negotiation),
    ]
    sections.extend(await _relationship_sections(turn, negotiation))
    tips = (book.CHANNEL_TIPS[negotiation.channel],)
    if negotiation.channel in ("video", "phone"):
        tips += (book.VIRTUAL_TRUST,)
    sections.append(Section(heading=f"On {negotiation.channel}", lines=tips))
    when = span_text(negotiation.starts_at - now)
    starts = when_text(negotiation.starts_at, turn.tz, now)
    return Message(
        text=f"In {when}: #{number} with {name} ({starts}, {negotiation.channel}).",
        sections=tuple(sections),
        buttons=(
            Button("Got it", "nudge.ok", "ok", "primary"),
            Button("Snooze 10 min", "nudge.snooze", f"later negotiation {number} 10"),
            Button("Prep brief", "negotiation.prep", f"prep {number}"),
        ),
        kind=nudge.kind,
        ref=f"negotiation:{number}",
    )


HANDLERS: dict[type[c.Command], Handler] = {
    c.LogNegotiation: log_negotiation,
    c.ListNegotiations: list_negotiations,
    c.Prep: prep,
    c.Frame: frame,
    c.RecordOutcome: record_outcome,
    c.FollowUpSent: follow_up_sent,
    c.Reschedule: reschedule,
    c.CancelNegotiation: cancel,
}
SNOOZES: dict[str, Handler] = {"negotiation": snooze, "note": snooze, "check-in": snooze}
ANSWERS: dict[str, Answer] = {OUTCOME: answer_outcome}
COMPOSERS: dict[str, Composer] = {kind: Composer(compose_nudge) for kind in n.NEGOTIATION_KINDS}
