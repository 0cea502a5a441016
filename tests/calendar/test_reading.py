"""Reading calendars (issue 11, Deliver 3): the feeds in the shapes Google and Outlook publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from coaching.calendar.reading import MAX_FEED_BYTES, CalendarError, Skipped, Window, read_calendar
from tests.calendar.conftest import JANE, NOW, feed

GLOBEX_CALL = "5h1oj5u0v8m2a3b4c5d6e7f8g9@google.com"
INITECH = "7kq2initechweekly@google.com"
STANDUP = "0standup2015daily@google.com"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def read(name: str, zone: str = "Europe/Berlin", **kwargs):
    return read_calendar(feed(name), now=NOW, zone=zone, me=[JANE], **kwargs)


def titles(result) -> list[str]:
    return [meeting.title for meeting in result.meetings]


def test_google_single_event_in_utc_is_read_at_its_moment_with_people_and_meet_link():
    meeting = read("google.ics").by_key()[GLOBEX_CALL]
    assert (meeting.start, meeting.end) == (utc(2026, 6, 16, 8), utc(2026, 6, 16, 9))
    assert meeting.title == "Globex — pricing call"
    assert [(p.email, p.name) for p in meeting.people] == [
        ("jane@acme.com", "Jane Doe"),
        ("bob.smith@globex.com", "Bob Smith"),
    ]
    assert meeting.links == ("https://meet.google.com/abc-defg-hij",)
    assert not meeting.recurring


def test_google_series_written_in_utc_follows_x_wr_timezone_across_daylight_saving():
    """Google's stand-up since January 2015: DTSTART 08:30Z (09:30 CET) with X-WR-TIMEZONE Europe/Berlin
    means 09:30 Berlin every day — 07:30Z in June. Read as plain UTC it would be 08:30Z."""
    standups = [m for m in read("google.ics").meetings if m.uid == STANDUP]
    assert standups[0].start == utc(2026, 6, 15, 7, 30)
    assert {m.start.time() for m in standups} == {utc(2026, 6, 15, 7, 30).time()}
    # weekdays of the window only: Mon 15 Jun … Fri 3 Jul, and the keys name each instance
    assert len(standups) == 15
    assert standups[0].key == f"{STANDUP}#20260615T073000Z"


def test_only_the_window_is_read_two_days_back_three_weeks_ahead():
    result = read("google.ics")
    assert result.window == (NOW - timedelta(days=2), NOW + timedelta(days=21))
    assert "Globex negotiation round 2" not in titles(result)  # 1 August
    narrow = read("google.ics", window=Window(before=timedelta(0), after=timedelta(days=1)))
    assert {m.start.date() for m in narrow.meetings} <= {NOW.date(), (NOW + timedelta(days=1)).date()}
    assert GLOBEX_CALL not in narrow.by_key()  # 16 June 08:00Z is past the one-day window


def test_series_with_exdate_and_moved_instance():
    result = read("google.ics")
    initech = {m.key: m for m in result.meetings if m.uid == INITECH}
    # 17 June moved to 18 June 16:00 keeps the key of its original start; 1 July as the rule says
    assert set(initech) == {f"{INITECH}#20260617T120000Z", f"{INITECH}#20260701T120000Z"}
    moved = initech[f"{INITECH}#20260617T120000Z"]
    assert (moved.start, moved.title) == (utc(2026, 6, 18, 14), "Weekly check-in (moved)")
    assert initech[f"{INITECH}#20260701T120000Z"].start == utc(2026, 7, 1, 12)
    # 24 June is removed by EXDATE: cancelled, not merely missing
    assert f"{INITECH}#20260624T120000Z" in result.cancelled


def test_cancelled_events_are_not_meetings_but_their_keys_are_reported():
    result = read("google.ics")
    assert "2globexfollowup@google.com" in result.cancelled  # STATUS:CANCELLED
    assert "Globex follow-up" not in titles(result)


def test_all_day_private_free_and_declined_events_are_skipped():
    result = read("google.ics")
    assert dict(result.skipped) == {Skipped.ALL_DAY: 1, Skipped.PRIVATE: 1, Skipped.FREE: 1, Skipped.DECLINED: 1}
    for title in (
        "Globex contract offsite",
        "Pricing talk with landlord",
        "Focus time: proposal writing",
        "Hooli product demo",
    ):
        assert title not in titles(result)


def test_a_declined_invitation_is_skipped_only_for_the_rep_who_declined():
    other = read_calendar(feed("google.ics"), now=NOW, zone="Europe/Berlin", me=["tom@acme.com"])
    assert "Hooli product demo" in titles(other)
    assert Skipped.DECLINED not in other.skipped


def test_rooms_and_resources_are_not_people():
    meeting = next(m for m in read("google.ics").meetings if m.title == "Pricing review (internal)")
    assert [p.email for p in meeting.people] == ["jane@acme.com", "tom@eu.acme.com"]
    assert meeting.rooms == ("Berlin-3-Orion (8)",)


def test_outlook_published_feed_with_windows_zone_names_and_vtimezone():
    result = read("outlook.ics", zone="America/New_York")  # the rep's zone must not matter: the feed has zones
    meetings = {m.title: m for m in result.meetings}
    assert meetings["Initech contract renewal"].start == utc(2026, 6, 17, 12)  # 14:00 W. Europe (CEST)
    assert meetings["Initech contract renewal"].people == ()  # published feeds carry no ATTENDEE lines
    assert meetings["Hooli proposal review"].start == utc(2026, 6, 16, 8)  # TZID "(UTC+01:00) Amsterdam, Berlin…"
    qbr = sorted((m.key.rpartition("#")[2], m.start) for m in result.meetings if m.title == "Globex QBR")
    # Tuesdays 11:00: 16 June as ruled, 23 June removed (EXDATE), 30 June moved to 1 July 09:00
    assert qbr == [("20260616T090000Z", utc(2026, 6, 16, 9)), ("20260630T090000Z", utc(2026, 7, 1, 7))]
    assert any(key.endswith("#20260623T090000Z") for key in result.cancelled)


def test_outlook_busy_status_free_private_all_day_and_canceled_prefix():
    result = read("outlook.ics")
    assert dict(result.skipped) == {Skipped.FREE: 1, Skipped.PRIVATE: 1, Skipped.ALL_DAY: 1}
    for title in (
        "Proposal writing (hold)",
        "Pricing strategy",
        "RFP deadline Initech",
        "Canceled: Umbrella pricing call",
    ):
        assert title not in titles(result)
    # Outlook keeps a cancelled meeting as "Canceled: …" (free): it is a cancellation, not a meeting
    assert any(key.endswith("9A9A9A9A9A9A9A9A9A9A9A9A9A9A9A9A") for key in result.cancelled)


def test_outlook_busy_status_free_alone_skips_the_event():
    data = feed("outlook.ics").replace(b"TRANSP:TRANSPARENT", b"TRANSP:OPAQUE")
    result = read_calendar(data, now=NOW, zone="UTC")
    assert "Proposal writing (hold)" not in titles(result)


def test_windows_zone_names_without_vtimezone():
    meetings = {m.title: m for m in read("windows-zones.ics").meetings}
    assert meetings["Stark Industries — negotiation"].start == utc(2026, 6, 16, 16)  # 09:00 Pacific (PDT)
    assert meetings["Globex pricing"].start == utc(2026, 6, 17, 7)  # 09:00 W. Europe (CEST)


@pytest.mark.parametrize(("zone", "hour"), [("America/New_York", 14), ("Europe/Berlin", 8), ("Asia/Tokyo", 1)])
def test_floating_times_are_read_in_the_reps_zone(zone: str, hour: int):
    result = read_calendar(feed("floating.ics"), now=NOW, zone=zone)
    single = result.by_key()["floating-1@planner.example"]
    assert single.start == utc(2026, 6, 16, hour)
    assert single.end - single.start == timedelta(hours=1)


def test_floating_series_with_duration_and_exdate():
    result = read_calendar(feed("floating.ics"), now=NOW, zone="America/New_York")
    series = [m for m in result.meetings if m.uid == "floating-series@planner.example"]
    assert [(m.start, m.end - m.start) for m in series] == [
        (utc(2026, 6, 16, 20), timedelta(minutes=45)),
        (utc(2026, 6, 30, 20), timedelta(minutes=45)),
    ]
    assert "floating-series@planner.example#20260623T200000Z" in result.cancelled


def test_keys_are_stable_between_reads_and_unique():
    first, second = read("google.ics"), read("google.ics")
    assert [m.key for m in first.meetings] == [m.key for m in second.meetings]
    assert len({m.key for m in first.meetings}) == len(first.meetings)


CALENDAR = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
{body}END:VCALENDAR\r
"""


