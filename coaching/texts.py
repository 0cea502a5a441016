"""How moments and things read to a person, in the words every room uses."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from coaching.models import Commitment


def when_text(moment: datetime, tz: ZoneInfo) -> str:
    """``Thu 26 Nov 15:00`` in the reader's zone."""
    return moment.astimezone(tz).strftime("%a %d %b %H:%M")


def day_text(day: date) -> str:
    return day.strftime("%a %d %b")


def span_text(delta: timedelta) -> str:
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    return f"{round(minutes / 1440)} days"


def commitment_line(commitment: Commitment, today: date) -> str:
    """``#3 we: send the draft — due Fri 27 Nov (today)``, as lists and briefs show an open commitment."""
    who = "we" if commitment.side == "ours" else commitment.negotiation.counterpart.name
    due = ""
    if commitment.due_on:
        due = f" — due {day_text(commitment.due_on)}"
        if commitment.due_on < today:
            due += " ⚠ OVERDUE"
        elif commitment.due_on == today:
            due += " (today)"
    return f"#{commitment.number} {who}: {commitment.text}{due}"


def remind_again(what: str, due: datetime, tz: ZoneInfo, *, nudges: bool = True) -> str:
    """The answer to a snooze (with nudges off, the reminder would not come: it says so)."""
    if not nudges:
        when = when_text(due, tz)
        return f"⏰ Snoozed {what} to {when} — but your nudges are off, so it won't come: `settings nudges on`."
    return f"⏰ I'll remind you about {what} again {when_text(due, tz)}."
