"""SIGTERM under load: what ``docker stop`` and every rolling deploy send.

A replica answers ``--rate`` slash commands a second and sends ``--reminders`` due nudges; after
``--before`` seconds it gets SIGTERM while the commands keep coming. Printed: how soon ``/readyz`` said
503, how many commands were still accepted after the signal, the exit code and how long the exit took,
the claims left in the database, and — after a successor replica took over what was released — whether
every acknowledged command was applied and answered exactly once and every nudge sent exactly once.

    python bench/faults/sigterm.py [--database-url postgresql+asyncpg://...] [--rate 100] [--reminders 2000]

Without ``--database-url`` it runs on a temporary SQLite file. It empties the database it is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


async def drill(url: str, rate: float, reminders: int, before: float, workdir: Path, code: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with harness.fresh(url) as slack, aiohttp.ClientSession() as http:
        commands = harness.Commands(slack)
        replica = await harness.start_replica("stopping", url, slack, workdir, code=code)
        await replica.ready()
        expected = await harness.seed_reminders(url, reminders, kind="followup")  # cheap: many sends in flight
        load = asyncio.create_task(commands.at_rate(http, replica.url, rate, before + 6))
        await asyncio.sleep(before)
        replica.terminate()
        signalled = time.monotonic()
        while (status := await _readyz(http, replica.url)) == 200 and time.monotonic() - signalled < 5:
            await asyncio.sleep(0.005)
        waited = round((time.monotonic() - signalled) * 1000, 1)
        figures["ms from SIGTERM to /readyz 503"] = waited if status == 503 else f"never 503 (got {status})"
        exit_code = await replica.exit_code(30)
        figures["exit code"] = exit_code
        figures["seconds from SIGTERM to exit"] = round(time.monotonic() - signalled, 2)
        figures["claims left at exit"] = await harness.claims_left(url)
        figures["nudges sent by the stopping replica"] = len(slack.deliveries)
        await load
        after = [c for c in commands.sent if c.at >= signalled]
        figures["commands accepted after SIGTERM"] = sum(1 for c in after if c.acked)
        figures["refused after the listener closed"] = sum(1 for c in after if c.status == 0)
        # the next replica (or another one) takes over what was released, at once
        successor = await harness.start_replica("successor", url, slack, workdir, code=code)
        await successor.ready()
        resumed = time.monotonic()
        await commands.wait_answered(30)
        await slack.wait(lambda: set(d.key.split("|", 1)[0] for d in slack.deliveries) >= expected, 30)
        figures["successor: seconds until everything was answered and sent"] = round(time.monotonic() - resumed, 2)
        successor.terminate()
        await successor.exit_code(30)
        users = await harness.delivered_users(slack)
        figures |= await commands.tally(url)
        figures["nudges expected"] = reminders
        figures["nudges sent once"] = sum(1 for u in expected if users.get(u) == 1)
        figures["nudges sent twice or more"] = sum(1 for u in expected if users.get(u, 0) > 1)
        figures["nudges never sent"] = sum(1 for u in expected if u not in users)
    return figures


async def _readyz(http: aiohttp.ClientSession, url: str) -> int:
    with contextlib.suppress(aiohttp.ClientError, OSError):
        async with http.get(url + "/readyz") as response:
            return response.status
    return 0


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/drill.db"
        return await drill(url, args.rate, args.reminders, args.before, Path(folder), Path(args.code).resolve())


if __name__ == "__main__":
    parser = harness.arguments(__doc__, postgres=False)
    parser.add_argument("--rate", type=float, default=100.0, help="slash commands per second")
    parser.add_argument("--reminders", type=int, default=2000)
    parser.add_argument("--before", type=float, default=2.0, help="seconds of load before the SIGTERM")
    arguments = parser.parse_args()
    harness.out(asyncio.run(main(arguments)), arguments.json)