def event(lines: str) -> str:
    return "BEGIN:VEVENT\r\n" + "".join(line.strip() + "\r\n" for line in lines.strip().splitlines()) + "END:VEVENT\r\n"


def ics(*events: str, head: str = "") -> bytes:
    return CALENDAR.format(body=head + "".join(events)).encode()


@pytest.mark.parametrize("since", ["19000101", "20150105", "20260601"])
def test_an_old_series_gives_the_instances_its_rule_makes(since: str):
    """A series from 1900 is read from shortly before the window, not from 1900 (bench/calendar_sync.py
    shows the cost): its instances and keys must still be exactly those of its rule, which dateutil,
    walking the rule from its very start, tells independently."""
    berlin = ZoneInfo("Europe/Berlin")
    rule = "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH"
    data = ics(
        event(f"""UID:old
            DTSTART;TZID=Europe/Berlin:{since}T093000
            DTEND;TZID=Europe/Berlin:{since}T094500
            RRULE:{rule}
            SUMMARY:Renewal pipeline""")
    )
    result = read_calendar(data, now=NOW, zone="UTC")
    first = datetime.strptime(since + "T093000", "%Y%m%dT%H%M%S").replace(tzinfo=berlin)
    low, high = result.window
    expected = [
        moment.astimezone(UTC)
        for moment in rrulestr(rule, dtstart=first).between(low - timedelta(minutes=15), high, inc=True)
    ]
    assert expected  # the rule has instances in the window
    assert [m.start for m in result.meetings] == expected
    assert [m.key for m in result.meetings] == [f"old#{moment:%Y%m%dT%H%M%SZ}" for moment in expected]


