"""The time language, proven by a corpus (duckling-style): phrases with the exact local moment each must give,
or "asks", or "error", against fixed clocks in Berlin, New York and Tokyo — through ``parse_command``.

Clocks are local wall times in each zone; expectations are written relative to them:
``d+N HH:MM`` is the clock's local day plus N days at that wall time, ``YYYY-MM-DD HH:MM`` a local wall time,
``+Nm`` N real minutes after the clock, ``utc YYYY-MM-DD HH:MM`` an exact moment; ``ask <expectation>`` is a
question proposing that moment; ``error`` a specific error. A dict gives per-zone expectations (``*``: the rest).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coaching import commands as c
from coaching import timelang as tl
from coaching.parser import CommandError, Context, parse_command
from coaching.timelang import localize
from tests.conftest import make_actor

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")
ACTOR = make_actor()
CLOCKS: dict[str, str | dict[str, str]] = {
    "tue": "2026-12-01 20:41",  # the issue's Tuesday evening
    "wed": "2026-11-25 11:00",
    "fri": "2026-12-04 15:30",  # a Friday afternoon
    "sun": "2026-12-06 22:45",  # a Sunday night
    "nye": "2026-12-31 23:30",  # New Year's Eve
    # the night the clocks go forward, and back, in each zone that has DST (Tokyo: an ordinary Sunday)
    "spring": {"Europe/Berlin": "2026-03-29 01:30", "America/New_York": "2026-03-08 01:30", "*": "2026-03-29 01:30"},
    "fall": {"Europe/Berlin": "2026-10-25 01:30", "America/New_York": "2026-11-01 01:30", "*": "2026-10-25 01:30"},
}

Expected = str | dict[str, str]
E = "error"
MDY = "America/New_York"  # the zone whose default day/month order is month first
# (clock, phrase after "log Acme", expected)
CORPUS: list[tuple[str, str, Expected]] = [
    # -- the issue's table (Tuesday 1 December, 20:41) --
    ("tue", "friday 9", "d+3 09:00"),
    ("tue", "monday at 14", "d+6 14:00"),
    ("tue", "tomorrow at 9", "d+1 09:00"),
    ("tue", "3 days from now 11am", "d+3 11:00"),
    ("tue", "tmrw 10am", "d+1 10:00"),
    ("tue", "tomorow 3pm", "d+1 15:00"),
    ("tue", "6.12. 14:00", "2026-12-06 14:00"),
    ("tue", "tomorrow 25:00", E),
    ("tue", "2028-01-15 10:00", "2028-01-15 10:00"),
    ("tue", "in 99999999 days", E),
    # -- day words --
    ("tue", "today 3pm", "d+0 15:00"),
    ("tue", "today", "d+0 09:00"),
    ("tue", "tomorrow", "d+1 09:00"),
    ("tue", "tomorrow 3pm", "d+1 15:00"),
    ("tue", "tmw 10am", "d+1 10:00"),
    ("tue", "tmr 9:30", "d+1 09:30"),
    ("tue", "2moro 4pm", "d+1 16:00"),
    ("tue", "tommorow 11am", "d+1 11:00"),
    ("tue", "tomorrw 3pm", "d+1 15:00"),
    ("tue", "tmorow 3pm", "ask d+1 15:00"),
    ("tue", "yesterday 16:30", "d-1 16:30"),
    ("tue", "yday 4pm", "d-1 16:00"),
    ("tue", "the day after tomorrow", "d+2 09:00"),
    ("tue", "day after tomorrow 2pm", "d+2 14:00"),
    ("tue", "the day before yesterday 10am", "d-2 10:00"),
    ("tue", "tonight", "d+0 20:00"),
    ("tue", "tonight 9pm", "d+0 21:00"),
    ("tue", "tonight 9", "d+0 21:00"),
    ("tue", "this morning", "d+0 09:00"),
    ("tue", "this afternoon 3", "d+0 15:00"),
    ("tue", "this evening 7:30", "d+0 19:30"),
    ("tue", "tomorrow morning", "d+1 09:00"),
    ("tue", "tomorrow afternoon", "d+1 14:00"),
    ("tue", "tomorrow evening", "d+1 18:00"),
    ("tue", "tomorrow night", "d+1 20:00"),
    ("tue", "tomorrow morning at 8", "d+1 08:00"),
    ("tue", "tomorrow at 3 in the afternoon", "d+1 15:00"),
    ("tue", "tomorrow 9 in the morning", "d+1 09:00"),
    ("tue", "tomorrow evening 7", "d+1 19:00"),
    ("tue", "morning", "d+1 09:00"),
    ("tue", "afternoon", "d+1 14:00"),
    ("tue", "evening", "d+1 18:00"),
    ("tue", "in the morning", "d+1 09:00"),
    ("tue", "tomorrow morning 3pm", E),
    ("tue", "tomorrow evening 3", E),
    # -- weekdays --
    ("tue", "friday", "d+3 09:00"),
    ("tue", "fri", "d+3 09:00"),
    ("tue", "fri.", "d+3 09:00"),
    ("tue", "Friday 3pm", "d+3 15:00"),
    ("tue", "friday 3", "d+3 15:00"),
    ("tue", "friday 12", "d+3 12:00"),
    ("tue", "friday 14", "d+3 14:00"),
    ("tue", "friday 9:30", "d+3 09:30"),
    ("tue", "friday 3:30", "d+3 15:30"),
    ("tue", "friday 03:30", "d+3 03:30"),
    ("tue", "friday at 9", "d+3 09:00"),
    ("tue", "friday at 14", "d+3 14:00"),
    ("tue", "on friday at 3pm", "d+3 15:00"),
    ("tue", "this friday", "d+3 09:00"),
    ("tue", "coming friday 10am", "d+3 10:00"),
    ("tue", "this coming friday", "d+3 09:00"),
    ("tue", "next friday", "d+3 09:00"),
    ("tue", "next friday 3pm", "d+3 15:00"),
    ("tue", "next tuesday", "d+7 09:00"),
    ("tue", "tuesday", "d+7 09:00"),
    ("tue", "tuesday 9pm", "d+0 21:00"),
    ("tue", "tue 8pm", "d+7 20:00"),
    ("tue", "wednesday", "d+1 09:00"),
    ("tue", "wed 10:00", "d+1 10:00"),
    ("tue", "weds 10am", "d+1 10:00"),
    ("tue", "thursday 11", "d+2 11:00"),
    ("tue", "thu 11am", "d+2 11:00"),
    ("tue", "thurs 2pm", "d+2 14:00"),
    ("tue", "thur 2pm", "d+2 14:00"),
    ("tue", "saturday", "d+4 09:00"),
    ("tue", "sat 10am", "d+4 10:00"),
    ("tue", "sunday 6pm", "d+5 18:00"),
    ("tue", "sun 6pm", "d+5 18:00"),
    ("tue", "mon 9", "d+6 09:00"),
    ("tue", "monday", "d+6 09:00"),
    ("tue", "tues 10am", "d+7 10:00"),
    ("tue", "friday next week", "d+10 09:00"),
    ("tue", "next week friday", "d+10 09:00"),
    ("tue", "friday of next week 3pm", "d+10 15:00"),
    ("tue", "monday next week", "d+6 09:00"),
    ("tue", "friday this week", "d+3 09:00"),
    ("tue", "monday this week", "d-1 09:00"),
    ("tue", "last friday", "d-4 09:00"),
    ("tue", "last friday 3pm", "d-4 15:00"),
    ("tue", "last tuesday", "d-7 09:00"),
    ("tue", "next week", "ask d+6 09:00"),
    ("tue", "firday", "d+3 09:00"),
    ("tue", "tuesdy 10am", "d+7 10:00"),
    ("tue", "wendesday 3pm", "d+1 15:00"),
    ("tue", "thrusday", "d+2 09:00"),
    ("tue", "fridya 2pm", "d+3 14:00"),
    ("tue", "satruday", "d+4 09:00"),
    ("tue", "mondy 9am", "d+6 09:00"),
    ("tue", "fryday 11am", "d+3 11:00"),
    ("tue", "frdy 3pm", E),
    ("tue", "friday tomorrow", E),
    ("tue", "friday 3pm 4pm", E),
    # -- dates --
    ("tue", "2026-12-11", "2026-12-11 09:00"),
    ("tue", "2026-12-11 14:00", "2026-12-11 14:00"),
    ("tue", "2026-12-11T14:00", "2026-12-11 14:00"),
    ("tue", "2026-12-11 14:00:00", "2026-12-11 14:00"),
    ("tue", "2026-12-11T14:00:00", "2026-12-11 14:00"),
    ("tue", "2026/12/11 10:00", "2026-12-11 10:00"),
    ("tue", "2026-12-11T14:00Z", "utc 2026-12-11 14:00"),
    ("tue", "2026-12-11T14:00+01:00", "utc 2026-12-11 13:00"),
    ("tue", "2026-12-11T14:00:00-05:00", "utc 2026-12-11 19:00"),
    ("tue", "dec 11", "2026-12-11 09:00"),
    ("tue", "Dec 11 3pm", "2026-12-11 15:00"),
    ("tue", "december 11th", "2026-12-11 09:00"),
    ("tue", "december 11th 2026", "2026-12-11 09:00"),
    ("tue", "dec 11, 2026 10:00", "2026-12-11 10:00"),
    ("tue", "11 dec", "2026-12-11 09:00"),
    ("tue", "11 december 2026 14:00", "2026-12-11 14:00"),
    ("tue", "11th of december", "2026-12-11 09:00"),
    ("tue", "the 11th of december at 3pm", "2026-12-11 15:00"),
    ("tue", "dec the 11th", "2026-12-11 09:00"),
    ("tue", "the 11th", "2026-12-11 09:00"),
    ("tue", "on the 11th at 10", "2026-12-11 10:00"),
    ("tue", "the 1st", "2027-01-01 09:00"),
    ("tue", "11.12.", "2026-12-11 09:00"),
    ("tue", "11.12.2026", "2026-12-11 09:00"),
    ("tue", "11.12.26 15:00", "2026-12-11 15:00"),
    ("tue", "6.12 14:00", "2026-12-06 14:00"),
    ("tue", "24.12. 18:00", "2026-12-24 18:00"),
    ("tue", "12/11", {MDY: "2026-12-11 09:00", "*": "2026-11-12 09:00"}),
    ("tue", "12/11/2026 3pm", {MDY: "2026-12-11 15:00", "*": "2026-11-12 15:00"}),
    ("tue", "25/12", {MDY: "ask 2026-12-25 09:00", "*": "2026-12-25 09:00"}),
    ("tue", "12/25", {MDY: "2026-12-25 09:00", "*": "ask 2026-12-25 09:00"}),
    ("tue", "1/15/2027 9am", {MDY: "2027-01-15 09:00", "*": "ask 2027-01-15 09:00"}),
    ("tue", "13/13", E),
    ("tue", "feb 30", E),
    ("tue", "30 feb", E),
    ("tue", "2026-02-30 10:00", E),
    ("tue", "2026-13-01", E),
    ("tue", "31.04.", E),
    ("tue", "29 feb", "2028-02-29 09:00"),
    ("tue", "nov 30", "2026-11-30 09:00"),
    ("tue", "jan 5", "2027-01-05 09:00"),
    ("tue", "jan 5 2029", "ask 2027-01-05 09:00"),
    ("tue", "2029-01-05", "2029-01-05 09:00"),
    ("tue", "dec 11 2030", "ask 2026-12-11 09:00"),
    ("tue", "dec 11 2040", E),
    ("tue", "2040-01-01", E),
    ("tue", "1999-01-01", E),
    ("tue", "dec 1 2025", "2025-12-01 09:00"),
    ("tue", "nov 1 2025", "ask 2026-11-01 09:00"),
    ("tue", "fri 04 dec 11:00", "2026-12-04 11:00"),
    ("tue", "mon 04 dec 11:00", E),
    ("tue", "sat 15 jan 2028 10:00", "2028-01-15 10:00"),
    ("tue", "fri 15 jan 10:00", "2027-01-15 10:00"),
    ("tue", "thu 01 jun 2028 09:00", "2028-06-01 09:00"),
    ("tue", "friday the 11th", "2026-12-11 09:00"),
    # -- times --
    ("tue", "3pm", "d+1 15:00"),
    ("tue", "9pm", "d+0 21:00"),
    ("tue", "at 9pm", "d+0 21:00"),
    ("tue", "at 9", "d+1 09:00"),
    ("tue", "at 14", "d+1 14:00"),
    ("tue", "at 21", "d+0 21:00"),
    ("tue", "21:30", "d+0 21:30"),
    ("tue", "15:30", "d+1 15:30"),
    ("tue", "15.30", "d+1 15:30"),
    ("tue", "15h30", "d+1 15:30"),
    ("tue", "15h", "d+1 15:00"),
    ("tue", "3:30pm", "d+1 15:30"),
    ("tue", "3 pm", "d+1 15:00"),
    ("tue", "3p", "d+1 15:00"),
    ("tue", "11.15am", "d+1 11:15"),
    ("tue", "9:30 a.m.", "d+1 09:30"),
    ("tue", "noon", "d+1 12:00"),
    ("tue", "12 noon", "d+1 12:00"),
    ("tue", "midday", "d+1 12:00"),
    ("tue", "midnight", "d+1 00:00"),
    ("tue", "friday midnight", "ask 2026-12-05 00:00"),
    ("tue", "tomorrow 12am", "ask d+1 00:00"),
    ("tue", "12am", "d+1 00:00"),
    ("tue", "tomorrow 12pm", "d+1 12:00"),
    ("tue", "eod", "d+1 17:00"),
    ("tue", "tomorrow eod", "d+1 17:00"),
    ("tue", "end of day", "d+1 17:00"),
    ("tue", "tomorrow 3 oclock", "d+1 15:00"),
    ("tue", "at 3pm tomorrow", "d+1 15:00"),
    ("tue", "at 9 on friday", "d+3 09:00"),
    ("tue", "3pm friday", "d+3 15:00"),
    ("tue", "10am next monday", "d+6 10:00"),
    ("tue", "tomorrow 3pm utc", "utc 2026-12-02 15:00"),
    ("tue", "tomorrow 15:00 gmt+1", "utc 2026-12-02 14:00"),
    ("tue", "14:75", E),
    ("tue", "tomorrow 24:00", E),
    ("tue", "13pm", E),
    ("tue", "0am", E),
    ("tue", "tomorrow 14:00:75", E),
    ("tue", "tomorrow 9 10", E),
    # -- spans (real time) --
    ("tue", "in 20 minutes", "+20m"),
    ("tue", "in 20 min", "+20m"),
    ("tue", "in 20 mins", "+20m"),
    ("tue", "in 20m", "+20m"),
    ("tue", "in 20min", "+20m"),
    ("tue", "in an hour", "+60m"),
    ("tue", "in 1 hour", "+60m"),
    ("tue", "in 2 hours", "+120m"),
    ("tue", "in 1.5 hours", "+90m"),
    ("tue", "in 1h30", "+90m"),
    ("tue", "in 2h", "+120m"),
    ("tue", "in 90 minutes", "+90m"),
    ("tue", "in 1 hour 30 minutes", "+90m"),
    ("tue", "in 1 hour and 30 minutes", "+90m"),
    ("tue", "in half an hour", "+30m"),
    ("tue", "in two hours", "+120m"),
    ("tue", "20 minutes from now", "+20m"),
    ("tue", "2 hours from now", "+120m"),
    ("tue", "30 minutes ago", "+-30m"),
    ("tue", "2 hours ago", "+-120m"),
    ("tue", "now", "+0m"),
    ("tue", "right now", "+0m"),
    ("tue", "in 99999999 minutes", E),
    ("tue", "in 20 minutes 3pm", E),
    # -- calendar offsets --
    ("tue", "in 3 days", "d+3 09:00"),
    ("tue", "in 3 days 11am", "d+3 11:00"),
    ("tue", "in 3 days at 11am", "d+3 11:00"),
    ("tue", "3 days from today", "d+3 09:00"),
    ("tue", "in a week", "d+7 09:00"),
    ("tue", "in 1 week", "d+7 09:00"),
    ("tue", "in 2 weeks 10am", "d+14 10:00"),
    ("tue", "a week from today", "d+7 09:00"),
    ("tue", "in 2 months", "2027-02-01 09:00"),
    ("tue", "in a month", "2027-01-01 09:00"),
    ("tue", "in 1 year", "2027-12-01 09:00"),
    ("tue", "in 5 years", "ask 2031-12-01 09:00"),
    ("tue", "in 11 years", E),
    ("tue", "in 1.5 days", E),
    ("tue", "3 days ago", "d-3 09:00"),
    ("tue", "a week ago", "d-7 09:00"),
    ("tue", "in 0 days", "d+0 09:00"),
    # -- words that are not a time --
    ("tue", "on the 45th of smarch", E),
    ("tue", "someday", E),
    ("tue", "soon", E),
    ("tue", "next", E),
    ("tue", "tomorrow-ish", E),
    # -- a Wednesday morning (the other tests' clock) --
    ("wed", "next tuesday 10am", "d+6 10:00"),
    ("wed", "friday", "d+2 09:00"),
    ("wed", "today 12:00", "d+0 12:00"),
    ("wed", "at 10", "d+1 10:00"),
    ("wed", "at 11", "d+0 11:00"),
    # -- a Friday afternoon --
    ("fri", "friday 9", "d+7 09:00"),
    ("fri", "friday 4pm", "d+0 16:00"),
    ("fri", "friday", "d+7 09:00"),
    ("fri", "today 9", "d+0 09:00"),
    ("fri", "at 3", "d+1 15:00"),
    ("fri", "at 4", "d+0 16:00"),
    ("fri", "this friday 5pm", "d+0 17:00"),
    ("fri", "next friday", "d+7 09:00"),
    ("fri", "monday", "d+3 09:00"),
    ("fri", "monday next week", "d+3 09:00"),
    ("fri", "tomorrow 9", "d+1 09:00"),
    ("fri", "in 2 hours", "+120m"),
    ("fri", "friday this week 9am", "d+0 09:00"),
    ("fri", "the 4th", "2027-01-04 09:00"),
    ("fri", "the 4th 4pm", "d+0 16:00"),
    ("fri", "dec 4 10am", "d+0 10:00"),
    ("fri", "last friday", "d-7 09:00"),
    # -- a Sunday night --
    ("sun", "tomorrow 9", "d+1 09:00"),
    ("sun", "monday 9", "d+1 09:00"),
    ("sun", "next monday", "d+1 09:00"),
    ("sun", "monday next week", "d+1 09:00"),
    ("sun", "sunday", "d+7 09:00"),
    ("sun", "tonight", "d+0 20:00"),
    ("sun", "at 11pm", "d+0 23:00"),
    ("sun", "at 10pm", "d+1 22:00"),
    ("sun", "in 30 minutes", "+30m"),
    ("sun", "midnight", "d+1 00:00"),
    ("sun", "friday this week", "d-2 09:00"),
    ("sun", "saturday", "d+6 09:00"),
    # -- New Year's Eve --
    ("nye", "tomorrow 9", "2027-01-01 09:00"),
    ("nye", "jan 1", "2027-01-01 09:00"),
    ("nye", "jan 1 2027", "2027-01-01 09:00"),
    ("nye", "dec 31", "d+0 09:00"),
    ("nye", "in 45 minutes", "+45m"),
    ("nye", "midnight", "2027-01-01 00:00"),
    ("nye", "friday", "2027-01-01 09:00"),
    ("nye", "next friday", "2027-01-01 09:00"),
    ("nye", "12/31", {MDY: "2026-12-31 09:00", "*": "ask 2026-12-31 09:00"}),
    ("nye", "1/1", "2027-01-01 09:00"),
    ("nye", "the 1st", "2027-01-01 09:00"),
    ("nye", "in a month", "2027-01-31 09:00"),
    ("nye", "today 23:45", "d+0 23:45"),
    ("nye", "2027-01-01", "2027-01-01 09:00"),
    ("nye", "at 9", "2027-01-01 09:00"),
    ("nye", "1.1.", "2027-01-01 09:00"),
    ("nye", "fri 01 jan 2027 10:00", "2027-01-01 10:00"),
    # -- the night the clocks go forward: 02:00–03:00 does not exist in Berlin and New York --
    ("spring", "today 2:30am", {"Asia/Tokyo": "d+0 02:30", "*": "d+0 03:30"}),
    ("spring", "today 02:30", {"Asia/Tokyo": "d+0 02:30", "*": "d+0 03:30"}),
    ("spring", "at 2:30am", {"Asia/Tokyo": "d+0 02:30", "*": "d+0 03:30"}),
    ("spring", "in 1 hour", "+60m"),
    ("spring", "in 2 hours", "+120m"),
    ("spring", "today 3am", "d+0 03:00"),
    ("spring", "tomorrow 9am", "d+1 09:00"),
    ("spring", "today 9", "d+0 09:00"),
    ("spring", "today 1:45am", "d+0 01:45"),
    # -- the night the clocks go back: a repeated hour (02:00–03:00 Berlin, 01:00–02:00 New York) --
    ("fall", "today 2:30am", "d+0 02:30"),
    ("fall", "today 1:30am", "d+0 01:30"),
    ("fall", "in 1 hour", "+60m"),
    ("fall", "in 2 hours", "+120m"),
    ("fall", "tomorrow 9am", "d+1 09:00"),
    ("fall", "today 9am", "d+0 09:00"),
    ("fall", "today 3am", "d+0 03:00"),
    ("fall", "sun 25 oct 02:30 (utc+01:00)", "utc 2026-10-25 01:30"),
]


def clock_of(name: str, zone: str) -> datetime:
    wall = CLOCKS[name]
    if isinstance(wall, dict):
        wall = wall.get(zone, wall["*"])
    return localize(datetime.fromisoformat(wall), ZoneInfo(zone)).astimezone(UTC)


def expected_moment(spec: str, now: datetime, tz: ZoneInfo) -> datetime:
    if spec.startswith("+"):
        return (now + timedelta(minutes=int(spec[1:-1]))).replace(second=0, microsecond=0)
    if spec.startswith("utc "):
        return datetime.fromisoformat(spec[4:]).replace(tzinfo=UTC)
    relative = re.fullmatch(r"d([+-]\d+) (\d\d:\d\d)", spec)
    if relative:
        day = now.astimezone(tz).date() + timedelta(days=int(relative[1]))
        wall = datetime.fromisoformat(f"{day.isoformat()} {relative[2]}")
    else:
        wall = datetime.fromisoformat(spec)
    return localize(wall, tz).astimezone(UTC)


def parse(text: str, now: datetime, tz: ZoneInfo, dates: str | None = None) -> c.Command:
    return parse_command(ACTOR, text, Context(now=now, tz=tz, dates=dates))


def test_the_corpus_is_big_enough_and_has_every_row_of_the_issue() -> None:
    phrases = {phrase for _, phrase, _ in CORPUS}
    assert len(phrases) >= 200
    assert len({(name, phrase) for name, phrase, _ in CORPUS}) == len(CORPUS), "a phrase is listed twice for a clock"
    for row in ("friday 9", "monday at 14", "tomorrow at 9", "3 days from now 11am", "tmrw 10am", "tomorow 3pm"):
        assert row in phrases
    assert {"6.12. 14:00", "tomorrow 25:00", "2028-01-15 10:00", "in 99999999 days"} <= phrases
    assert {name for name, _, _ in CORPUS} == set(CLOCKS)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(("clock_name", "phrase", "expected"), CORPUS, ids=[f"{c}:{p}" for c, p, _ in CORPUS])
def test_corpus(clock_name: str, phrase: str, expected: Expected, zone: str) -> None:
    tz, now = ZoneInfo(zone), clock_of(clock_name, zone)
    spec = expected if isinstance(expected, str) else expected.get(zone, expected["*"])
    if spec == E:
        with pytest.raises(CommandError) as raised:
            parse(f"log Acme {phrase}", now, tz)
        assert "went wrong" not in raised.value.message and len(raised.value.message) > 10
        return
    command = parse(f"log Acme {phrase}", now, tz)
    if spec.startswith("ask "):
        assert isinstance(command, c.ConfirmMoment), command
        assert command.proposed == expected_moment(spec[4:], now, tz)
        assert isinstance(command.command, c.LogNegotiation) and command.command.when == command.proposed
        assert command.command.counterpart == "Acme"
        # the Yes button's words run exactly the proposed command, with no second question
        assert parse(command.text, now, tz) == command.command
        return
    assert isinstance(command, c.LogNegotiation), command
    assert (command.counterpart, command.when) == ("Acme", expected_moment(spec, now, tz))
    # the confirmation's words read back to the same moment
    echo = tl.say_moment(command.when, tz, now)
    again = parse(f"log Acme {echo}", now, tz)
    assert isinstance(again, c.LogNegotiation) and again.when == command.when, echo


# -- names that look like times stay names ------------------------------------------------------------------

NAMES = [
    "Monday.com",
    "March Networks",
    "3M",
    "Sun Microsystems",
    "May & Co",
    "May",
    "Studio 54",
    "Windows 11 Group",
    "Good Morning Media",
    "Acme Corp International",
    "Bank of America",
    "Tomorrow Labs",
    "Friday Partners",
    "Noon Industries",
    "Sat Nav Ltd",
    "Evening Standard",
    "The Day After",
    "Augusta Capital",
    "Acme match",
    "Fred",
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("name", NAMES)
def test_names_that_look_like_times_stay_names(name: str, zone: str) -> None:
    tz, now = ZoneInfo(zone), clock_of("tue", zone)
    command = parse(f"log {name} friday 3pm", now, tz)
    assert isinstance(command, c.LogNegotiation), command
    assert (command.counterpart, command.when) == (name, expected_moment("d+3 15:00", now, tz))


@pytest.mark.parametrize("zone", ZONES)
def test_quoted_names_are_taken_as_typed(zone: str) -> None:
    tz, now = ZoneInfo(zone), clock_of("tue", zone)
    for name in ("Tomorrow Labs", "Friday 3pm", "May 5", "Next Week GmbH"):
        command = parse(f'log "{name}" friday 2pm', now, tz)
        assert isinstance(command, c.LogNegotiation) and command.counterpart == name
        assert command.when == expected_moment("d+3 14:00", now, tz)


@pytest.mark.parametrize(
    ("text", "subject", "moment"),
    [
        ("log Acme Sun 3pm", "Acme", "d+5 15:00"),  # or is it "Acme Sun", today?
        ("log Dan Frida 3pm", "Dan", "d+3 15:00"),  # "Frida" is a name, and one edit from friday
        ("log Contoso 9 friday", "Contoso 9", "d+3 09:00"),  # "9": part of the name, or the hour?
        ("log Acme in friday", "Acme", "d+3 09:00"),  # a stray "in"
        ("log Acme Tomorrow 3pm", "Acme", "d+1 15:00"),
    ],
)
def test_a_split_that_could_go_two_ways_asks(text: str, subject: str, moment: str) -> None:
    for zone in ZONES:
        tz, now = ZoneInfo(zone), clock_of("tue", zone)
        command = parse(text, now, tz)
        assert isinstance(command, c.ConfirmMoment), (zone, command)
        assert isinstance(command.command, c.LogNegotiation) and command.command.counterpart == subject
        assert command.proposed == expected_moment(moment, now, tz)
        assert command.question.startswith(f"I read *{subject}* on *") and "— is that right?" in command.question
        assert parse(command.text, now, tz) == command.command


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("log Tyrell 3 days from 11am", "“3 days from 11am”"),  # never "Tyrell 3 days from"
        ("log Orvane frdy 3pm", "“frdy 3pm”"),
        ("log Acme 3pm friday 5pm", "“3pm friday 5pm”"),
        ("log Acme 2026-02-30 10:00", "no 30 February 2026"),
        ("log tomorrow 3pm", "Who is it with?"),
        ("log May 5 3pm", "Who is it with?"),
        ("log Acme Corp", "When is the negotiation with Acme Corp?"),
    ],
)
def test_words_that_are_neither_time_nor_name_are_not_glued_on(text: str, fragment: str) -> None:
    for zone in ZONES:
        with pytest.raises(CommandError) as raised:
            parse(text, clock_of("tue", zone), ZoneInfo(zone))
        assert fragment in raised.value.message


# -- the rule table -------------------------------------------------------------------------------------------


def test_the_documented_table_names_every_rule_and_each_example_matches_its_rule() -> None:
    documented = re.findall(r"^\| (\w+) \|", tl.__doc__ or "", flags=re.MULTILINE)
    assert documented[0] == "rule"
    assert documented[1:] == [rule.name for rule in tl.RULES]
    for rule in tl.RULES:
        assert rule.examples, rule.name
        for example in rule.examples:
            assert rule.pattern.fullmatch(example), (rule.name, example)


def test_notes_say_how_a_phrase_was_read() -> None:
    tz, now = ZoneInfo("Europe/Berlin"), clock_of("tue", "Europe/Berlin")

    def notes(phrase: str) -> list[str]:
        reading = tl.read_when(phrase, now=now, tz=tz)
        assert isinstance(reading, tl.Moment), reading
        return [note.text for note in reading.notes]

    assert notes("tomorow 3pm") == ["“tomorow” read as “tomorrow”"]
    assert notes("friday 9") == ["“9” read as 09:00"]
    assert notes("friday 3") == ["“3” read as 15:00"]
    assert notes("12/11") == ["“12/11” read as 12 November (day first; `settings dates mdy` to change)"]
    assert "has passed, so next week's" in notes("tuesday")[0]
    assert notes("next friday") == ["“next friday” is the coming Friday: give the date for another"]
    spring = tl.read_when("2027-03-28 02:30", now=now, tz=tz)
    assert isinstance(spring, tl.Moment) and "does not exist" in spring.notes[0].text
    assert spring.echo == "Sun 28 Mar 2027 03:30"
    fall = tl.read_when("2026-10-25 02:30", now=now, tz=tz)
    assert isinstance(fall, tl.Moment) and "happens twice" in fall.notes[0].text
    assert fall.echo == "Sun 25 Oct 02:30 (UTC+02:00)"
    command = parse("log Acme tomorow 3pm", now, tz)
    assert isinstance(command, c.LogNegotiation) and command.notes == ("“tomorow” read as “tomorrow”",)


def test_the_day_month_order_comes_from_the_setting_then_the_locale_then_the_zone() -> None:
    tz, now = ZoneInfo("Europe/Berlin"), clock_of("tue", "Europe/Berlin")
    dmy, mdy, ymd = (parse("log Acme 12/11", now, tz, dates) for dates in ("dmy", "mdy", "ymd"))
    assert isinstance(dmy, c.LogNegotiation) and dmy.when.astimezone(tz).date().isoformat() == "2026-11-12"
    assert isinstance(mdy, c.LogNegotiation) and mdy.when.astimezone(tz).date().isoformat() == "2026-12-11"
    assert isinstance(ymd, c.LogNegotiation) and ymd.when == mdy.when
    dotted = parse("log Acme 11.12.", now, tz, "mdy")  # dotted dates are day first for everyone
    assert isinstance(dotted, c.LogNegotiation) and dotted.when.astimezone(tz).date().isoformat() == "2026-12-11"
    assert tl.default_date_order(ZoneInfo("America/New_York")) == "mdy"
    assert tl.default_date_order(ZoneInfo("America/Los_Angeles")) == "mdy"
    assert tl.default_date_order(ZoneInfo("Europe/Berlin")) == "dmy"
    assert tl.default_date_order(ZoneInfo("Asia/Tokyo")) == "dmy"
    assert tl.default_date_order("Europe/London", "en-US") == "mdy"  # a platform locale beats the zone
    assert tl.default_date_order("America/Sao_Paulo", "pt-BR") == "dmy"
    assert tl.default_date_order("Asia/Tokyo", "ja-JP") == "ymd"
    assert tl.default_date_order("America/Chicago", "en") == "mdy"  # no region in it: the zone decides
    assert tl.default_date_order(None) == "dmy"


# -- what the person sees (through the coach) -----------------------------------------------------------------


async def _stored(sessions) -> tuple[int, int]:
    from sqlalchemy import func, select

    from coaching.models import Commitment, Negotiation

    async with sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Negotiation)),
            await session.scalar(select(func.count()).select_from(Commitment)),
        )


@pytest.mark.parametrize("zone", ZONES)
async def test_the_issues_rows_in_chat(coach, clock, sessions, zone: str) -> None:
    clock.set(evening := clock_of("tue", zone))
    person = make_actor("anna", zone)
    for text, expected in (
        ("log Contoso friday 9", "Logged #1: Contoso, Fri 04 Dec 09:00"),
        ("log Bosch monday at 14", "Logged #2: Bosch, Mon 07 Dec 14:00"),
        ("log Acme tomorrow at 9", "Logged #3: Acme, Wed 02 Dec 09:00"),
        ("log Tyrell 3 days from now 11am", "Logged #4: Tyrell, Fri 04 Dec 11:00"),
        ("log Massive Dynamic tmrw 10am", "Logged #5: Massive Dynamic, Wed 02 Dec 10:00"),
        ("log Orvane tomorow 3pm", "Logged #6: Orvane, Wed 02 Dec 15:00"),
        ("log Berliner Bank 6.12. 14:00", "Logged #7: Berliner Bank, Sun 06 Dec 14:00"),
        ("log Yearling 2028-01-15 10:00", "Logged #8: Yearling, Sat 15 Jan 2028 10:00"),  # not this year: the year
        (
            "commit 1 ours send the deck by tomorrow 5pm",
            "Commitment #1 (ours): You → send the deck by Wed 02 Dec 17:00.",
        ),
    ):
        reply = await coach.handle_text(person, text)
        assert not reply.is_error and reply.text.startswith(expected), (text, reply.text)
    assert clock.now() == evening
    before = await _stored(sessions)
    for text, expected in (
        ("log Xandor tomorrow 25:00", "I couldn't read “tomorrow 25:00”: 25:00 is not a time of day"),
        ("log Acme in 99999999 days", "I couldn't read “in 99999999 days”: that is more than ten years away."),
        ("digest 9999-W52", "9999-W52 hasn't started yet."),
        ("log Tyrell 3 days from 11am", "I couldn't read “3 days from 11am” as a date and time."),
        ("later commitment 1 yesterday", "“yesterday” is Mon 30 Nov 09:00, which has passed."),
    ):
        reply = await coach.handle_text(person, text)
        assert reply.is_error and reply.text.startswith(expected), (text, reply.text)
        assert "went wrong" not in reply.plain_text()
    assert await _stored(sessions) == before


async def test_a_question_stores_nothing_and_its_yes_button_logs_the_proposal(coach, clock, sessions) -> None:
    clock.set(clock_of("tue", "Europe/Berlin"))
    anna = make_actor("anna", "Europe/Berlin")
    asked = await coach.handle_text(anna, "log Acme Sun 3pm")
    assert asked.text.startswith("I read *Acme* on *Sun 06 Dec 15:00* — is that right?")
    assert "“Sun” could be part of the name." in asked.text
    assert await _stored(sessions) == (0, 0)
    yes, edit = asked.buttons
    assert (yes.label, yes.value) == ("Yes", 'log "Acme" 2026-12-06T15:00+01:00')
    assert (edit.label, edit.value) == ("Edit", "log Acme Sun 3pm")  # the line as typed, to correct
    logged = await coach.handle_text(anna, yes.value)
    assert logged.text.startswith("Logged #1: Acme, Sun 06 Dec 15:00")
    again = await coach.handle_text(anna, yes.value)  # a second click on the same Yes stores nothing more
    assert again.text.startswith("That is stored already") and await _stored(sessions) == (1, 0)
    far = await coach.handle_text(anna, "log Acme dec 11 2030")
    assert far.text.startswith("That is a long way off — did you mean *Acme* on *Fri 11 Dec 09:00*?")
    assert await _stored(sessions) == (1, 0)


async def test_a_snooze_to_a_named_moment(coach, clock, anna) -> None:
    clock.set(clock_of("tue", "Europe/Berlin"))
    await coach.handle_text(anna, "log Acme yesterday 10am")
    await coach.handle_text(anna, "commit 1 ours send the deck by friday")
    snoozed = await coach.handle_text(anna, "later commitment 1 friday 10am")
    assert snoozed.text == "⏰ I'll remind you about commitment #1 again Fri 04 Dec 10:00."
