"""The database goes away under load (PostgreSQL): connections reset, then the server stopped.

1. Resets: ``--commands`` slash commands are acknowledged, then every connection of the replica is
   terminated (``pg_terminate_backend``) every 50 ms for ``--reset-for`` seconds, while it works them off.
   Each acknowledged command must be applied once and answered once.
2. A stop: ``--commands`` more are acknowledged right before the database goes away for ``--stop-for``
   seconds (so they meet it while they are worked off), and commands keep coming at ``--rate`` a second:
   the cluster itself stopped and started again (``--cluster 15/drill``, a throwaway cluster:
   ``pg_createcluster 15 drill -p 5439 --start``), or, without ``--cluster``, every connection cut off by a
   relay in front of the database. No 5xx; a command acknowledged before is applied once and answered
   once; one that could not be stored is answered "not saved" and never applied; the replica recovers
   without a restart.

    python bench/faults/database.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5439/drill \\
        [--cluster 15/drill] [--stop-for 20]

It empties the database's ``public`` schema first: give it a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

TERMINATE = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


async def resets(url: str, count: int, seconds: float, workdir: Path, code: Path) -> dict[str, Any]:
    async with (
        harness.fresh(url) as slack,
        aiohttp.ClientSession() as http,
        harness.replicas(1, url, slack, workdir, code=code) as (replica,),
    ):
        commands = harness.Commands(slack, prefix="Reset")
        await replica.ready()
        await asyncio.gather(*(commands.send(http, replica.url) for _ in range(count)))
        killed, deadline = 0, time.monotonic() + seconds
        engine = harness.engine_for(url)
        try:
            async with engine.connect() as connection:
                while time.monotonic() < deadline:
                    killed += await connection.scalar(harness.text(TERMINATE))
                    await connection.commit()
                    await asyncio.sleep(0.05)
        finally:
            await engine.dispose()
        answered = await commands.wait_answered(60)
        return {"connections terminated": killed, "all answered": answered, **await commands.tally(url)}


async def outage(
    url: str, rate: float, burst: int, seconds: float, cluster: str | None, workdir: Path, code: Path
) -> dict[str, Any]:
    async with harness.fresh(url) as slack:
        return await _outage(slack, url, rate, burst, seconds, cluster, workdir, code)


async def _outage(
    slack: harness.FakeSlack,
    url: str,
    rate: float,
    burst: int,
    seconds: float,
    cluster: str | None,
    workdir: Path,
    code: Path,
) -> dict[str, Any]:
    commands = harness.Commands(slack, prefix="Outage")
    cutter = None
    served_url = url
    if cluster is None:
        target = make_url(url)
        cutter = harness.Cutter(target.port or 5432, target.host or "127.0.0.1")
        await cutter.start()
        served_url = harness.via(url, cutter.port)
    figures: dict[str, Any] = {"how": f"cluster {cluster} stopped" if cluster else "every connection cut by a relay"}
    try:
        async with (
            aiohttp.ClientSession() as http,
            harness.replicas(1, served_url, slack, workdir, code=code) as (replica,),
        ):
            await replica.ready()
            before = 2.0
            load = asyncio.create_task(commands.at_rate(http, replica.url, rate, before + seconds + 3))
            await asyncio.sleep(before)
            await asyncio.gather(*(commands.send(http, replica.url) for _ in range(burst)))  # acked, not yet run
            down = time.monotonic()
            _stop(cluster, cutter)
            readiness = []
            while time.monotonic() - down < seconds:
                readiness.append(await _status(http, replica.url + "/readyz"))
                await asyncio.sleep(0.5)
            _start(cluster, cutter)
            up = time.monotonic()
            recovered = await _until_ready(http, replica.url, 60)
            await load
            figures["/readyz while the database was away"] = sorted(set(readiness))
            back = round(recovered - up, 2) if recovered else None
            figures["seconds from the database's return to /readyz 200"] = back
            figures["all acknowledged commands answered"] = await commands.wait_answered(90)
            figures["replica still the same process (no restart)"] = replica.process.returncode is None
    finally:
        _start(cluster, cutter)
        if cutter is not None:
            await cutter.stop()
    return figures | await commands.tally(url)


def _stop(cluster: str | None, cutter: harness.Cutter | None) -> None:
    if cutter is not None:
        cutter.cut()
    elif cluster:
        version, name = cluster.split("/")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "stop", "-m", "fast"], check=True)


def _start(cluster: str | None, cutter: harness.Cutter | None) -> None:
    if cutter is not None:
        cutter.restore()
    elif cluster:
        version, name = cluster.split("/")
        status = subprocess.run(["pg_ctlcluster", version, name, "status"], capture_output=True)
        if status.returncode != 0:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"], check=True)


async def _status(http: aiohttp.ClientSession, url: str) -> int:
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status
    return 0


async def _until_ready(http: aiohttp.ClientSession, url: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await _status(http, url + "/readyz") == 200:
            return time.monotonic()
        await asyncio.sleep(0.1)
    return None


async def main(args: argparse.Namespace) -> dict[str, Any]:
    code = Path(args.code).resolve()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        figures: dict[str, Any] = {}
        if "resets" in args.only:
            figures["connection resets"] = await resets(args.database_url, args.commands, args.reset_for, workdir, code)
        if "outage" in args.only:
            figures["database away"] = await outage(
                args.database_url, args.rate, args.commands, args.stop_for, args.cluster, workdir, code
            )
        return figures


if __name__ == "__main__":
    parser = harness.arguments(__doc__, postgres=True)
    parser.add_argument(
        "--commands", type=int, default=40, help="acknowledged commands under resets, and before the stop"
    )
    parser.add_argument("--reset-for", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=10.0, help="commands per second during the outage")
    parser.add_argument("--stop-for", type=float, default=20.0)
    parser.add_argument("--cluster", default=None, help="VERSION/NAME of a throwaway cluster to stop and start")
    parser.add_argument("--only", nargs="*", default=["resets", "outage"])
    arguments = parser.parse_args()
    harness.out(asyncio.run(main(arguments)), arguments.json)
