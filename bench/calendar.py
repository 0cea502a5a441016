"""Calendar import at scale: N feeds × M events on a loopback provider, fetched and read the way a poll
does (fetch, read off the event loop, pick the negotiations). Prints feeds/s and events/s for changed
feeds (200 with a body), the cost of an unchanged one (a conditional GET answered 304), and what an old
series costs against a new one.

    python bench/calendar.py                       # 1,000 feeds × 200 events
    python bench/calendar.py --feeds 50 --events 50

The provider runs in the same process (one event loop, the same two cores), so the figures include the
server's own work: they are a floor for a real provider's latency, not a ceiling for throughput.

Stages are functions of one feed (``fetch_and_read`` today); the full sync — writing negotiations —
adds a stage after it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is called calendar.py: run as a script, its folder comes first on sys.path and would shadow
# the standard library's ``calendar`` (http.cookiejar, email, aiohttp import it). Out with it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from adapters.calendar.feed import FeedFetcher, FeedLimits  # noqa: E402
from coaching.calendar.negotiations import Rep, counterpart, negotiation  # noqa: E402
from coaching.calendar.reading import read_calendar  # noqa: E402
from coaching.ports import FeedOutcome  # noqa: E402
from tests.calendar.feedserver import FeedServer, loopback_only  # noqa: E402

NOW = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)
REP = Rep.of(emails=["rep@acme.com"])
ORGS = ("globex.com", "initech.com", "umbrella-corp.com", "hooli.com", "wayne-enterprises.com", "acme.com")


def feed_body(index: int, events: int, since: str = "20260101") -> bytes:
    """A Google-shaped feed: X-WR-TIMEZONE, UTC single events, weekly series in a zone with an EXDATE,
    attendees inside and outside, one event in five a series."""
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
        lines += ["BEGIN:VEVENT", f"UID:{index}-{n}@google.com", f"SUMMARY:Meeting {n} with {org.split('.')[0]}"]
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
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass
class Feed:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Tally:
    feeds: int = 0
    meetings: int = 0
    negotiations: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


def read_and_pick(body: bytes) -> tuple[int, int]:
    """The CPU part of a sync, run in a thread: read the window, pick the negotiations and counterparts."""
    result = read_calendar(body, now=NOW, zone="Europe/Berlin", me=REP.emails)
    picked = 0
    for meeting in result.meetings:
        if negotiation(meeting, REP).negotiation:
            counterpart(meeting, REP)
            picked += 1
    return len(result.meetings), picked


async def fetch_and_read(fetcher: FeedFetcher, feed: Feed, tally: Tally) -> None:
    started = time.perf_counter()
    result = await fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
    tally.outcomes[str(result.outcome)] = tally.outcomes.get(str(result.outcome), 0) + 1
    if result.outcome is FeedOutcome.CHANGED:
        feed.etag, feed.last_modified = result.etag, result.last_modified
        meetings, picked = await asyncio.to_thread(read_and_pick, result.body)
        tally.meetings += meetings
        tally.negotiations += picked
    tally.feeds += 1
    tally.latencies.append(time.perf_counter() - started)


async def poll(fetcher: FeedFetcher, feeds: list[Feed], concurrency: int) -> tuple[Tally, float]:
    """One poll of every feed, ``concurrency`` at a time (as the scheduler would claim them)."""
    tally = Tally()
    queue: asyncio.Queue[Feed] = asyncio.Queue()
    for feed in feeds:
        queue.put_nowait(feed)

    async def worker() -> None:
        while not queue.empty():
            await fetch_and_read(fetcher, queue.get_nowait(), tally)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally, time.perf_counter() - started


def report(label: str, tally: Tally, seconds: float, events_per_feed: int) -> None:
    latencies = sorted(tally.latencies)
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000 if len(latencies) > 1 else p50
    print(
        f"{label:<10} {tally.feeds:>6} feeds in {seconds:7.2f} s  {tally.feeds / seconds:8.1f} feeds/s  "
        f"{tally.feeds * events_per_feed / seconds:9.0f} events/s  {tally.meetings / seconds:8.0f} meetings/s  "
        f"{seconds / tally.feeds * 1000:6.1f} ms/feed  (latency p50 {p50:.1f} ms p95 {p95:.1f} ms)  {tally.outcomes}"
    )


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()

    server = await FeedServer().start()
    feeds = []
    for index in range(args.feeds):
        path = f"/calendar/ical/rep{index}%40acme.com/private-{index:08x}/basic.ics"
        server.publish(path, feed_body(index, args.events))
        feeds.append(Feed(server.url(path)))
    size = sum(len(feed.body) for feed in server.feeds.values()) / len(server.feeds)
    print(f"{args.feeds} feeds × {args.events} events ({size / 1024:.0f} kB each), concurrency {args.concurrency}")
    try:
        async with FeedFetcher(allow_private=True, connect_guard=loopback_only, limits=FeedLimits()) as fetcher:
            tally, seconds = await poll(fetcher, feeds, args.concurrency)
            report("changed", tally, seconds, args.events)
            negotiations = tally.negotiations / max(tally.feeds, 1)
            tally, seconds = await poll(fetcher, feeds, args.concurrency)
            report("unchanged", tally, seconds, args.events)
        print(f"negotiations picked per feed: {negotiations:.1f}")
    finally:
        await server.stop()
    series_cost(args.events)


if __name__ == "__main__":
    asyncio.run(main())
