"""A Google-shaped feed written around any "now" (tests that run ``dealcoach chat`` use the real clock): two
meetings with customers, two among colleagues — and the same feed after the rep's week changed (Globex moved
to the afternoon, Initech cancelled)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def _event(uid: str, title: str, start: datetime, minutes: int, people: list[str], extra: list[str]) -> list[str]:
    utc = ZoneInfo("UTC")
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTART:{start.astimezone(utc):%Y%m%dT%H%M%SZ}",
        f"DTEND:{(start + timedelta(minutes=minutes)).astimezone(utc):%Y%m%dT%H%M%SZ}",
        "DTSTAMP:20260101T000000Z",
        "ORGANIZER;CN=Anna:mailto:anna@acme.com",
        *(f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:{p}" for p in people),
        f"SUMMARY:{title}",
        "TRANSP:OPAQUE",
        *extra,
        "END:VEVENT",
    ]
    return lines


def days_ahead(now: datetime) -> tuple[date, date]:
    """The two days the meetings are on: the next two days after ``now`` in Berlin."""
    today = now.astimezone(BERLIN).date()
    return today + timedelta(days=1), today + timedelta(days=2)


def week_feed(now: datetime, *, edited: bool = False) -> bytes:
    first, second = days_ahead(now)

    def at(day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=BERLIN)

    me = "anna@acme.com"
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:anna@acme.com",
        "X-WR-TIMEZONE:Europe/Berlin",
    ]
    lines += _event(
        "globex-pricing@google.com",
        "Globex — pricing call",
        at(first, 15 if edited else 10),
        60,
        [me, "bob.smith@globex.com"],
        ["LOCATION:https://meet.google.com/abc-defg-hij"],
    )
    lines += _event("team-sync@google.com", "Team sync", at(first, 11), 30, [me, "tom@acme.com"], [])
    lines += _event(
        "initech-contract@google.com",
        "Contract review",
        at(second, 14),
        45,
        [me, "alice.ng@initech.com"],
        ["STATUS:CANCELLED"] if edited else ["LOCATION:+49 30 1234 5678"],
    )
    lines += _event("standup@google.com", "Daily stand-up", at(second, 9), 15, [me, "tom@acme.com", "li@acme.com"], [])
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()
