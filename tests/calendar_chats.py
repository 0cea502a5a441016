"""What the Slack and Teams calendar tests share: a coach that reads feeds, and a provider on loopback serving
the Google fixture at a secret address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from adapters.calendar.feed import FeedFetcher
from coaching.engine import Coach
from coaching.room import CalendarSetup
from coaching.sealing import Cipher
from tests.calendar.feedserver import FeedServer

FEEDS = Path(__file__).parent / "calendar" / "feeds"


def feed(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@asynccontextmanager
async def feeding_coach(sessions, clock) -> AsyncIterator[Coach]:
    """The coach of an install that reads feeds, loopback allowed (DEALCOACH_CALENDAR_ALLOW_PRIVATE=1)."""
    async with FeedFetcher(allow_private=True) as feeds:
        setup = CalendarSetup(feeds=feeds, cipher=Cipher("test-key"), allow_private=True)
        yield Coach(sessions, clock, calendar=setup)


@asynccontextmanager
async def provider_at(path: str) -> AsyncIterator[FeedServer]:
    server = await FeedServer().start()
    server.publish(path, feed("google.ics"))
    try:
        yield server
    finally:
        await server.stop()


# One meeting among colleagues at acme.com (with a keyword in its title) and one without attendee lines: nobody
# is on two meetings, so the calendar's owner cannot be told from it — only the profile email says acme.com is
# the rep's own domain.
COLLEAGUES_ONLY = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
BEGIN:VEVENT\r
DTSTART:20260616T090000Z\r
DTEND:20260616T100000Z\r
DTSTAMP:20260615T055501Z\r
UID:pricing-review-internal@google.com\r
ORGANIZER;CN=Jane Doe:mailto:jane@acme.com\r
ATTENDEE;PARTSTAT=ACCEPTED;CN=Jane Doe:mailto:jane@acme.com\r
ATTENDEE;PARTSTAT=ACCEPTED;CN=Tom Lee:mailto:tom@acme.com\r
SUMMARY:Pricing review\r
STATUS:CONFIRMED\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20260617T120000Z\r
DTEND:20260617T130000Z\r
DTSTAMP:20260615T055501Z\r
UID:initech-contract@google.com\r
SUMMARY:Initech contract call\r
STATUS:CONFIRMED\r
END:VEVENT\r
END:VCALENDAR\r
"""
