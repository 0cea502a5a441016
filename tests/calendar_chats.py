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
