"""The time language: the phrases people type for meetings, read in their own time zone.

A phrase is read by the named rules below and by nothing else. Each rule matches whole words; a phrase is
read when every one of its words belongs to a rule, and the composition rules then settle what it means.
Nothing outside the table is guessed. A moment that is read but not sure is not returned as a moment: the
reader returns an :class:`Ask` with the moment it would take and why it asks, and the coach asks the person.

Rules (``RULES`` in the code; the tests check that this table and ``RULES`` name the same rules):

| rule | examples | meaning |
|---|---|---|
| iso_datetime | 2026-12-11T14:00, 2026-12-11T14:00:00+01:00 | that day and time (seconds ignored); Z/offset: exact |
| iso_date | 2026-12-11, 2026/12/11 | that day, year first |
| dotted_date | 11.12., 11.12.2026, 6.12.26 | day first, always (German, Swiss, Scandinavian …) |
| slash_date | 12/11, 12/11/2026 | in the person's day/month order (`settings dates dmy\\|mdy\\|ymd`) |
| month_day | Dec 11, December 11th, dec the 11th, Dec 11 2026 | that day of that month |
| day_month | 11 Dec, 11th of December, 11 December 2026, 04 Dec 2026 | that day of that month |
| day_of_month | the 11th, 11th | the next 11th, this month or the next |
| today | today | today |
| tonight | tonight, tonite | today, at night (20:00) |
| this_part | this morning, this afternoon, this evening | today, in that part of the day |
| tomorrow | tomorrow, tmrw, tmw, tmr, 2moro, tommorow | tomorrow |
| yesterday | yesterday, yday | yesterday |
| day_after_tomorrow | the day after tomorrow | in two days |
| day_before_yesterday | the day before yesterday | two days ago |
| weekday | friday, fri, this friday, coming friday | the next Friday from today on (today while still ahead) |
| next_weekday | next friday | the first Friday after today, never today (the coming one, not the one after) |
| last_weekday | last friday | the latest Friday before today |
| weekday_next_week | friday next week, next week friday | Friday of next calendar week (weeks start on Monday) |
| weekday_this_week | friday this week | Friday of this calendar week, even if it has passed |
| next_week | next week | Monday of next week, asked about (it is vague) |
| in_days | in 3 days, in a week, in 2 months | that many calendar days, weeks, months or years from today |
| days_from_now | 3 days from now, a week from today | the same |
| days_ago | 3 days ago, a week ago | that many calendar days or weeks before today |
| in_span | in 20 minutes, in an hour, in 1.5 hours, in 1 hour 30 minutes | that long from now, in real time |
| span_from_now | 20 minutes from now, 2 hours from now | the same |
| in_span_compact | in 20m, in 20min, in 2h, in 1h30 | the same, written short |
| in_half_hour | in half an hour | 30 minutes from now |
| span_ago | 20 minutes ago, 2 hours ago | exactly that long before now |
| now | now, right now | this minute |
| clock_ampm | 3pm, 3:30pm, 3 pm, 11.15am, 3p | a 12-hour clock time; 12am is midnight, 12pm noon |
| clock_24 | 15:30, 15.30, 15h30, 15:30:00, 09:00 | a 24-hour clock time; a one-digit hour (3:30) as business hours |
| clock_h | 15h, 9h | that hour on a 24-hour clock |
| oclock | 3 o'clock, 3 oclock | that hour, read as business hours |
| at_hour | at 9, at 14 | that hour: 13–23 and 0 as on a 24-hour clock, 1–12 as business hours |
| bare_hour | (friday) 9, (tomorrow) 3, (morning) 8 | an hour, only after a day or by a part of the day; as at_hour |
| noon | noon, midday, 12 noon | 12:00 |
| midnight | midnight | 00:00; with a day, the midnight that ends it, asked about (12am with a day: asked too) |
| end_of_day | eod, end of day, close of business | 17:00 |
| part_of_day | morning, in the afternoon, evening, night | 09:00 (5–11), 14:00 (12–18), 18:00 (17–23), 20:00 (18–23) |
| utc_offset | utc, gmt, utc+1, (UTC+01:00) | the time is on that UTC offset, not the person's zone |
| filler | on, at, by, the, @ | nothing (`on friday at 3pm`) |

Composition:

- A phrase has at most one day, one time of day and one part of the day (plus an optional UTC offset), in any
  order (`at 3pm tomorrow`); or it is a span (`in 20 minutes`) or `now` alone.
- A day with no time is 09:00 local; a part of the day alone is its hour. The current time of day is never
  taken, and a phrase that names an hour never becomes midnight.
- Bare hours are business hours: 7–11 morning, 12 noon, 1–6 afternoon (`friday 3` is 15:00); 0 and 13–23
  are read as on a 24-hour clock (`at 14` is 14:00); next to a part of the day they are its hours
  (`evening 7` is 19:00). The result notes the hour it read.
- A time with no day is the next one (today, or tomorrow once it has passed). A weekday, a day of the month
  and, for a future-only reading (snoozes), a date without a year mean the next one: when the moment has
  passed it moves on, and the result notes it. Otherwise a date without a year is the nearest one (so
  `log Acme nov 30` on 1 December is yesterday). With a weekday (`Fri 04 Dec`) it is the year in which that
  date falls on that weekday, this year first (how every confirmation says a moment).
- Numeric dates: dotted ones are day first; slashed ones follow the person's order. A date impossible in that
  order but possible in the other is asked about; one possible both ways is noted (the confirmation spells
  the month out).
- Range: more than 10 years away is an error. More than 2 years ahead or 1 year back is asked about ("that
  is a long way off — did you mean …?"), except for ISO dates and dates with their weekday and year
  (`Thu 01 Jun 2028`), the forms to confirm a far date with.
- DST: times are wall-clock times in the person's zone. A time skipped when the clocks go forward moves past
  the gap (02:30 → 03:30); a time that happens twice is the first one. Both are noted.
- Typos of time words: one edit (`tomorow`, `firday`, `tuesdy`) is read and noted; two edits are asked about.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from rapidfuzz import process
from rapidfuzz.distance import OSA

DateOrder = Literal["dmy", "mdy", "ymd"]
DATE_ORDERS: tuple[DateOrder, ...] = ("dmy", "mdy", "ymd")
DEFAULT_TIME = time(9, 0)  # a day with no time of day
HARD_LIMIT_DAYS = 3653  # ten years: further is an error, and never reaches the scheduler
FAR_AHEAD_DAYS = 731  # two years ahead ...
FAR_BACK_DAYS = 366  # ... or one year back: asked about

# -- results ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """How a phrase was read, for the confirmation: ``kind`` is one of typo, hour, rolled, order, next, dst."""

    kind: str
    text: str


@dataclass(frozen=True)
class Moment:
    """A sure moment."""

    at: datetime  # aware, UTC, whole minutes
    timed: bool  # the phrase named a time of day (False: a day alone, read as 09:00 local)
    echo: str  # how the confirmation says it: weekday, day, month, [year,] time in the person's zone
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Ask:
    """A moment that is read but not sure: ask the person before storing anything."""

    proposed: Moment
    reason: str  # one sentence: why ask
    kind: str  # far | typo | order | midnight | vague | split
    read_as: datetime | None = None  # the moment as typed, when the proposal differs (a far year corrected)

    def question(self, subject: str | None = None) -> str:
        what = f"*{subject}* on *{self.proposed.echo}*" if subject else f"*{self.proposed.echo}*"
        if self.kind == "far":
            return f"That is a long way off — did you mean {what}? {self.reason}"
        return f"I read {what} — is that right? {self.reason}"


@dataclass(frozen=True)
class Problem:
    """Not a moment. ``kind``: none (no time words at all), unreadable (words the grammar doesn't read),
    invalid (read, but impossible or out of range: ``feb 30``, ``25:00``, ``in 99999999 days``)."""

    message: str
    kind: str


Reading = Moment | Ask | Problem


@dataclass(frozen=True)
class Split:
    """``<counterpart> <when>`` taken apart."""

    subject: str
    reading: Reading


# -- vocabulary --------------------------------------------------------------------------------------------

_WEEKDAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "weds": 2}
_WEEKDAYS |= {"thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5}
_WEEKDAYS |= {"sunday": 6, "sun": 6}
_MONTHS = {"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5}
_MONTHS |= {"june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9}
_MONTHS |= {"sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12}
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_WORD_NUMBERS |= {"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_TOMORROW = ("tomorrow", "tmrw", "tmw", "tmr", "tmrow", "2moro", "2morrow", "2mrw", "tommorow", "tommorrow")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September")
MONTH_NAMES += ("October", "November", "December")


@dataclass(frozen=True)
class _PartOfDay:
    default: time
    window: tuple[int, int]  # minutes of the day it covers, [start, end)
    bare: Callable[[int], int | None]  # a bare hour said with it ("evening 7") → the 24-hour hour


_PARTS = {
    "morning": _PartOfDay(time(9), (5 * 60, 12 * 60), lambda h: h if 5 <= h <= 11 else None),
    "afternoon": _PartOfDay(
        time(14), (12 * 60, 19 * 60), lambda h: h + 12 if 1 <= h <= 6 else (h if 12 <= h <= 18 else None)
    ),
    "evening": _PartOfDay(
        time(18), (17 * 60, 24 * 60), lambda h: h + 12 if 5 <= h <= 11 else (h if 17 <= h <= 23 else None)
    ),
    "night": _PartOfDay(
        time(20), (18 * 60, 24 * 60), lambda h: h + 12 if 6 <= h <= 11 else (h if 18 <= h <= 23 else None)
    ),
}

# -- pieces: what rules produce ----------------------------------------------------------------------------


class _Invalid(Exception):
    """Read, but impossible or out of range; the message says why (it ends up in front of the person)."""


@dataclass(frozen=True)
class _Day:
    kind: str  # date | yearless | monthday | offset | weekday
    text: str
    year: int = 0
    month: int = 0
    day: int = 0
    days: int = 0  # offset: calendar days from today
    months: int = 0  # offset: calendar months from today
    weekday: int = -1  # weekday: which one; date, yearless, monthday: the weekday it must fall on (-1: any)
    mode: str = "coming"  # weekday: coming | next | last | next_week | this_week
    exact: bool = False  # an ISO date: taken as typed, however far
    ask: str = ""  # why to ask about it anyway (a vague "next week", a date read against the order)
    ask_kind: str = ""
    note: str = ""  # how a numeric date was read


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    text: str
    business: bool = False  # a one-digit hour, no am/pm ("3:30"): business hours
    bare: bool = False  # a number alone: an hour only after "at", after a day, or next to a part of the day
    after_at: bool = False
    midnight: bool = False  # "midnight" / "12am"
    offset: int | None = None  # minutes east of UTC, from an ISO timestamp
    day_month: tuple[int, int] | None = None  # "6.12" is also the 6th of December


@dataclass(frozen=True)
class _Part:
    name: str
    text: str


@dataclass(frozen=True)
class _Span:
    minutes: int
    text: str


@dataclass(frozen=True)
class _Now:
    text: str


@dataclass(frozen=True)
class _Offset:
    minutes: int
    text: str


@dataclass(frozen=True)
class _Filler:
    text: str


_Piece = _Day | _Clock | _Part | _Span | _Now | _Offset | _Filler


@dataclass(frozen=True)
class _Build:
    order: DateOrder


# -- rule builders -----------------------------------------------------------------------------------------


def _alternatives(words: Sequence[str]) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_WD = f"(?P<wd>{_alternatives(list(_WEEKDAYS))})"
_MON = f"(?P<mon>{_alternatives(list(_MONTHS))})"
_NUM = f"(?P<n>\\d{{1,12}}(?:\\.\\d+)?|{_alternatives(list(_WORD_NUMBERS))})"
_DAY_UNITS = "(?P<u>days?|d|weeks?|wks?|w|months?|years?|yrs?)"
_SPAN_UNITS = "(?P<u>minutes?|mins?|m|hours?|hrs?|h)"


def _number(text: str) -> float:
    return float(_WORD_NUMBERS.get(text, 0) or text)


def _check_date(year: int, month: int, day: int, text: str) -> date:
    if not 1 <= month <= 12:
        raise _Invalid(f"there is no month {month}")
    try:
        return date(year, month, day)
    except ValueError:
        raise _Invalid(f"there is no {day} {MONTH_NAMES[month - 1]} {year}") from None


def _check_day_of_month(month: int, day: int) -> None:
    """A day and month without a year: possible in some year (29 February in a leap year)."""
    if not 1 <= month <= 12:
        raise _Invalid(f"there is no month {month}")
    try:
        date(2000, month, day)
    except ValueError:
        raise _Invalid(f"there is no {day} {MONTH_NAMES[month - 1]}") from None


def _year(text: str | None) -> int:
    if not text:
        return 0
    return 2000 + int(text) if len(text) == 2 else int(text)


def _dated(month: int, day: int, year: int, text: str, *, exact: bool = False, note: str = "") -> _Day:
    if year:
        _check_date(year, month, day, text)
        return _Day("date", text, year=year, month=month, day=day, exact=exact, note=note)
    _check_day_of_month(month, day)
    return _Day("yearless", text, month=month, day=day, note=note)


def _clock(hour: int, minute: int, text: str, seconds: str | None = None, **extra: object) -> _Clock:
    if hour > 23:
        raise _Invalid(f"{text} is not a time of day (hours go from 00 to 23)")
    if minute > 59:
        raise _Invalid(f"{text} is not a time of day (minutes go from 00 to 59)")
    if seconds is not None and int(seconds) > 59:
        raise _Invalid(f"{text} is not a time of day (seconds go from 00 to 59)")
    return _Clock(hour, minute, text, **extra)  # type: ignore[arg-type]


def _offset_minutes(text: str) -> int:
    if text == "z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 14 or minutes > 59:
        raise _Invalid(f"{text} is not a UTC offset")
    return sign * (hours * 60 + minutes)


def _iso_datetime(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    text = m.group(0)
    day = _dated(int(m["mo"]), int(m["d"]), int(m["y"]), text, exact=True)
    offset = _offset_minutes(m["z"]) if m["z"] else None
    return day, _clock(int(m["h"]), int(m["mi"]), text, m["s"], offset=offset)


def _iso_date(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return (_dated(int(m["mo"]), int(m["d"]), int(m["y"]), m.group(0), exact=True),)


def _dotted_date(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return (_dated(int(m["mo"]), int(m["d"]), _year(m["y"]), m.group(0)),)


_ORDER_NAMES = {"dmy": "day first", "mdy": "month first", "ymd": "month first"}


def _slash_date(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    """``12/11``: the person's order decides; the other order only when theirs is impossible (and then it asks)."""
    text, first, second, year = m.group(0), int(m["a"]), int(m["b"]), _year(m["y"])
    day, month = (first, second) if b.order == "dmy" else (second, first)
    other = "mdy" if b.order == "dmy" else "dmy"

    def possible(d: int, mo: int) -> bool:
        try:
            _dated(mo, d, year, text)
        except _Invalid:
            return False
        return True

    if possible(day, month):
        note = ""
        if first != second and possible(month, day):
            note = (
                f"“{text}” read as {day} {MONTH_NAMES[month - 1]} ({_ORDER_NAMES[b.order]}; "
                f"`settings dates {other}` to change)"
            )
        return (_dated(month, day, year, text, note=note),)
    if not possible(month, day):
        return (_dated(month, day, year, text),)  # raises, with the reason in the person's own order
    reason = f"“{text}” read {_ORDER_NAMES[b.order]} is not a date, so I read it the other way round."
    return (replace(_dated(day, month, year, text), ask=reason, ask_kind="order"),)


def _month_day(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return (_dated(_MONTHS[m["mon"]], int(m["d"]), _year(m["y"]), m.group(0)),)


def _day_of_month(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    day = int(m["d"])
    if not 1 <= day <= 31:
        raise _Invalid(f"no month has a {m['d']}{m['sfx']} day")
    return (_Day("monthday", m.group(0), day=day),)


def _days_from_today(days: int) -> Callable[[re.Match[str], _Build], tuple[_Piece, ...]]:
    return lambda m, b: (_Day("offset", m.group(0), days=days),)


def _tonight(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return _Day("offset", m.group(0)), _Part("night", m.group(0))


def _this_part(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return _Day("offset", m.group(0)), _Part(m["p"], m.group(0))


def _weekday(mode: str) -> Callable[[re.Match[str], _Build], tuple[_Piece, ...]]:
    def build(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
        return (_Day("weekday", m.group(0), weekday=_WEEKDAYS[m["wd"] or m["wd2"]], mode=mode),)

    return build


def _next_week(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    reason = "“next week” could be any day of it, so I took the Monday."
    return (_Day("weekday", m.group(0), weekday=0, mode="next_week", ask=reason, ask_kind="vague"),)


def _calendar_offset(amount: float, unit: str, text: str, sign: int) -> _Day:
    if amount != int(amount):
        raise _Invalid("say hours for part of a day (“in 36 hours”)")
    n = int(amount)
    if unit.startswith(("m", "y")):
        months = n * (12 if unit.startswith("y") else 1)
        if months > 120:
            raise _Invalid("that is more than ten years away")
        return _Day("offset", text, months=sign * months)
    days = n * (7 if unit.startswith("w") else 1)
    if days > HARD_LIMIT_DAYS:
        raise _Invalid("that is more than ten years away")
    return _Day("offset", text, days=sign * days)


def _in_days(sign: int) -> Callable[[re.Match[str], _Build], tuple[_Piece, ...]]:
    return lambda m, b: (_calendar_offset(_number(m["n"]), m["u"], m.group(0), sign),)


_SPAN_MINUTES = {"m": 1, "h": 60}


def _span_minutes(amount: float, unit: str) -> float:
    return amount * _SPAN_MINUTES[unit[0]]


def _span(minutes: float, text: str) -> _Span:
    if minutes > HARD_LIMIT_DAYS * 1440:
        raise _Invalid("that is more than ten years away")
    return _Span(round(minutes), text)


def _in_span(sign: int) -> Callable[[re.Match[str], _Build], tuple[_Piece, ...]]:
    def build(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
        minutes = _span_minutes(_number(m["n"]), m["u"])
        if m.groupdict().get("n2"):
            minutes += _span_minutes(float(m["n2"]), m["u2"])
        return (_span(sign * minutes, m.group(0)),)

    return build


def _in_span_compact(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    if m["hh"]:
        return (_span(int(m["hh"]) * 60 + int(m["mm"]), m.group(0)),)
    return (_span(_span_minutes(float(m["n"]), m["u"]), m.group(0)),)


def _clock_ampm(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    text, hour, minute = m.group(0), int(m["h"]), int(m["mi"] or 0)
    pm = (m["ap"] or m["ap2"]).startswith("p")
    if not 1 <= hour <= 12:
        raise _Invalid(f"{text} is not a time of day (on a 12-hour clock hours go from 1 to 12)")
    if minute > 59:
        raise _Invalid(f"{text} is not a time of day (minutes go from 00 to 59)")
    hour24 = hour % 12 + (12 if pm else 0)
    return (_clock(hour24, minute, text, m["s"], midnight=hour24 == 0 and minute == 0),)


def _clock_24(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    text, hour, minute = m.group(0), int(m["h"]), int(m["mi"])
    day_month = (hour, minute) if m["sep"] == "." and not m["s"] else None  # "6.12": maybe a day
    business = len(m["h"]) == 1
    return (_clock(hour, minute, text, m["s"], business=business, day_month=day_month),)


def _clock_h(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return (_clock(int(m["h"]), 0, m.group(0)),)


def _oclock(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return (_clock(int(m["h"]), 0, m.group(0), business=True),)


def _at_hour(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return (_Filler("at"), _Clock(int(m["h"]), 0, m["h"], bare=True, after_at=True))


def _bare_hour(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return (_Clock(int(m["h"]), 0, m["h"], bare=True),)


def _fixed_clock(hour: int, *, midnight: bool = False) -> Callable[[re.Match[str], _Build], tuple[_Piece, ...]]:
    return lambda m, b: (_Clock(hour, 0, m.group(0), midnight=midnight),)


def _part_of_day(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    return (_Part(m["p"], m.group(0)),)


def _utc_offset(m: re.Match[str], b: _Build) -> tuple[_Piece, ...]:
    if not m["sign"]:
        return (_Offset(0, m.group(0)),)
    hours, minutes = int(m["oh"]), int(m["om"] or 0)
    if hours > 14 or minutes > 59:
        raise _Invalid(f"{m.group(0)} is not a UTC offset")
    return (_Offset((-1 if m["sign"] == "-" else 1) * (hours * 60 + minutes), m.group(0)),)


# -- the rules ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]  # over the phrase's words, lower-cased and joined by single spaces
    build: Callable[[re.Match[str], _Build], tuple[_Piece, ...]]
    examples: tuple[str, ...]


def _rule(name: str, pattern: str, build: Callable[..., tuple[_Piece, ...]], *examples: str) -> Rule:
    return Rule(name, re.compile(f"(?:{pattern})(?= |$)"), build, examples)


_ORD = "(?P<d>\\d{1,2})(?:st|nd|rd|th)?"
_AND_MINUTES = r"(?: (?:and )?(?P<n2>\d{1,4}) (?P<u2>minutes?|mins?|m))?"
_YEAR = "(?P<y>\\d{4})"

RULES: tuple[Rule, ...] = (
    _rule(
        "iso_datetime",
        r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})t(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?"
        r"(?P<z>z|[+-]\d{2}(?::?\d{2})?)?",
        _iso_datetime,
        "2026-12-11t14:00",
        "2026-12-11t14:00:00+01:00",
    ),
    _rule("iso_date", r"(?P<y>\d{4})(?P<sep>[-/])(?P<mo>\d{1,2})(?P=sep)(?P<d>\d{1,2})", _iso_date, "2026-12-11"),
    _rule(
        "dotted_date",
        r"(?P<d>\d{1,2})\.(?P<mo>\d{1,2})\.(?P<y>\d{4}|\d{2})?",
        _dotted_date,
        "11.12.",
        "11.12.2026",
        "6.12.26",
    ),
    _rule("slash_date", r"(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?", _slash_date, "12/11", "12/11/2026"),
    _rule(
        "month_day",
        f"{_MON}\\.? (?:the )?{_ORD}(?: {_YEAR})?",
        _month_day,
        "dec 11",
        "december 11th",
        "dec the 11th",
        "dec 11 2026",
    ),
    _rule(
        "day_month",
        f"(?:the )?{_ORD}(?: of)? {_MON}\\.?(?: {_YEAR})?",
        _month_day,
        "11 dec",
        "11th of december",
        "04 dec 2026",
    ),
    _rule("day_of_month", r"(?:the )?(?P<d>\d{1,2})(?P<sfx>st|nd|rd|th)", _day_of_month, "the 11th", "11th"),
    _rule("today", "today", _days_from_today(0), "today"),
    _rule("tonight", "tonight|tonite", _tonight, "tonight"),
    _rule("this_part", "this (?P<p>morning|afternoon|evening)", _this_part, "this morning"),
    _rule("tomorrow", _alternatives(_TOMORROW), _days_from_today(1), "tomorrow", "tmrw"),
    _rule("yesterday", "yesterday|yday", _days_from_today(-1), "yesterday"),
    _rule("day_after_tomorrow", "(?:the )?day after tomorrow", _days_from_today(2), "the day after tomorrow"),
    _rule("day_before_yesterday", "(?:the )?day before yesterday", _days_from_today(-2), "the day before yesterday"),
    _rule("weekday", f"(?:(?:this )?coming |this )?{_WD}\\.?", _weekday("coming"), "friday", "fri", "this friday"),
    _rule("next_weekday", f"next {_WD}", _weekday("next"), "next friday"),
    _rule("last_weekday", f"last {_WD}", _weekday("last"), "last friday"),
    _rule(
        "weekday_next_week",
        f"{_WD}(?: of)? next week|next week(?: on)? (?P<wd2>{_alternatives(list(_WEEKDAYS))})",
        _weekday("next_week"),
        "friday next week",
        "next week friday",
    ),
    _rule("weekday_this_week", f"{_WD} this week", _weekday("this_week"), "friday this week"),
    _rule("next_week", "next week", _next_week, "next week"),
    _rule("in_days", f"in {_NUM} {_DAY_UNITS}", _in_days(1), "in 3 days", "in a week", "in 2 months"),
    _rule("days_from_now", f"{_NUM} {_DAY_UNITS} from (?:now|today)", _in_days(1), "3 days from now"),
    _rule("days_ago", f"{_NUM} {_DAY_UNITS} ago", _in_days(-1), "3 days ago"),
    _rule(
        "in_span",
        f"in {_NUM} {_SPAN_UNITS}{_AND_MINUTES}",
        _in_span(1),
        "in 20 minutes",
        "in an hour",
        "in 1.5 hours",
        "in 1 hour 30 minutes",
    ),
    _rule("span_from_now", f"{_NUM} {_SPAN_UNITS}{_AND_MINUTES} from now", _in_span(1), "20 minutes from now"),
    _rule(
        "in_span_compact",
        r"in (?:(?P<hh>\d{1,4})h(?P<mm>\d{1,2})|(?P<n>\d{1,9}(?:\.\d+)?)(?P<u>m|mins?|h|hrs?))",
        _in_span_compact,
        "in 20m",
        "in 2h",
        "in 1h30",
    ),
    _rule("in_half_hour", "in half an hour", lambda m, b: (_Span(30, m.group(0)),), "in half an hour"),
    _rule("span_ago", f"{_NUM} {_SPAN_UNITS} ago", _in_span(-1), "20 minutes ago"),
    _rule("now", "(?:right )?now", lambda m, b: (_Now(m.group(0)),), "now"),
    _rule(
        "clock_ampm",
        r"(?P<h>\d{1,2})(?:[:.](?P<mi>\d{2})(?::(?P<s>\d{2}))?)?(?:(?P<ap>am|pm|a|p)| (?P<ap2>am|pm))",
        _clock_ampm,
        "3pm",
        "3:30pm",
        "3 pm",
    ),
    _rule(
        "clock_24",
        r"(?P<h>\d{1,2})(?P<sep>[:.h])(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?h?",
        _clock_24,
        "15:30",
        "15.30",
        "15h30",
        "15:30:00",
    ),
    _rule("clock_h", r"(?P<h>\d{1,2})h", _clock_h, "15h"),
    _rule("oclock", r"(?P<h>\d{1,2}) o'?clock", _oclock, "3 o'clock"),
    _rule("at_hour", r"(?:at|@) (?P<h>\d{1,2})", _at_hour, "at 9"),
    _rule("bare_hour", r"(?P<h>\d{1,2})", _bare_hour, "9"),
    _rule("noon", "(?:12 )?noon|midday", _fixed_clock(12), "noon"),
    _rule("midnight", "midnight", _fixed_clock(0, midnight=True), "midnight"),
    _rule("end_of_day", "eod|end of (?:the )?day|close of business|cob", _fixed_clock(17), "end of day"),
    _rule(
        "part_of_day",
        "(?:in the )?(?P<p>morning|afternoon|evening|night)",
        _part_of_day,
        "morning",
        "in the afternoon",
    ),
    _rule(
        "utc_offset",
        r"(?:utc|gmt)(?:(?P<sign>[+-])(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?)?",
        _utc_offset,
        "utc",
        "utc+01:00",
    ),
    _rule("filler", "on|at|by|the|@", lambda m, b: (_Filler(m.group(0)),), "on"),
)

# Every word the rules know; a word outside it (and not a number) makes a phrase unreadable.
_KNOWN = frozenset(
    [*_WEEKDAYS, *_MONTHS, *_WORD_NUMBERS, *_TOMORROW, *_PARTS]
    + "today tonight tonite yesterday yday this next last coming week weeks day days d w wk wks month months "
    "year years yr yrs minute minutes min mins m hour hours hr hrs h in from now right ago and half of after "
    "before eod end close business cob noon midday midnight utc gmt on at by the am pm p oclock o'clock".split()
)
# Typos are looked for among long words only ("sun" → "son", "noon" → "soon", "night" → "light" would read
# everyday words as times). Typos of day words are never part of a name; typos of the others may be ("marsh").
_DAY_WORDS = tuple(w for w in [*_WEEKDAYS, "today", "tomorrow", "tonight", "yesterday"] if len(w) >= 5)
_TYPO_WORDS = _DAY_WORDS + tuple(w for w in [*_MONTHS, "morning", "afternoon", "evening", "midnight"] if len(w) >= 5)
# Time words that are also everyday name parts: written with a capital next to a name, they may be the name.
_NAMEY = frozenset(
    "may march august sun sat wed mon tue thu fri jan feb mar apr jun jul aug sep sept oct nov dec today tomorrow "
    "tonight morning afternoon evening night noon midday midnight next this last coming now".split()
)
_CONNECTORS = frozenset("at on in by from the of and a an".split())

# -- reading a phrase --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Env:
    now: datetime  # aware, whole minutes
    tz: ZoneInfo
    order: DateOrder
    future: bool  # only the future makes sense (a snooze)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.tz)

    @property
    def today(self) -> date:
        return self.local_now.date()


def _normalize(word: str) -> str:
    token = word.lower().translate(_QUOTES).strip(",;()")
    token = token.replace("a.m.", "am").replace("p.m.", "pm")
    if re.fullmatch(r"[a-z]+\.", token):  # "fri." and a sentence's last word
        token = token[:-1]
    return token


_QUOTES = str.maketrans({"’": "'", "‘": "'"})


@dataclass(frozen=True)
class _Typo:
    word: str  # as typed
    reading: str  # the time word it was read as
    edits: int


@functools.lru_cache(maxsize=4096)
def _correct(token: str) -> _Typo | None:
    """A long word one or two edits (a transposition is one) from exactly one time word."""
    if len(token) < 5 or not token.isalpha() or token in _KNOWN:
        return None
    found = process.extract(token, _TYPO_WORDS, scorer=OSA.distance, score_cutoff=2, limit=2)
    if not found:
        return None
    best, edits = found[0][0], int(found[0][1])
    if len(found) > 1 and int(found[1][1]) == edits:
        return None  # as close to two words: not a typo we can read
    if edits == 2 and (len(token) < 6 or len(best) < 6):
        return None
    return _Typo(token, best, edits)


def _match_pieces(tokens: list[str], build: _Build) -> list[_Piece] | None:
    """Cover the tokens with rules, longest match first; None when some token belongs to no rule."""
    text = " ".join(tokens)
    pieces: list[_Piece] = []
    pos = 0
    while pos < len(text):
        best: tuple[int, Rule, re.Match[str]] | None = None
        for rule in RULES:
            found = rule.pattern.match(text, pos)
            if found and (best is None or found.end() > best[0]):
                best = (found.end(), rule, found)
        if best is None:
            return None
        pieces.extend(best[1].build(best[2], build))
        pos = best[0] + 1
    return pieces


@dataclass(frozen=True)
class _Phrase:
    """What a phrase names once its pieces are put together."""

    day: _Day | None = None
    clock: _Clock | None = None
    part: _Part | None = None
    offset: _Offset | None = None
    alone: _Span | _Now | None = None  # a span or "now": the whole phrase


def _compose(pieces: list[_Piece]) -> _Phrase:
    """At most one day, time, part of the day and offset; or a span or "now" alone. Raises _Invalid on a clash."""
    meaningful = [p for p in pieces if not isinstance(p, _Filler)]
    alone = [p for p in meaningful if isinstance(p, _Span | _Now)]
    if alone:
        if len(meaningful) > 1:
            raise _Invalid(f"“{alone[0].text}” says the moment on its own")
        return _Phrase(alone=alone[0])
    days = [p for p in meaningful if isinstance(p, _Day)]
    clocks = [p for p in meaningful if isinstance(p, _Clock)]
    parts = [p for p in meaningful if isinstance(p, _Part)]
    offsets = [p for p in meaningful if isinstance(p, _Offset)]
    dotted = next((c for c in clocks if c.day_month), None)
    if len(clocks) == 2 and not days and dotted is not None and dotted.day_month:
        day, month = dotted.day_month  # "6.12 14:00": the dotted pair is a day, day first
        days, clocks = [_dated(month, day, 0, dotted.text)], [c for c in clocks if c is not dotted]
    if len(days) == 2:  # "Fri 04 Dec": a weekday may go with a date, to check it
        weekday = next((d for d in days if d.kind == "weekday" and d.mode == "coming"), None)
        other = next((d for d in days if d is not weekday), None)
        if weekday is None or other is None or other.kind == "offset" or other.kind == "weekday":
            raise _Invalid(f"it names two days, “{days[0].text}” and “{days[1].text}”")
        days = [replace(other, weekday=weekday.weekday, text=f"{weekday.text} {other.text}")]
    for found, what in ((days, "days"), (clocks, "times"), (parts, "parts of the day"), (offsets, "UTC offsets")):
        if len(found) > 1:
            raise _Invalid(f"it names two {what}, “{found[0].text}” and “{found[1].text}”")
    if offsets and clocks and clocks[0].offset is not None:
        raise _Invalid("it names two UTC offsets")
    return _Phrase(days[0] if days else None, clocks[0] if clocks else None, parts[0] if parts else None,
                   offsets[0] if offsets else None)  # fmt: skip


def _bare_in_context(pieces: list[_Piece]) -> bool:
    """A number alone is an hour only after "at", after a day, or next to a part of the day."""
    meaningful = [p for p in pieces if not isinstance(p, _Filler)]
    for i, piece in enumerate(meaningful):
        if isinstance(piece, _Clock) and piece.bare and not piece.after_at:
            before = meaningful[i - 1] if i else None
            after = meaningful[i + 1] if i + 1 < len(meaningful) else None
            if not (isinstance(before, _Day | _Part) or isinstance(after, _Part)):
                return False
    return True


def _hhmm(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def _time_of_day(clock: _Clock | None, part: _Part | None, notes: list[Note]) -> tuple[time, bool]:
    if clock is None:
        return (_PARTS[part.name].default, True) if part else (DEFAULT_TIME, False)
    hour, minute = clock.hour, clock.minute
    loose = clock.bare or clock.business
    if part is not None:
        spec = _PARTS[part.name]
        if loose:
            read = spec.bare(hour)
            if read is None:
                raise _Invalid(f"{clock.text} is not an hour of the {part.name}")
            hour = read
        elif not spec.window[0] <= hour * 60 + minute < spec.window[1]:
            raise _Invalid(f"{clock.text} is not in the {part.name}")
    elif loose:
        if hour > 23:
            raise _Invalid(f"{clock.text} is not an hour")
        if 1 <= hour <= 6:
            hour += 12
        if clock.bare and 1 <= clock.hour <= 12 or hour != clock.hour:
            notes.append(Note("hour", f"“{clock.text}” read as {_hhmm(hour, minute)}"))
    if hour > 23:
        raise _Invalid(f"{clock.text} is not an hour")
    if clock.midnight and clock.text.endswith("am"):
        notes.append(Note("hour", f"“{clock.text}” read as midnight, 00:00"))
    return time(hour, minute), True


def localize(naive: datetime, tz: tzinfo) -> datetime:
    """Attach ``tz`` to a wall-clock time. PEP 495's fold=0 reads a time repeated by a DST change as
    its first occurrence and one skipped by a DST jump with the old offset, i.e. past the gap
    (02:30 on a spring-forward night becomes 03:30)."""
    return naive.replace(tzinfo=tz, fold=0)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for last in (day.day, 30, 29, 28):  # 31 January + 1 month: the last day of February
        try:
            return date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise _Invalid("that date is out of range")


def _weekday_day(day: _Day, today: date) -> date:
    shift = (day.weekday - today.weekday()) % 7
    if day.mode == "next":
        return today + timedelta(days=shift or 7)
    if day.mode == "last":
        return today - timedelta(days=(today.weekday() - day.weekday) % 7 or 7)
    monday = today - timedelta(days=today.weekday())
    if day.mode == "next_week":
        return monday + timedelta(days=7 + day.weekday)
    if day.mode == "this_week":
        return monday + timedelta(days=day.weekday)
    return today + timedelta(days=shift)


@functools.lru_cache(maxsize=2048)  # a list says the same few days over and over (60 commitments, 3 due dates)
def _day_text(day: date, *, year: bool = False) -> str:
    text = f"{WEEKDAY_NAMES[day.weekday()][:3]} {day.day:02d} {MONTH_NAMES[day.month - 1][:3]}"
    return f"{text} {day.year}" if year else text


def _resolve(day: _Day | None, tod: time, env: _Env, zone: tzinfo, notes: list[Note]) -> datetime:
    """The moment: the day's wall-clock ``tod`` in ``zone``, moved on where the phrase meant the future."""
    today = env.today

    def at(d: date) -> datetime:
        return localize(datetime.combine(d, tod), zone)

    if day is None:  # a time alone: the next one
        moment = at(today)
        if moment < env.now:
            if tod != time(0, 0):  # "midnight" alone is the coming one: nothing to explain
                notes.append(Note("rolled", f"{_hhmm(tod.hour, tod.minute)} has passed today, so tomorrow"))
            moment = at(today + timedelta(days=1))
        return moment
    if day.kind == "offset":
        return at(_add_months(today, day.months) if day.months else today + timedelta(days=day.days))
    if day.kind == "weekday":
        d = _weekday_day(day, today)
        if day.mode == "coming" and at(d) < env.now:
            notes.append(Note("rolled", f"{WEEKDAY_NAMES[d.weekday()]} {tod:%H:%M} has passed, so next week's"))
            d += timedelta(days=7)
        if day.mode == "next":  # people mean either; say which one this is
            notes.append(
                Note("next", f"“{day.text}” is the coming {WEEKDAY_NAMES[d.weekday()]}: give the date for another")
            )
        return at(d)
    if day.kind == "date":
        d = date(day.year, day.month, day.day)
        if day.weekday >= 0 and d.weekday() != day.weekday:
            raise _Invalid(f"{_day_text(d, year=True)[4:]} is a {WEEKDAY_NAMES[d.weekday()]}")
        return at(d)
    if day.kind == "monthday":
        first = today.replace(day=1)
        for months in range(0, 15):
            month_start = _add_months(first, months)
            try:
                d = month_start.replace(day=day.day)
            except ValueError:
                continue
            if (day.weekday < 0 or d.weekday() == day.weekday) and at(d) >= env.now:
                if months:
                    notes.append(Note("rolled", f"the {day.day} has passed this month, so {_day_text(d)}"))
                return at(d)
        raise _Invalid(f"no {day.text} falls on a {WEEKDAY_NAMES[day.weekday]} soon")
    # yearless: "dec 11", "11.12.", "Fri 11 Dec"
    candidates = []
    for year in range(today.year - 1, today.year + 6):
        try:
            candidates.append(at(date(year, day.month, day.day)))
        except ValueError:
            continue  # 29 February
    label = f"{day.day} {MONTH_NAMES[day.month - 1][:3]}"
    if day.weekday >= 0:
        for year in (today.year, today.year + 1, today.year - 1):
            match = next((c for c in candidates if c.year == year and c.weekday() == day.weekday), None)
            if match is not None:
                return match
        raise _Invalid(f"{label} is not a {WEEKDAY_NAMES[day.weekday]} this year, last year or next")
    if env.future:
        ahead = next(c for c in candidates if c >= env.now)
        if ahead.year != today.year:
            notes.append(Note("rolled", f"{label} has passed this year, so {ahead.year}"))
        return ahead
    return min(candidates, key=lambda c: abs(c - env.now))


def say_moment(at: datetime, tz: ZoneInfo, now: datetime) -> str:
    """How a moment is said back: ``Fri 04 Dec 11:00`` in the person's zone, with the year when it is not
    this year (``Sat 15 Jan 2028 10:00``), and the UTC offset for a wall-clock time that happens twice on a
    DST change night (``Sun 25 Oct 02:30 (UTC+02:00)``). It reads back as the same moment."""
    local = at.astimezone(tz)  # its tzinfo is tz: fold=0 below is localize() of its wall-clock time
    text = f"{_day_text(local.date(), year=local.year != now.astimezone(tz).year)} {local.hour:02d}:{local.minute:02d}"
    if local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset():
        offset = local.strftime("%z")
        text += f" (UTC{offset[:3]}:{offset[3:]})"
    return text


def say_day(day: date, tz: ZoneInfo, now: datetime, *, this_year: int | None = None) -> str:
    """A calendar day said back: ``Fri 04 Dec``, with the year when it is not this year (``this_year``: the
    reader's, when a list has worked it out once)."""
    return _day_text(day, year=day.year != (this_year or now.astimezone(tz).year))


def _dst_notes(moment: datetime, tod: time, zone: tzinfo, notes: list[Note]) -> None:
    wall = moment.replace(tzinfo=None)
    back = moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    day = _day_text(wall.date())
    if back != wall:
        notes.append(
            Note("dst", f"{tod:%H:%M} does not exist on {day} (the clocks go forward), so {back:%H:%M}")
        )  # fmt: skip
    elif moment.utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset():
        notes.append(Note("dst", f"{tod:%H:%M} happens twice on {day} (the clocks go back): I took the first"))


def _floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _read(words: Sequence[str], env: _Env) -> Reading:
    """Read ``words`` as one phrase. The messages quote the words as typed."""
    quoted = " ".join(words)
    if not words:
        return Problem("no date or time given", "none")
    tokens = [_normalize(w) for w in words]
    typos: list[_Typo] = []
    for i, token in enumerate(tokens):
        typo = _correct(token)
        if typo is not None:
            typos.append(replace(typo, word=words[i]))
            tokens[i] = typo.reading
    tokens = [t for t in tokens if t]
    try:
        pieces = _match_pieces(tokens, _Build(env.order))
        if pieces is None or not _bare_in_context(pieces) or all(isinstance(p, _Filler) for p in pieces):
            return _unreadable(words)
        return _settle(pieces, typos, env, quoted)
    except _Invalid as problem:
        return Problem(f"I couldn't read “{quoted}”: {problem}", "invalid")
    except (OverflowError, ValueError):  # a moment beyond what datetime can hold
        return Problem(f"I couldn't read “{quoted}”: that is out of range", "invalid")


def _settle(pieces: list[_Piece], typos: list[_Typo], env: _Env, quoted: str) -> Reading:
    phrase = _compose(pieces)
    day, clock, part, offset, alone = phrase.day, phrase.clock, phrase.part, phrase.offset, phrase.alone
    notes: list[Note] = [Note("typo", f"“{t.word}” read as “{t.reading}”") for t in typos if t.edits == 1]
    if isinstance(alone, _Now):
        return _checked(env.now, True, notes, env, exact=False, quoted=quoted)
    if isinstance(alone, _Span):  # real time, not wall-clock time
        return _checked(_floor(env.now + timedelta(minutes=alone.minutes)), True, notes, env, False, quoted)
    zone: tzinfo = env.tz
    if offset is not None:
        zone = timezone(timedelta(minutes=offset.minutes))
    elif clock is not None and clock.offset is not None:
        zone = timezone(timedelta(minutes=clock.offset))
    tod, timed = _time_of_day(clock, part, notes)
    if day is not None and day.note:
        notes.append(Note("order", day.note))
    # "friday midnight" is the one that ends Friday: resolved as the day's last minute, then asked about
    ends_day = clock is not None and clock.midnight and day is not None and not clock.text.endswith("am")
    moment = _resolve(day, time(23, 59) if ends_day else tod, env, zone, notes)
    if ends_day:
        moment = localize(datetime.combine(moment.date() + timedelta(days=1), tod), zone)
    if zone is env.tz:
        _dst_notes(moment, tod, zone, notes)
    # ISO dates, and dates given with their weekday ("Thu 01 Jun 2028", how confirmations say it), are taken as
    # typed however far: a mistyped year would not fall on that weekday.
    exact = day is not None and (day.exact or (day.kind == "date" and day.weekday >= 0))
    reading = _checked(_floor(moment), timed, notes, env, exact, quoted, day=day, tod=tod, zone=zone)
    if isinstance(reading, Problem | Ask):
        return reading
    asks: list[tuple[str, str]] = []
    if day is not None and day.ask:
        asks.append((day.ask, day.ask_kind))
    if ends_day:
        ended = reading.at.astimezone(env.tz).date() - timedelta(days=1)
        return Ask(reading, f"I took the midnight at the end of {_day_text(ended)}.", "midnight")
    if clock is not None and clock.midnight and day is not None:  # "tomorrow 12am": people mean either midnight
        started = reading.at.astimezone(env.tz).date()
        return Ask(reading, f"“{clock.text}” is the midnight that starts {_day_text(started)}.", "midnight")
    for typo in typos:
        if typo.edits == 2:
            asks.append((f"I read “{typo.word}” as “{typo.reading}”.", "typo"))
    if asks:
        return Ask(reading, " ".join(reason for reason, _ in asks), asks[0][1])
    return reading


def _moment(at: datetime, timed: bool, notes: list[Note], env: _Env) -> Moment:
    return Moment(at, timed, say_moment(at, env.tz, env.now), tuple(notes))


def _checked(
    at: datetime,
    timed: bool,
    notes: list[Note],
    env: _Env,
    exact: bool,
    quoted: str,
    *,
    day: _Day | None = None,
    tod: time | None = None,
    zone: tzinfo | None = None,
) -> Moment | Ask | Problem:
    """Range and sense: errors beyond ten years and for a past snooze; a question beyond two years ahead or
    one year back (with this year's date proposed when a year was typed)."""
    away = at - env.now
    if beyond_reach(at, env.now):
        return Problem(f"I couldn't read “{quoted}”: that is more than ten years away", "invalid")
    moment = _moment(at, timed, notes, env)
    if env.future and at < env.now:
        return Problem(f"“{quoted}” is {moment.echo}, which has passed", "invalid")
    if exact or -timedelta(days=FAR_BACK_DAYS) <= away <= timedelta(days=FAR_AHEAD_DAYS):
        return moment
    reason = f"“{quoted}” is {moment.echo}."
    if day is not None and day.kind == "date" and tod is not None and zone is not None:
        nearer = _resolve(replace(day, kind="yearless", year=0, weekday=-1), tod, env, zone, [])
        if abs(nearer - env.now) <= timedelta(days=FAR_AHEAD_DAYS):
            return Ask(_moment(_floor(nearer), timed, notes, env), reason, "far", read_as=at)
    return Ask(moment, reason, "far")


def beyond_reach(at: datetime, now: datetime) -> bool:
    """More than ten years from ``now``: never read, stored or scheduled, however it was given (a form's
    date picker too)."""
    return abs(at - now) > timedelta(days=HARD_LIMIT_DAYS)


def read_when(
    text: str | Sequence[str], *, now: datetime, tz: ZoneInfo, dates: DateOrder = "dmy", future: bool = False
) -> Reading:
    """Read a phrase (``tomorrow 3pm``, ``fri 9``, ``6.12. 14:00``) as a moment in ``tz``, relative to ``now``.

    ``dates`` is the person's day/month order for slashed dates; ``future`` is for readings where only the
    future makes sense (a snooze): a past moment is then an error, and a date without a year the next one.
    """
    words = text.split() if isinstance(text, str) else list(text)
    return _read(words, _Env(_floor(now), tz, dates, future))


# -- <counterpart> <when> ----------------------------------------------------------------------------------

_TIME_SHAPED = re.compile(
    r"\d{1,2}(?:[:.h]\d{2}(?::\d{2})?)?(?:am|pm|a|p|h)|\d{1,2}[:.]\d{2}(?::\d{2})?|\d{4}[-/]\d{1,2}[-/]\d{1,2}\S*"
    r"|\d{1,2}[./]\d{1,2}[./]?(?:\d{2,4})?|\d{1,2}(?:st|nd|rd|th)"
)


_FULL_DAY_WORDS = tuple(w for w in _DAY_WORDS if len(w) >= 5)


@functools.lru_cache(maxsize=4096)
def _day_lookalike(token: str) -> bool:
    """A short mangled day word ("frdy", "tody"): too far off to read, too close to be a name."""
    if not 4 <= len(token) < 8 or not token.isalpha() or token in _KNOWN:
        return False
    found = process.extractOne(token, _FULL_DAY_WORDS, scorer=OSA.distance, score_cutoff=2)
    return found is not None and found[0][0] == token[0]


def _timeish(word: str) -> bool:
    """Could be part of a time phrase (so a readable tail may start here)."""
    token = _normalize(word)
    return any(ch.isdigit() for ch in token) or token in _KNOWN or _correct(token) is not None or _day_lookalike(token)


def _name_like(word: str) -> bool:
    """Plausibly part of a name: anything but a lower-case time word, a typo of one, or a time-shaped token.
    Numbers (3M, Studio 54) and capitalised words (Good Morning, Sun Microsystems) are name-like."""
    token = _normalize(word)
    if _TIME_SHAPED.fullmatch(token):
        return False
    if word[:1].isupper() or not token.isalpha():
        return True
    typo = _correct(token)
    return token not in _KNOWN and (typo is None or typo.reading not in _DAY_WORDS) and not _day_lookalike(token)


def read_subject_when(
    words: Sequence[str],
    *,
    now: datetime,
    tz: ZoneInfo,
    dates: DateOrder = "dmy",
    future: bool = False,
    quoted_subject: bool = False,
) -> Split:
    """Split ``Acme Corp tomorrow 3pm`` into ("Acme Corp", <Thu 26 Nov 15:00>).

    The time is the longest readable run of words at the end; the subject is what comes before it and is
    never empty. Words that are neither part of the time nor plausibly part of a name are not glued onto
    the name, and where the split could go two ways the reading is an :class:`Ask`. A quoted subject
    (``quoted_subject``: the first word) is taken as it is.
    """
    env = _Env(_floor(now), tz, dates, future)
    words = list(words)
    if quoted_subject:
        return Split(words[0], _read(words[1:], env) if words[1:] else Problem("no date or time given", "none"))
    if not words:
        return Split("", Problem("no name and no time given", "none"))
    start = len(words)
    while start > 0 and len(words) - start < 12 and _timeish(words[start - 1]):
        start -= 1
    readings = _Tails(words, env, start)
    if start == 0 and isinstance(readings[0], Moment | Ask):
        return Split("", Problem("nobody is named before the time", "none"))
    best = invalid = None  # the longest readable tail, and an unreadable-but-invalid one longer than it
    for i in range(max(start, 1), len(words)):
        reading = readings[i]
        if isinstance(reading, Moment | Ask):
            best = i
            break
        if invalid is None and isinstance(reading, Problem) and reading.kind == "invalid":
            invalid = i
    if invalid is not None:
        if best is None or not all(_name_like(w) for w in words[invalid:best]):
            return Split(" ".join(words[:invalid]), readings[invalid])
    if best is None:
        tail = words[max(start, 1) :]
        if any(_normalize(w) not in _CONNECTORS for w in tail):  # time words, but no time: say which
            return Split(" ".join(words[: max(start, 1)]), _unreadable(tail))
        return Split(" ".join(words), Problem("no date or time given", "none"))
    return _settle_split(words, best, readings, start, env)


class _Tails(dict[int, Reading]):
    """The reading of each tail ``words[i:]`` (``i`` from ``start``), read when first looked at: a split needs
    the longest readable one and the one after it, and reading every tail was most of a ``log``'s cost."""

    def __init__(self, words: list[str], env: _Env, start: int) -> None:
        super().__init__()
        self.words, self.env, self.start = words, env, start

    def __missing__(self, i: int) -> Reading:
        if not self.start <= i < len(self.words):
            raise KeyError(i)
        reading = self[i] = _read(self.words[i:], self.env)
        return reading

    def get(self, i: int, default: Reading | None = None) -> Reading | None:  # type: ignore[override]
        try:
            return self[i]
        except KeyError:
            return default


def _unreadable(words: Sequence[str]) -> Problem:
    return Problem(f"I couldn't read “{' '.join(words)}” as a date and time", "unreadable")


def _proposed(reading: Moment | Ask) -> Moment:
    return reading.proposed if isinstance(reading, Ask) else reading


def _as_read(reading: Moment | Ask) -> datetime:
    return (reading.read_as or reading.proposed.at) if isinstance(reading, Ask) else reading.at


def _settle_split(words: list[str], best: int, readings: _Tails, start: int, env: _Env) -> Split:
    reading = readings[best]
    assert isinstance(reading, Moment | Ask)
    subject = words[:best]
    dropped: list[str] = []
    while subject and not _name_like(subject[-1]):
        dropped.insert(0, subject.pop())
    if dropped and not all(_normalize(w) in _CONNECTORS for w in dropped):
        return Split(" ".join(words[:best]), _unreadable(words[max(start, 1) :]))
    if not subject:
        return Split("", Problem("nobody is named before the time", "none"))
    reasons: list[str] = []
    if dropped:
        reasons.append(f"I left out “{' '.join(dropped)}”.")
    first = words[best]
    shorter = readings.get(best + 1)
    if first[:1].isupper() and isinstance(shorter, Moment | Ask):
        token = _normalize(first)
        with_it, without = _as_read(reading).astimezone(env.tz), _as_read(shorter).astimezone(env.tz)
        checks_date = (with_it.month, with_it.day) == (without.month, without.day)
        if token in _NAMEY and not (checks_date and token in _WEEKDAYS):  # "Fri 04 Dec": the weekday checks the date
            reasons.append(f"“{first}” could be part of the name.")
        elif token not in _KNOWN and _correct(token) is not None:
            reasons.append(f"I read “{first}” as a time word; it could be part of the name.")
    last = subject[-1]
    if last.isdigit() and int(last) <= 23 and not _proposed(reading).timed:
        reasons.append(f"“{last}” could be the hour.")
    name = " ".join(subject)
    if not reasons:
        return Split(name, reading)
    if isinstance(reading, Ask):
        return Split(name, replace(reading, reason=" ".join([reading.reason, *reasons])))
    return Split(name, Ask(reading, " ".join(reasons), "split"))


# -- settings ----------------------------------------------------------------------------------------------

_MONTH_FIRST_REGIONS = frozenset("US PH FM MH PW GU PR AS UM VI".split())
_YEAR_FIRST_LANGUAGES = frozenset("zh ja ko hu lt mn".split())


def default_date_order(tz: ZoneInfo | str | None, locale: str | None = None) -> DateOrder:
    """The day/month order for someone who has not chosen one (``settings dates``): their platform's locale
    when it names a region or a year-first language (Teams ``locale``, Slack ``users.info`` ``locale``: "en-US",
    "ja-JP"), else their time zone's region: America/* month first, everywhere else day first."""
    if locale:
        language, _, region = locale.replace("_", "-").partition("-")
        region = region.split("-")[-1].upper()
        if language.lower() in _YEAR_FIRST_LANGUAGES:
            return "ymd"
        if region in _MONTH_FIRST_REGIONS:
            return "mdy"
        if len(region) == 2:
            return "dmy"
    name = tz.key if isinstance(tz, ZoneInfo) else (tz or "")
    return "mdy" if name.startswith("America/") else "dmy"


def clock_time(text: str) -> time | None:
    """One time of day as people type it in a settings field: ``7pm``, ``19``, ``19:00``, ``7:30 pm``,
    ``19h``, ``noon``. Bare numbers are read on a 24-hour clock here (``19-8`` is 19:00 to 08:00)."""
    tokens = [_normalize(w) for w in text.split()]
    try:
        pieces = _match_pieces([t for t in tokens if t], _Build("dmy"))
    except _Invalid:
        return None
    if not pieces:
        return None
    meaningful = [p for p in pieces if not isinstance(p, _Filler)]
    if len(meaningful) != 1 or not isinstance(meaningful[0], _Clock) or meaningful[0].offset is not None:
        return None
    clock = meaningful[0]
    if clock.hour > 23:
        return None
    return time(clock.hour, clock.minute)


# -- durations (``for 90 minutes``) -----------------------------------------------------------------------

_UNIT_MINUTES = {"m": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1, "h": 60, "hr": 60, "hrs": 60}
_UNIT_MINUTES |= {"hour": 60, "hours": 60, "d": 1440, "day": 1440, "days": 1440, "week": 10080, "weeks": 10080}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


class DurationError(ValueError):
    """Not a duration; the message says why."""


def parse_duration(text: str) -> int:
    """``90 minutes``, ``1h``, ``1.5 hours``, ``1h30``, ``1 hour 30 minutes`` → minutes (1..1440)."""
    cleaned = text.strip().lower().replace(" and ", " ")
    if re.fullmatch(r"\d+", cleaned):
        minutes = float(cleaned)
    else:
        hm = re.fullmatch(r"(\d{1,4})\s*h\s*(\d{1,2})", cleaned)
        if hm:
            minutes = int(hm.group(1)) * 60 + int(hm.group(2))
        else:
            parts = _DURATION.findall(cleaned)
            rebuilt = " ".join(f"{n} {u}" for n, u in parts)
            if not parts or rebuilt.replace(" ", "") != cleaned.replace(" ", ""):
                raise DurationError(f"I couldn't read “{text.strip()}” as a duration (try “for 90 minutes”)")
            minutes = 0.0
            for amount, unit in parts:
                if unit not in _UNIT_MINUTES or _UNIT_MINUTES[unit] > 60:
                    raise DurationError(f"I don't know the unit “{unit}” (use minutes or hours)")
                minutes += float(amount) * _UNIT_MINUTES[unit]
    if not 1 <= minutes <= 24 * 60:
        raise DurationError("a negotiation lasts between 1 minute and 24 hours")
    return round(minutes)


__all__ = [
    "DATE_ORDERS",
    "DEFAULT_TIME",
    "RULES",
    "Ask",
    "DateOrder",
    "DurationError",
    "Moment",
    "Note",
    "Problem",
    "Reading",
    "Rule",
    "Split",
    "beyond_reach",
    "clock_time",
    "default_date_order",
    "localize",
    "parse_duration",
    "read_subject_when",
    "read_when",
    "say_day",
    "say_moment",
]
