"""Calendar import at scale, through the real sync path: N reps, each subscribed (``calendar <url>``) to a feed
of M events on a loopback provider, then the coach's poll (``Coach.sync_calendars``: feeds claimed with leases,
fetched, read off the event loop, compared with what was imported, negotiations moved, cancelled and added,
nudges re-planned) on a database. Prints feeds/s and events/s for

* subscribe — the first read of every feed (everything is new: negotiations, counterparts, nudges written);
* changed  — a poll after every feed changed (a few meetings moved, one cancelled, one new);
* unchanged — a poll of unchanged feeds (a conditional GET answered 304 each),

the cost of an unchanged feed against a changed one (same run), whether a poll of all N fits in one
``DEALCOACH_CALENDAR_MINUTES`` interval, and what an old series costs to read against a new one.

    python bench/calendar_sync.py                       # 1,000 feeds × 200 events, SQLite in a temporary folder
    python bench/calendar_sync.py --feeds 50 --events 50 --database-url postgresql+asyncpg://postgres@127.0.0.1/bench

The provider runs in the same process (one event loop, the same two cores), so the figures include the
server's own work: they are a floor for a real provider's latency, not a ceiling for throughput. A PostgreSQL
database given with --database-url is emptied first (its schema dropped): use one kept for benches.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from sqlalchemy import func, select, text  # noqa: E402

from adapters.calendar.feed import FeedFetcher  # noqa: E402
from bot.database import make_engine, make_sessions, upgrade  # noqa: E402
from coaching.calendar.negotiations import Rep, counterpart, negotiation  # noqa: E402
from coaching.calendar.reading import read_calendar  # noqa: E402
from coaching.commands import Actor  # noqa: E402
from coaching.engine import Coach  # noqa: E402
from coaching.models import Negotiation, Nudge  # noqa: E402
from coaching.ports import Address  # noqa: E402
from coaching.room import CalendarSetup  # noqa: E402
from coaching.sealing import Cipher  # noqa: E402
from tests.calendar.feedserver import FeedServer, loopback_only  # noqa: E402

NOW = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)
REP = Rep.of(emails=["rep@acme.com"])
ORGS = ("globex.com", "initech.com", "umbrella-corp.com", "hooli.com", "wayne-enterprises.com", "acme.com")


def feed_body(index: int, events: int, since: str = "20260101", edit: int = 0) -> bytes:
    """A Google-shaped feed: X-WR-TIMEZONE, UTC single events, weekly series in a zone with an EXDATE,
    attendees inside and outside, one event in five a series. ``edit`` > 0: the same feed a while later —
    three single events moved by ``edit`` hours, one cancelled, one added."""
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:rep{index}@acme.com",
        "X-WR-TIMEZONE:Europe/Berlin",
    ]
    for n in range(events):
        org = ORGS[(index + n) % len(ORGS)]
        day = NOW + timedelta(days=(n * 7919) % 40 - 10, hours=(n % 9))
        if edit and n % 5 and n % 67 in (1, 2, 3):
            day += timedelta(hours=edit)
        lines += ["BEGIN:VEVENT", f"UID:{index}-{n}@google.com", f"SUMMARY:Meeting {n} with {org.split('.')[0]}"]
        if edit and n % 67 == 4:
            lines.append("STATUS:CANCELLED")
        if n % 5 == 0:
            lines += [
                f"DTSTART;TZID=Europe/Berlin:{since}T{9 + n % 8:02d}0000",
                f"DTEND;TZID=Europe/Berlin:{since}T{9 + n % 8:02d}3000",
                "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
                "EXDATE;TZID=Europe/Berlin:20260617T090000",
            ]
        else:
            lines += [f"DTSTART:{day:%Y%m%dT%H%M00Z}", f"DTEND:{day + timedelta(hours=1):%Y%m%dT%H%M00Z}"]
        lines += [
            "ORGANIZER;CN=Rep:mailto:rep@acme.com",
            f"ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;CN=Someone:mailto:someone{n}@{org}",
            "ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;CN=Rep:mailto:rep@acme.com",
            "LOCATION:https://meet.google.com/abc-defg-hij" if n % 2 else "LOCATION:",
            "STATUS:CONFIRMED",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    if edit:
        later = NOW + timedelta(days=3, hours=edit)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{index}-new{edit}@google.com",
            "SUMMARY:Pricing call with Hooli",
            f"DTSTART:{later:%Y%m%dT%H%M00Z}",
            f"DTEND:{later + timedelta(hours=1):%Y%m%dT%H%M00Z}",
            "ORGANIZER;CN=Rep:mailto:rep@acme.com",
            "ATTENDEE;PARTSTAT=ACCEPTED;CN=Gavin:mailto:gavin@hooli.com",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


class Clock:
    def __init__(self) -> None:
        self.current = NOW

    def now(self) -> datetime:
        return self.current


@dataclass
class Round:
    label: str
    feeds: int
    seconds: float
    detail: str = ""


def report(row: Round, events: int) -> None:
    print(
        f"{row.label:<10} {row.feeds:>6} feeds in {row.seconds:8.2f} s  {row.feeds / row.seconds:8.1f} feeds/s  "
        f"{row.feeds * events / row.seconds:9.0f} events/s  {row.seconds / row.feeds * 1000:7.1f} ms/feed  {row.detail}"
    )


def read_and_pick(body: bytes) -> int:
    result = read_calendar(body, now=NOW, zone="Europe/Berlin", me=REP.emails)
    for meeting in result.meetings:
        if negotiation(meeting, REP).negotiation:
            counterpart(meeting, REP)
    return len(result.meetings)


def series_cost(events: int, rounds: int = 5) -> None:
    """The same feed with its series starting this January and in January 2015 (read only, no fetch):
    the best of ``rounds`` reads each, interleaved so that load from elsewhere hits both alike."""
    bodies = {since: feed_body(0, events, since) for since in ("20260101", "20150105")}
    best = dict.fromkeys(bodies, float("inf"))
    for _ in range(rounds):
        for since, body in bodies.items():
            started = time.perf_counter()
            read_and_pick(body)
            best[since] = min(best[since], time.perf_counter() - started)
    for since, seconds in best.items():
        print(f"read one feed of {events} events, series since {since}: {seconds * 1000:6.1f} ms")


async def database(url: str | None) -> str:
    if url is None:
        return f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='dealcoach-bench-')) / 'calendar.db'}"
    if url.startswith("postgresql"):
        engine = make_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    return url


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="subscribes at once (the poll's own is 20)")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    url = await database(args.database_url)
    engine = make_engine(url)
    await upgrade(engine)
    sessions = make_sessions(engine)
    server = await FeedServer().start()
    clock = Clock()
    interval = timedelta(minutes=15)
    paths = [f"/calendar/ical/rep{i}%40acme.com/private-{i:08x}/basic.ics" for i in range(args.feeds)]
    for index, path in enumerate(paths):
        server.publish(path, feed_body(index, args.events))
    size = sum(len(feed.body) for feed in server.feeds.values()) / len(server.feeds)
    print(
        f"{args.feeds} feeds × {args.events} events ({size / 1024:.0f} kB each) on {engine.dialect.name}, "
        f"{os.cpu_count()} cores"
    )
    rounds: list[Round] = []
    try:
        async with FeedFetcher(allow_private=True, connect_guard=loopback_only) as fetcher:
            setup = CalendarSetup(feeds=fetcher, cipher=Cipher("bench key"), interval=interval, allow_private=True)
            coach = Coach(sessions, clock, calendar=setup)
            slots = asyncio.Semaphore(args.concurrency)

            async def subscribe(index: int) -> None:
                actor = Actor(Address("console", "local", f"rep{index}"), timezone="Europe/Berlin",
                              email=f"rep{index}@acme.com")  # fmt: skip
                async with slots:
                    reply = await coach.handle_text(actor, f"calendar {server.url(paths[index])}")
                assert not reply.is_error, reply.text

            started = time.perf_counter()
            await asyncio.gather(*(subscribe(i) for i in range(args.feeds)))
            async with sessions() as session:
                negotiations = await session.scalar(select(func.count()).select_from(Negotiation)) or 0
                nudges = await session.scalar(select(func.count()).select_from(Nudge)) or 0
            detail = f"{negotiations / args.feeds:.0f} negotiations and {nudges / args.feeds:.0f} nudges per feed"
            rounds.append(Round("subscribe", args.feeds, time.perf_counter() - started, detail))

            for edit, label in ((2, "changed"), (0, "unchanged"), (4, "changed"), (0, "unchanged")):
                if edit:
                    for index, path in enumerate(paths):
                        server.publish(path, feed_body(index, args.events, edit=edit), version=edit)
                clock.current += interval
                before = len(server.requests)
                started = time.perf_counter()
                result = await coach.sync_calendars(worker="bench")
                seconds = time.perf_counter() - started
                assert result.claimed == args.feeds, result
                assert len(server.requests) - before == args.feeds  # each feed fetched once
                outcome = f"changed {result.changed}, unchanged {result.unchanged}, failed {result.failed}"
                rounds.append(Round(label, result.claimed, seconds, outcome))
    finally:
        await server.stop()
        await engine.dispose()
    for row in rounds:
        report(row, args.events)
    changed = statistics.median(r.seconds for r in rounds if r.label == "changed")
    unchanged = statistics.median(r.seconds for r in rounds if r.label == "unchanged")
    print(
        f"an unchanged feed (304) costs {unchanged / changed:.2f}× a changed one ({changed / unchanged:.1f}× cheaper)"
    )
    worst = max(r.seconds for r in rounds if r.label != "subscribe")
    print(
        f"slowest poll of {args.feeds} feeds: {worst:.1f} s = {worst / interval.total_seconds():.1%} of the "
        f"{interval.total_seconds() / 60:.0f}-minute interval: "
        + ("fits" if worst < interval.total_seconds() else "DOES NOT FIT")
    )
    series_cost(args.events)


if __name__ == "__main__":
    asyncio.run(main())
