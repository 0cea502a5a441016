"""A feed edited between two reads (Deliver 6 and 10): the differences by meeting key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from coaching.calendar.changes import compare
from coaching.calendar.reading import read_calendar
from tests.calendar.conftest import JANE, NOW, feed

GLOBEX_CALL = "5h1oj5u0v8m2a3b4c5d6e7f8g9@google.com"
INITECH = "7kq2initechweekly@google.com"
UMBRELLA = "9umbrellathursdays@google.com"


def read(name: str, now: datetime = NOW):
    return read_calendar(feed(name), now=now, zone="Europe/Berlin", me=[JANE])


def test_an_unchanged_feed_has_no_changes():
    before = read("google.ics")
    changes = compare(before.meetings, read("google.ics"))
    assert not changes
    assert set(changes.unchanged) == {m.key for m in before.meetings}


def test_the_first_read_finds_everything_new():
    read_once = read("google.ics")
    assert [m.key for m in compare([], read_once).new] == [m.key for m in read_once.meetings]


def test_a_feed_edited_between_two_reads():
    """google-edited.ics, against google.ics: the Globex call moved 10:00 → 15:00; the Initech instance
    already moved to 18 June moved again, to 19 June; its 1 July instance cancelled; a new exception
    moves Umbrella's 25 June to 26 June; the Wayne call deleted; a Globex signing added."""
    before, after = read("google.ics"), read("google-edited.ics")
    changes = compare(before.meetings, after)
    moved = {m.key: m.start for m in changes.moved}
    assert moved == {
        GLOBEX_CALL: datetime(2026, 6, 16, 13, tzinfo=UTC),
        f"{INITECH}#20260617T120000Z": datetime(2026, 6, 19, 7, tzinfo=UTC),
        f"{UMBRELLA}#20260625T090000Z": datetime(2026, 6, 26, 9, tzinfo=UTC),
    }
    assert changes.cancelled == (f"{INITECH}#20260701T120000Z",)
    assert changes.gone == ("5waynecall@google.com",)
    assert [m.key for m in changes.new] == ["0globexsigning@google.com"]
    # everything else, the stand-ups included, stayed put
    untouched = {m.key for m in before.meetings} - set(moved) - set(changes.cancelled) - set(changes.gone)
    assert set(changes.unchanged) == untouched


def test_known_meetings_outside_the_new_window_are_neither_gone_nor_cancelled():
    """A week later the Globex call of 16 June lies before the window: absent from the read, it is not gone."""
    before = read("google.ics")
    later = read("google.ics", now=NOW + timedelta(days=7))
    changes = compare(before.meetings, later)
    assert GLOBEX_CALL not in changes.gone
    assert all(before.by_key()[key].end >= later.window[0] for key in changes.gone)


@dataclass(frozen=True)
class Row:  # what the sync will have stored: any object with key, start and end
    key: str
    start: datetime
    end: datetime


def test_stored_rows_compare_like_meetings():
    after = read("google-edited.ics")
    call = read("google.ics").by_key()[GLOBEX_CALL]
    changes = compare([Row(call.key, call.start, call.end), Row("someone-else@x", NOW, NOW)], after)
    assert [m.key for m in changes.moved] == [GLOBEX_CALL]
    assert changes.gone == ("someone-else@x",)
