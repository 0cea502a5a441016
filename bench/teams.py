"""Teams throughput: DealCoach's pooled adapter vs the stock botbuilder CloudAdapter, in one run.

    python bench/teams.py [--requests 2000] [--concurrency 1 16 64] [--coach stub real]

For each variant a bot server runs in its own process (so it has a core to itself) in emulator mode;
this process plays Teams: it posts `list` message activities to /api/messages and runs the fake
connector the bot replies to (POST /v3/conversations/.../activities). Loopback only.

* ``stock``  — ``CloudAdapter(ConfigurationBotFrameworkAuthentication(config)).process(request, bot)``
* ``pooled`` — ``adapters.teams.setup``: the same SDK, with connector clients reused (see connector.py)

``--coach stub`` answers `list` with a canned card (measures the adapter); ``--coach real`` runs the real
coach on a migrated SQLite file with a few negotiations logged (measures what a user would see).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, TCPConnector, web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --- the bot server (child process) ---------------------------------------------------------------


class StubCoach:
    """Answers like the coach would, without a database: the adapter's cost alone."""

    def __init__(self) -> None:
        from coaching.messages import Button, Message, Section

        self.reply = Message(
            text="Your negotiations",
            sections=(
                Section(heading="#1 Acme", lines=("Thu 26 Nov 15:00 (60 min, video)",)),
                Section(heading="#2 Globex", lines=("Fri 27 Nov 10:00 (30 min, phone)",)),
            ),
            buttons=(Button("Prep brief", "negotiation.prep", "prep 1"),),
        )

    async def handle_text(self, actor: Any, text: str, *, also: Any = None, shared: bool = False) -> Any:
        return self.reply

    async def handle(self, command: Any) -> Any:
        return self.reply

    async def upsert_user(self, actor: Any, *, channel: Any = None, conversation_ref: Any = None) -> None:
        return None

    async def conversation_ref(self, address: Any) -> None:
        return None

    async def forget_user(self, address: Any) -> None:
        return None


async def _real_coach(db_path: str) -> Any:
    from bot.database import make_engine, make_sessions, upgrade
    from coaching.engine import Coach
    from coaching.ports import SystemClock

    engine = make_engine(f"sqlite+aiosqlite:///{db_path}")
    await upgrade(engine)
    return Coach(make_sessions(engine), SystemClock())


async def serve(variant: str, coach_kind: str, db_path: str) -> None:
    import logging

    from adapters import teams
    from bot.config import Settings

    logging.basicConfig(level=logging.ERROR)
    coach = StubCoach() if coach_kind == "stub" else await _real_coach(db_path)
    app = web.Application()
    if variant == "pooled":
        teams.setup(app, Settings(teams_emulator=True), coach)
    else:
        stock = teams.build(Settings(), coach, pooled=False)

        async def stock_messages(request: web.Request) -> web.StreamResponse:
            return await stock.adapter.process(request, stock.bot)

        app.router.add_post("/api/messages", stock_messages)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"port": port}), flush=True)
    await asyncio.Event().wait()


# --- this process: fake Teams -----------------------------------------------------------------------


class Connector:
    def __init__(self) -> None:
        self.calls = 0
        self.url = ""

    async def activity(self, request: web.Request) -> web.Response:
        await request.read()
        self.calls += 1
        return web.json_response({"id": f"a{self.calls}"})

    async def start(self) -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", self.activity)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self.activity)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return runner, self.url


_ids = itertools.count()


def message(service_url: str, text: str, user: int, n: int) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"m{next(_ids)}",  # unique: a repeated id is a redelivery, which the bot skips
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": f"29:user-{user}", "name": f"User {user}", "aadObjectId": f"user-{user}"},
        "conversation": {"id": f"a:conv-{user}", "conversationType": "personal", "tenantId": "bench"},
        "recipient": {"id": "28:bot", "name": "DealCoach"},
        "entities": [{"type": "clientInfo", "timezone": "Europe/Berlin"}],
        "text": text,
    }


async def run_load(
    session: ClientSession, url: str, connector: Connector, total: int, concurrency: int, users: int
) -> dict[str, float]:
    service_url = connector.url
    replies_before = connector.calls
    latencies: list[float] = []
    counter = iter(range(total))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for n in counter:
            body = message(service_url, "list", n % users, n)
            started = time.perf_counter()
            async with session.post(url, json=body) as response:
                await response.read()
                if response.status != 201:
                    failures += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    failures += abs(total - (connector.calls - replies_before))  # every `list` must get its reply
    latencies.sort()
    return {
        "rate": total / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "failures": failures,
    }


async def bench_variant(
    variant: str, coach_kind: str, connector: Connector, args: argparse.Namespace
) -> list[dict[str, Any]]:
    service_url = connector.url
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", variant, "--coach-kind", coach_kind, "--db", f"{tmp}/b.db"],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert child.stdout is not None
            line = await asyncio.get_running_loop().run_in_executor(None, child.stdout.readline)
            url = f"http://127.0.0.1:{json.loads(line)['port']}/api/messages"
            rows = []
            async with ClientSession(connector=TCPConnector(limit=0)) as session:
                users = args.users
                for user in range(users):  # every user has a few negotiations, like a real `list`
                    for text in (
                        "log Acme tomorrow 3pm",
                        "log Globex next tuesday 10am",
                        "log Initech in 3 days",
                    ):
                        async with session.post(url, json=message(service_url, text, user, 0)) as response:
                            assert response.status == 201, await response.text()
                await run_load(session, url, connector, min(200, args.requests), 8, users)  # warm-up
                for concurrency in args.concurrency:
                    result = await run_load(session, url, connector, args.requests, concurrency, users)
                    row = {"variant": variant, "coach": coach_kind, "concurrency": concurrency}
                    rows.append(row | result)
                    print(
                        f"  {coach_kind:4} {variant:6} c={concurrency:<3} {result['rate']:8.0f} activities/s"
                        f"   p50 {result['p50']:7.2f} ms   p99 {result['p99']:7.2f} ms"
                        + (f"   FAILED {result['failures']:.0f}" if result["failures"] else ""),
                        flush=True,
                    )
            return rows
        finally:
            child.terminate()
            child.wait(timeout=10)


async def main(args: argparse.Namespace) -> None:
    connector = Connector()
    runner, _ = await connector.start()
    print(f"Teams bench: {args.requests} `list` activities per run, loopback, {os.cpu_count()} CPUs")
    rows: list[dict[str, Any]] = []
    try:
        for coach_kind in args.coach:
            for variant in ("stock", "pooled"):
                rows += await bench_variant(variant, coach_kind, connector, args)
    finally:
        await runner.cleanup()
    print("\nspeed-up (pooled / stock activities/s):")
    for coach_kind in args.coach:
        for concurrency in args.concurrency:
            same = [r for r in rows if r["coach"] == coach_kind and r["concurrency"] == concurrency]
            pick = {r["variant"]: r["rate"] for r in same}
            print(f"  {coach_kind:4} c={concurrency:<3} {pick['pooled'] / pick['stock']:5.1f}x")


if __name__ == "__main__":
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--coach", nargs="+", choices=["stub", "real"], default=["stub", "real"])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--serve", choices=["stock", "pooled"], help=argparse.SUPPRESS)
    parser.add_argument("--coach-kind", default="stub", help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve(arguments.serve, arguments.coach_kind, arguments.db))
    else:
        asyncio.run(main(arguments))
