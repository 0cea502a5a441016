"""kill -9 right after the acknowledgements: nothing a person typed is lost.

``--commands`` signed slash commands go to a replica at once; the moment the last acknowledgement is in,
the replica is SIGKILLed. A new replica starts on the same database. Printed: how many were acknowledged,
applied (once), answered (once), and lost.

    python bench/faults/acks.py [--database-url postgresql+asyncpg://...] [--commands 200]

Without ``--database-url`` it runs on a temporary SQLite file. It empties the database it is given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


async def drill(url: str, count: int, workdir: Path, code: Path, lease: float) -> dict[str, Any]:
    async with harness.fresh(url) as slack, aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
        commands = harness.Commands(slack)
        doomed = await harness.start_replica("doomed", url, slack, workdir, code=code)
        await doomed.ready()
        await asyncio.gather(*(commands.send(http, doomed.url) for _ in range(count)))
        doomed.kill()
        answered_before_kill = sum(1 for c in commands.sent if commands.answers(c))
        await doomed.process.wait()
        # what the killed process held is claimable once its lease runs out (DEALCOACH_LEASE_SECONDS)
        restarted = await harness.start_replica("restarted", url, slack, workdir, code=code)
        await restarted.ready()
        started = time.monotonic()
        await commands.wait_answered(lease + 60)
        took = time.monotonic() - started
        restarted.terminate()
        await restarted.exit_code(30)
        return {
            "answered before the kill": answered_before_kill,
            "seconds until the restarted replica answered the rest": round(took, 2),
            **await commands.tally(url),
        }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/drill.db"
        return await drill(url, args.commands, Path(folder), Path(args.code).resolve(), 30.0)


if __name__ == "__main__":
    parser = harness.arguments(__doc__, postgres=False)
    parser.add_argument("--commands", type=int, default=200)
    arguments = parser.parse_args()
    harness.out(asyncio.run(main(arguments)), arguments.json)
