"""Reading times people type (``tomorrow 3pm``, ``in 20 minutes``, ``2026-12-01 14:00``) in their own
time zone, and splitting ``<counterpart> <when>`` apart."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser


class WhenError(ValueError):
    """The text is not a time we can read; the message quotes it."""


@dataclass(frozen=True)
class When:
    at: datetime  # aware, UTC
    has_time: bool  # False for a bare day ("friday"), which callers complete with a default hour


_UNIT_MINUTES = {"m": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1, "h": 60, "hr": 60, "hrs": 60}
_UNIT_MINUTES |= {"hour": 60, "hours": 60, "d": 1440, "day": 1440, "days": 1440, "week": 10080, "weeks": 10080}
_RELATIVE = re.compile(r"^in\s+(\d+(?:\.\d+)?)\s*([a-z]+)$")
_WORDS = (
    "today tomorrow tonight yesterday now next this last coming on at in the of and a an noon midnight "
    "morning afternoon evening am pm a.m. p.m. week weeks day days hour hours hr hrs h minute minutes min "
    "mins month months monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur "
    "thurs fri sat sun january february march april may june july august september october november "
    "december jan feb mar apr jun jul aug sep sept oct nov dec"
)
_DATEISH = frozenset(_WORDS.split())
_LEADING_PREPOSITIONS = ("on", "at", "by")


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach ``tz`` to a wall-clock time. PEP 495's fold=0 reads a time repeated by a DST change as
    its first occurrence and one skipped by a DST jump with the old offset, i.e. past the gap
    (02:30 on a spring-forward night becomes 03:30)."""
    return naive.replace(tzinfo=tz, fold=0)


def _dateparser(text: str, base_local: datetime, prefer_future: bool) -> datetime | None:
    return dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": base_local,
            "PREFER_DATES_FROM": "future" if prefer_future else "current_period",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "STRICT_PARSING": False,
        },
    )


def parse_when(text: str, *, now: datetime, tz: ZoneInfo, prefer_future: bool = True) -> When:
    """Read ``text`` as a moment in ``tz`` relative to ``now``; return it in UTC."""
    cleaned = " ".join(text.strip().lower().split())
    words = cleaned.split(" ")
    while len(words) > 1 and words[0] in _LEADING_PREPOSITIONS:
        words = words[1:]
    cleaned = " ".join(words)
    if not cleaned:
        raise WhenError("no date or time given")
    if cleaned == "now":
        return When(now, True)
    relative = _RELATIVE.match(cleaned)
    if relative:  # exact durations are counted in real time, across DST changes
        amount, unit = float(relative.group(1)), relative.group(2)
        if unit not in _UNIT_MINUTES:
            raise WhenError(f"I don't know the unit “{unit}” in “{text.strip()}”")
        return When(now + timedelta(minutes=amount * _UNIT_MINUTES[unit]), True)
    local_now = now.astimezone(tz).replace(tzinfo=None)
    try:
        parsed = _dateparser(cleaned, local_now, prefer_future)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise WhenError(f"I couldn't read “{text.strip()}” as a date and time")
    # A bare day ("friday") comes back at midnight whatever the base's time of day was.
    other_base = local_now.replace(hour=13, minute=37) if local_now.hour != 13 else local_now.replace(hour=7)
    has_time = True
    if parsed.time() == time(0, 0) and not re.search(r"\d|midnight", cleaned):
        again = _dateparser(cleaned, other_base, prefer_future)
        has_time = again is not None and again.time() != time(0, 0)
    return When(localize(parsed, tz).astimezone(UTC), has_time)


def parse_day(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    """A calendar day in ``tz`` (for due dates): ``friday``, ``2026-12-04``, ``in 3 days``."""
    return parse_when(text, now=now, tz=tz).at.astimezone(tz).date()


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_duration(text: str) -> int:
    """``90 minutes``, ``1h``, ``1.5 hours``, ``1h30``, ``1 hour 30 minutes`` → minutes (1..1440)."""
    cleaned = text.strip().lower().replace(" and ", " ")
    if re.fullmatch(r"\d+", cleaned):
        minutes = float(cleaned)
    else:
        hm = re.fullmatch(r"(\d+)\s*h\s*(\d+)", cleaned)
        if hm:
            minutes = int(hm.group(1)) * 60 + int(hm.group(2))
        else:
            parts = _DURATION.findall(cleaned)
            rebuilt = " ".join(f"{n} {u}" for n, u in parts)
            if not parts or rebuilt.replace(" ", "") != cleaned.replace(" ", ""):
                raise WhenError(f"I couldn't read “{text.strip()}” as a duration (try “for 90 minutes”)")
            minutes = 0.0
            for amount, unit in parts:
                if unit not in _UNIT_MINUTES or _UNIT_MINUTES[unit] > 60:
                    raise WhenError(f"I don't know the unit “{unit}” (use minutes or hours)")
                minutes += float(amount) * _UNIT_MINUTES[unit]
    if not 1 <= minutes <= 24 * 60:
        raise WhenError("a negotiation lasts between 1 minute and 24 hours")
    return round(minutes)


def is_dateish(word: str) -> bool:
    word = word.lower().strip(",.")
    return bool(re.search(r"\d", word)) or word in _DATEISH


def _readable(text: str, *, now: datetime, tz: ZoneInfo) -> bool:
    try:
        parse_when(text, now=now, tz=tz)
    except WhenError:
        return False
    return True


def split_subject_when(
    words: list[str], *, now: datetime, tz: ZoneInfo, quoted_subject: bool = False
) -> tuple[str, When]:
    """Split ``Acme Corp tomorrow 3pm`` into ("Acme Corp", <tomorrow 15:00>).

    The subject is the text before the time: the time is the longest readable run of date-like
    words at the end, and at least one word stays with the subject. A quoted subject is taken as is.
    """
    if quoted_subject:
        subject, rest = words[0], words[1:]
        if not rest:
            raise WhenError(f"when is the negotiation with {subject}? (e.g. “tomorrow 3pm”)")
        return subject, parse_when(" ".join(rest), now=now, tz=tz)
    start = len(words)
    while start > 1 and is_dateish(words[start - 1]):
        start -= 1
    for i in range(start, len(words)):
        if any(re.search(r"\d", w) for w in words[start:i]):
            break  # "2026-02-30 10:00" must not become "10:00" with "2026-02-30" in the name
        try:
            when = parse_when(" ".join(words[i:]), now=now, tz=tz)
        except WhenError:
            continue
        named = words[:i]
        if all(is_dateish(w) and not re.search(r"\d", w) for w in named) and _readable(" ".join(words), now=now, tz=tz):
            # "tomorrow 3pm", "next tuesday 10am": all of it is the time and nobody is named ("3M" is a name)
            raise WhenError("who is it with? e.g. “Acme tomorrow 3pm” (quote a name that looks like a date)")
        return " ".join(words[:i]), when
    if start < len(words):
        raise WhenError(f"I couldn't read “{' '.join(words[start:])}” as a date and time")
    if len(words) < 2:
        raise WhenError("say who and when, e.g. “Acme tomorrow 3pm”")
    # Nothing readable: quote what looks like the intended time in the error.
    cut = next((i for i, w in enumerate(words[1:], 1) if w.lower() in ("on", "at", "in", "by", "next")), 1)
    raise WhenError(f"I couldn't read “{' '.join(words[cut:])}” as a date and time")
