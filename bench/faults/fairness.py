"""Fairness: one person's burst of commands does not hold up everyone else's answers.

Person A sends ``--burst`` signed slash commands at once; ``--after`` seconds later ``--others`` other
people start sending one command each, spread over ``--spread`` seconds, while A's burst is being worked
off. For each of them: the delay from their acknowledgement to their answer reaching the fake Slack's
``response_url``, next to the same people's commands on the same replica while it was idle (the baseline
measured in the same run), and how many of A's answers went out before theirs.

    python bench/faults/fairness.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5440/drill
    python bench/faults/fairness.py ... --code /tmp/fifo     # e.g. the inbox before its round-robin

It empties the database's ``public`` schema first: give it a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

BURSTER = "UBURST"


@dataclass
class Timed:
    hook: str
    acked_at: float
    ack_ms: float
    status: int
    body: str


async def command(http: aiohttp.ClientSession, url: str, slack: harness.FakeSlack, user: str, text: str) -> Timed:
    hook = f"{user}-{text.split()[1]}"
    body, headers = harness.signed_command(text, user=user, response_url=slack.hook(hook))
    sent = time.monotonic()
    status, answer = await harness.post_command(http, url, body, headers)
    acked = time.monotonic()
    return Timed(hook, acked, (acked - sent) * 1000, status, answer)


async def others(
    http: aiohttp.ClientSession, url: str, slack: harness.FakeSlack, count: int, spread: float, word: str
) -> list[Timed]:
    """One command from each of ``count`` people, ``spread / count`` seconds apart."""
    tasks = []
    for j in range(count):
        text = f"log {word}{j:03d} 2026-12-16 11:00"
        tasks.append(asyncio.create_task(command(http, url, slack, f"UOTHER{j:03d}", text)))
        await asyncio.sleep(spread / max(count, 1))
    return list(await asyncio.gather(*tasks))


def delays(slack: harness.FakeSlack, sent: list[Timed]) -> list[float]:
    """Seconds from each acknowledgement to its answer (an unanswered one counts as infinitely late)."""
    return [slack.answered_at.get(t.hook, float("inf")) - t.acked_at for t in sent]


def summary(values: list[float], scale: float = 1.0, digits: int = 3) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered) * scale, digits),
        "p90": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * scale, digits),
        "max": round(ordered[-1] * scale, digits),
    }


async def drill(url: str, args: argparse.Namespace, workdir: Path, code: Path) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with (
        harness.fresh(url, migrated=False) as slack,  # the replica migrates (its own checkout's migrations)
        aiohttp.ClientSession(connector=connector) as http,
        harness.replicas(1, url, slack, workdir, code=code) as (replica,),
    ):
        await replica.ready()
        warm = await command(http, replica.url, slack, "UWARM", "log Warmup 2026-12-16 11:00")
        await slack.wait(lambda: warm.hook in slack.answered_at, 30)

        idle = await others(http, replica.url, slack, args.others, args.spread, "Calm")
        await slack.wait(lambda: all(t.hook in slack.answered_at for t in idle), 60)

        started = time.monotonic()
        texts = [f"log Burst{i:05d} 2026-12-15 10:00" for i in range(args.burst)]
        burst = asyncio.gather(*(command(http, replica.url, slack, BURSTER, text) for text in texts))
        await asyncio.sleep(args.after)
        busy = await others(http, replica.url, slack, args.others, args.spread, "Busy")
        mine = await burst
        everyone = [*mine, *busy]
        await slack.wait(lambda: all(t.hook in slack.answered_at for t in everyone if t.status == 200), 600)
        finished = max(slack.answered_at.get(t.hook, 0.0) for t in mine)
        replica.terminate()
        await replica.exit_code(30)

        ahead = [
            sum(1 for t in mine if slack.answered_at.get(t.hook, float("inf")) < slack.answered_at.get(o.hook, 0.0))
            for o in busy
        ]
        last_ack = max(t.acked_at for t in mine)
        return {
            "code": str(code),
            "A's burst (commands at once)": args.burst,
            "A acknowledged": sum(1 for t in mine if t.status == 200 and not t.body),
            "5xx or refused": sum(1 for t in everyone if t.status >= 500 or t.status == 0),
            "seconds to acknowledge A's burst": round(last_ack - started, 2),
            "seconds until A's last answer": round(finished - started, 2),
            "others' commands (one each)": args.others,
            "others answered": sum(1 for t in [*idle, *busy] if t.hook in slack.answered_at),
            "others, idle server: s from ack to answer": summary(delays(slack, idle)),
            "others, during A's burst: s from ack to answer": summary(delays(slack, busy)),
            "others, during A's burst: ack ms": summary([t.ack_ms / 1000 for t in busy], 1000, 1),
            "A's answers sent before each other's answer": {
                "median": statistics.median(ahead),
                "max": max(ahead),
            },
        }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        return await drill(args.database_url, args, Path(folder), Path(args.code).resolve())


if __name__ == "__main__":
    parser = harness.arguments(__doc__, postgres=True)
    parser.add_argument("--burst", type=int, default=2000, help="commands person A sends at once")
    parser.add_argument("--others", type=int, default=10, help="other people, one command each")
    parser.add_argument("--after", type=float, default=0.5, help="seconds after the burst the others start")
    parser.add_argument("--spread", type=float, default=2.0, help="seconds over which the others' commands arrive")
    parser.add_argument("--connections", type=int, default=100, help="the client's open connections at most")
    arguments = parser.parse_args()
    harness.out(asyncio.run(main(arguments)), arguments.json)
