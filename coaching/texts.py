"""How moments and things read to a person, in the words every room uses.

Moments and days are said by the time language (``timelang.say_moment`` / ``say_day``): weekday, day, month
name and time in the reader's zone, with the year when it is not this year — the same words it reads back.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from coaching.models import Commitment
from coaching.nudges import Arrival
from coaching.timelang import say_day, say_moment

# PostgreSQL refuses NUL in text and no database driver encodes a lone surrogate: such words are refused
# before anything is stored, with the same answer on every database.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE = "That message holds a character I can't keep (a NUL or a broken character). Please type it again."


def unstorable(value: object) -> bool:
    """Whether a typed text, or any text in a command's fields, holds a character no database keeps."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, (tuple, list)):
        return any(unstorable(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(unstorable(getattr(value, field.name)) for field in dataclasses.fields(value))
    return False


SOON = timedelta(hours=3)  # a moment this close also says how far off it is ("in 20 min")


def when_text(moment: datetime, tz: ZoneInfo, now: datetime) -> str:
    """``Thu 26 Nov 15:00`` in the reader's zone (``Sat 15 Jan 2028 10:00`` in another year)."""
    return say_moment(moment, tz, now)


def day_text(day: date, tz: ZoneInfo, now: datetime) -> str:
    """``Fri 04 Dec`` (``Sat 15 Jan 2028`` in another year)."""
    return say_day(day, tz, now)


def when_soon(moment: datetime, tz: ZoneInfo, now: datetime) -> str:
    """A moment with how far off it is when that is soon: ``Tue 01 Dec 21:01, in 20 min``."""
    text = when_text(moment, tz, now)
    if now < moment <= now + SOON:
        text += f", in {span_text(moment - now)}"
    return text


def span_text(delta: timedelta) -> str:
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    return f"{round(minutes / 1440)} days"


def reading_lines(notes: Iterable[str]) -> tuple[str, ...]:
    """How a typed moment was read (a corrected typo, a bare hour, a weekday moved on), for a confirmation."""
    said = [note for note in notes if note]
    return (f"How I read it: {'; '.join(said)}.",) if said else ()


def due_text(commitment: Commitment | Owed, tz: ZoneInfo, now: datetime) -> str:
    """When a commitment is due: its moment when a time was given, else its day; "" with no due date."""
    if commitment.due_at is not None:
        return when_text(commitment.due_at, tz, now)
    return day_text(commitment.due_on, tz, now) if commitment.due_on else ""


def overdue(commitment: Commitment | Owed, tz: ZoneInfo, now: datetime) -> bool:
    return late(commitment, now, now.astimezone(tz).date())


def late(commitment: Commitment | Owed, now: datetime, today: date) -> bool:
    """Overdue, with the reader's ``today`` worked out once for a whole list."""
    if commitment.due_at is not None:
        return commitment.due_at < now
    return commitment.due_on is not None and commitment.due_on < today


class Owed(Protocol):
    """An open commitment as lists show it (``store.open_commitments``' rows)."""

    number: int
    side: str
    text: str
    due_on: date | None
    due_at: datetime | None
    counterpart: str  # the name of its negotiation's counterpart


def commitment_lines(commitments: Iterable[Owed], tz: ZoneInfo, now: datetime) -> tuple[str, ...]:
    """``#3 we: send the draft — due Fri 27 Nov (today)``, as lists and briefs show open commitments."""
    today = now.astimezone(tz).date()
    lines = []
    for commitment in commitments:
        who = "we" if commitment.side == "ours" else commitment.counterpart
        due = ""
        if commitment.due_on:
            if commitment.due_at is not None:
                due = f" — due {when_text(commitment.due_at, tz, now)}"
            else:
                due = f" — due {say_day(commitment.due_on, tz, now, this_year=today.year)}"
            if late(commitment, now, today):
                due += " ⚠ OVERDUE"
            elif commitment.due_on == today:
                due += " (today)"
        lines.append(f"#{commitment.number} {who}: {commitment.text}{due}")
    return tuple(lines)


def arrival_note(arrival: Arrival) -> str:
    """Why a nudge comes later than planned, if it does: `` (after your quiet hours)``."""
    if arrival.budget:
        return " (that day's nudges are used up by then)"
    return " (after your quiet hours)" if arrival.quiet else ""


def remind_again(what: str, arrival: Arrival, tz: ZoneInfo, now: datetime, *, nudges: bool = True) -> str:
    """The answer to a snooze: when the nudge will really come, and why that is not when it was asked for
    (with nudges off, the reminder would not come: it says so)."""
    if not nudges:
        when = when_text(arrival.asked, tz, now)
        return f"⏰ Snoozed {what} to {when} — but your nudges are off, so it won't come: `settings nudges on`."
    text = f"⏰ I'll remind you about {what} again {when_soon(arrival.at, tz, now)}"
    if arrival.budget:
        text += f": you asked for {when_text(arrival.asked, tz, now)}, but that day's nudges are used up"
    elif arrival.quiet:
        text += f": you asked for {when_text(arrival.asked, tz, now)}, in your quiet hours"
    return text + "."