def test_an_exception_of_an_old_instance_moved_into_the_window_is_read():
    data = ics(
        event("""UID:daily
            DTSTART:20150105T083000Z
            DTEND:20150105T084500Z
            RRULE:FREQ=DAILY
            SUMMARY:Daily"""),
        event("""UID:daily
            RECURRENCE-ID:20260501T083000Z
            DTSTART:20260616T150000Z
            DTEND:20260616T160000Z
            SUMMARY:Moved from May"""),
    )
    moved = read_calendar(data, now=NOW, zone="UTC").by_key()["daily#20260501T083000Z"]
    assert moved.start == utc(2026, 6, 16, 15)


def test_a_series_repeating_every_minute_is_skipped_not_expanded():
    data = ics(
        event("""UID:flood
        DTSTART:19000101T000000Z
        DTEND:19000101T000100Z
        RRULE:FREQ=MINUTELY
        SUMMARY:pricing""")
    )
    result = read_calendar(data, now=NOW, zone="UTC")
    assert result.meetings == ()
    assert result.skipped[Skipped.TOO_FREQUENT] == 1


def test_method_cancel_file_cancels_its_event():
    data = ics(
        event("""UID:invite-1
            DTSTART:20260616T100000Z
            DTEND:20260616T110000Z
            SUMMARY:Globex pricing"""),
        head="METHOD:CANCEL\r\n",
    )
    result = read_calendar(data, now=NOW, zone="UTC")
    assert result.meetings == ()
    assert result.cancelled == {"invite-1"}


def test_events_without_uid_get_a_stable_key():
    data = ics(
        event("""DTSTART:20260616T100000Z
        DTEND:20260616T110000Z
        SUMMARY:Globex pricing""")
    )
    first = read_calendar(data, now=NOW, zone="UTC").meetings
    second = read_calendar(data, now=NOW, zone="UTC").meetings
    assert len(first) == 1 and first[0].key == second[0].key and first[0].key.startswith("nouid-")


def test_a_bad_x_wr_timezone_falls_back_to_utc_times_as_written():
    data = ics(
        event("""UID:x
            DTSTART:20260616T100000Z
            DTEND:20260616T110000Z
            SUMMARY:Globex pricing"""),
        head="X-WR-TIMEZONE:Mars/Olympus_Mons\r\n",
    )
    assert read_calendar(data, now=NOW, zone="UTC").meetings[0].start == utc(2026, 6, 16, 10)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<!DOCTYPE html><html><body>Sign in to continue</body></html>",
        b"BEGIN:VCALENDAR\r\n",
        b"\xff\xfe\x00garbage",
    ],
)
def test_what_is_not_a_calendar_raises_one_clear_error(data: bytes):
    with pytest.raises(CalendarError) as raised:
        read_calendar(data, now=NOW, zone="UTC")
    assert "calendar" in str(raised.value)
    assert "html" not in str(raised.value).lower()  # never quotes the feed


def test_a_broken_event_does_not_lose_the_rest_of_the_feed():
    data = ics(
        event("""UID:broken
            DTSTART:garbage
            SUMMARY:broken"""),
        event("""UID:fine
            DTSTART:20260616T100000Z
            DTEND:20260616T110000Z
            SUMMARY:Globex pricing"""),
    )
    assert [m.key for m in read_calendar(data, now=NOW, zone="UTC").meetings] == ["fine"]


def test_a_feed_larger_than_the_limit_is_refused_unread():
    with pytest.raises(CalendarError, match="larger than 5 MB"):
        read_calendar(b"X" * (MAX_FEED_BYTES + 1), now=NOW, zone="UTC")
