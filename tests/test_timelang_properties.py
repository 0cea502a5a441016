"""Properties of the time language (hypothesis): no phrase stores a moment without an echo, every echo reads
back to the same moment, a question's words answer it exactly, and no typed text raises anything but a
CommandError (so "Sorry, something went wrong" is not reachable from a typed time)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching import commands as c
from coaching import timelang as tl
from coaching.parser import CommandError, Context, parse_command
from tests.conftest import make_actor

ACTOR = make_actor()
ZONES = [ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
WORDS = (
    "today tomorrow tmrw tmw yesterday tonight friday fri Friday monday tue sunday Sun next this last coming week "
    "in 3 20 90 1.5 days day minutes min hours hour an a at on by the 9 14 23 0 12 3pm 3 pm 15:30 9:30am 12am noon "
    "midnight morning afternoon evening night dec December 11 11th 1st of 2026 2027 2029 2026-12-11 "
    "2026-12-11T14:00 2026-10-25T02:30+02:00 11.12. 6.12 12/11 25/12 from now ago tomorow firday tmorow eod utc "
    "gmt+1 May March Acme 3M Corp half and o'clock feb 30 25:00 14:75 99999999 9999-12-31 x"
).split()
phrases = st.lists(st.sampled_from(WORDS) | st.integers(0, 40).map(str), min_size=1, max_size=6).map(" ".join)
clocks = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
zones = st.sampled_from(ZONES)
ECHO = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)( \d{4})? \d\d:\d\d"
    r"( \(UTC[+-]\d\d:\d\d\))?"
)
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(text: str, now: datetime, tz: ZoneInfo) -> c.Command:
    return parse_command(ACTOR, text, Context(now=now, tz=tz))


def assert_echo_reads_back(moment: datetime, now: datetime, tz: ZoneInfo) -> None:
    echo = tl.say_moment(moment, tz, now)
    match = ECHO.fullmatch(echo)
    assert match, echo
    assert bool(match[3]) == (moment.astimezone(tz).year != now.astimezone(tz).year), echo  # the year when not this
    again = parse(f"log Acme {echo}", now, tz)
    assert isinstance(again, c.LogNegotiation), (echo, again)
    assert again.when == moment, echo


@FAST
@given(phrases, clocks, zones)
def test_a_stored_moment_always_has_an_echo_that_reads_back(phrase: str, now: datetime, tz: ZoneInfo) -> None:
    reading = tl.read_when(phrase, now=now, tz=tz)
    if isinstance(reading, tl.Moment):
        assert reading.echo == tl.say_moment(reading.at, tz, now)
    try:
        command = parse(f"log Acme {phrase}", now, tz)
    except CommandError as problem:
        assert problem.message and "went wrong" not in problem.message
        return
    if isinstance(command, c.ConfirmMoment):  # nothing stored; its words run the proposal with no question
        assert parse(command.text, now, tz) == command.command
        assert isinstance(command.command, c.LogNegotiation)
        command = command.command
    assert isinstance(command, c.LogNegotiation)
    assert command.when.second == 0 and command.when.tzinfo is not None
    assert_echo_reads_back(command.when, now, tz)


@FAST
@given(clocks, st.integers(-360 * 24 * 60, 720 * 24 * 60), zones)
def test_any_moment_said_back_reads_back_even_on_dst_nights(now: datetime, minutes: int, tz: ZoneInfo) -> None:
    moment = (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    assert_echo_reads_back(moment, now, tz)


TEMPLATES = (
    "{}",
    "log Acme {}",
    "log {}",
    "reschedule 1 {}",
    "commit 1 ours send it by {}",
    "coffee Acme {}",
    "later note 1 {}",
    "later commitment 2 {}",
    "digest {}",
    "settings quiet {}",
    "settings dates {}",
)


@FAST
@given(st.sampled_from(TEMPLATES), st.text(max_size=60) | phrases, clocks, zones)
def test_no_typed_text_raises_anything_but_a_command_error(
    template: str, text: str, now: datetime, tz: ZoneInfo
) -> None:
    try:
        command = parse(template.format(text), now, tz)
    except CommandError:
        return
    if isinstance(command, c.ConfirmMoment):
        assert parse(command.text, now, tz) == command.command
