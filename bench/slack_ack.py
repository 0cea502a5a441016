"""How fast does DealCoach acknowledge Slack? p50/p99 latency and requests/s of a signed
``/negotiation list`` at concurrency 1, 16 and 64, next to a bare Bolt ``AsyncApp`` that only acks.

DealCoach acknowledges a slash command once it is stored in the command inbox (one INSERT) and
answers it afterwards through the command's ``response_url``; the inbox worker runs in the same
process, so its work competes with the acknowledgements and is part of what is measured. After each
run the client waits until every command of that run has been answered (the stand-in for Slack
counts the posts to ``response_url``) and prints how long after the last ack the last answer came:
nothing is left queued to flatter the next run, and a command answered twice stops the bench.

A second row, ``adapter``, is DealCoach's Slack adapter with a stub coach that answers at once: the
adapter's own cost (signature, inbox INSERT, the worker's deliver/delete, Block Kit) without the
coach's queries, always on its own SQLite file. Everything runs on loopback. Each server runs in its
own process (the client does not steal its event loop); DealCoach runs with the real Coach on a
fresh, migrated SQLite file (or ``--database-url``). A tiny stand-in for the Slack Web API (``auth.test`` and
``users.info``, each called once, and the ``response_url``) runs in a process of its own, as Slack is not in
DealCoach's process (until 2 December 2026 it ran inside each server's, whose CPU it shared).

    python bench/slack_ack.py [--requests 2000] [--concurrency 1 16 64] [--rounds 3] [--database-url ...]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import logging
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import ClientSession, TCPConnector, web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "bench-signing-secret"
TEAM, USER = "T0BENCH", "U0BENCH"


# ---------------------------------------------------------------------------- servers (child processes)


async def _fake_slack_api() -> tuple[web.AppRunner, str]:
    answered = [0]

    async def respond(request: web.Request) -> web.Response:
        await request.read()
        answered[0] += 1
        return web.Response(text="ok")

    async def count(request: web.Request) -> web.Response:
        return web.json_response({"answered": answered[0]})

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "auth.test":
            return web.json_response({"ok": True, "team_id": TEAM, "user_id": "UBOT", "bot_id": "BBOT"})
        if method == "users.info":
            return web.json_response({"ok": True, "user": {"id": USER, "tz": "Europe/Berlin", "name": "bench"}})
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/api/{method}", api)
    app.router.add_post("/respond/{hook}", respond)
    app.router.add_get("/answered", count)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/api/"  # type: ignore[union-attr]


async def _dealcoach_app(workdir: str, database_url: str | None, api_url: str) -> web.Application:
    from adapters.slack import setup
    from adapters.slack.store import slack_inbox
    from bot.config import Settings
    from bot.database import make_engine, make_sessions, upgrade
    from coaching.engine import Coach
    from coaching.ports import SystemClock

    engine = make_engine(database_url or f"sqlite+aiosqlite:///{workdir}/bench.db")
    await upgrade(engine)
    async with engine.begin() as connection:  # commands left by an earlier run would be answered first
        await connection.execute(slack_inbox.delete())
    sessions = make_sessions(engine)
    settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_url=api_url)
    app = web.Application()
    setup(app, settings, Coach(sessions, SystemClock()), sessions)
    return app


class _StubCoach:
    """Answers every command with a fixed two-line list: the adapter's own cost, without the database."""

    async def handle_text(self, actor, text, also=None):  # no database, so nothing to mark in its transaction
        from coaching.messages import Button, Message, Section

        return Message(
            "Your negotiations",
            sections=(Section(lines=("#1 Acme · tue 14:00 · video", "#2 Globex · wed 10:00 · phone")),),
            buttons=(Button("Prep brief", "negotiation.prep", "prep 1"),),
        )

    async def handle(self, command):
        raise NotImplementedError

    async def upsert_user(self, actor, *, channel=None, conversation_ref=None):
        return None

    async def forget_workspace(self, platform, workspace):
        return None


async def _adapter_only_app(workdir: str, api_url: str) -> web.Application:
    from adapters.slack import setup
    from bot.config import Settings
    from bot.database import make_engine, make_sessions, upgrade

    engine = make_engine(f"sqlite+aiosqlite:///{workdir}/bench.db")  # always its own file
    await upgrade(engine)
    sessions = make_sessions(engine)
    settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_url=api_url)
    app = web.Application()
    setup(app, settings, _StubCoach(), sessions)
    return app


async def _bare_bolt_app(api_url: str) -> web.Application:
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token="xoxb-bench", base_url=api_url),
        process_before_response=True,
    )

    @bolt.command("/negotiation")
    async def ack_only(ack):
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", events)
    return app


def _serve_slack_api(ports: mp.Queue) -> None:  # pragma: no cover - runs in a child process
    """The stand-in for Slack's Web API and response_url, in a process of its own as Slack is: its work is not
    DealCoach's (run inside the server's process, it took ~0.2 ms of the server's CPU per answer)."""

    async def main() -> None:
        _runner, api_url = await _fake_slack_api()
        ports.put(api_url)
        await asyncio.Event().wait()

    asyncio.run(main())


def _serve(kind: str, ports: mp.Queue, database_url: str | None, api_url: str) -> None:  # pragma: no cover
    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        with tempfile.TemporaryDirectory() as workdir:
            builders = {
                "dealcoach": lambda: _dealcoach_app(workdir, database_url, api_url),
                "adapter": lambda: _adapter_only_app(workdir, api_url),
                "bare-bolt": lambda: _bare_bolt_app(api_url),
            }
            app = await builders[kind]()
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            ports.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
            await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------------------- the client


_TRIGGERS = itertools.count(1)


def signed(text: str, response_url: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "token": "x",
            "team_id": TEAM,
            "team_domain": "bench",
            "channel_id": "C0BENCH",
            "user_id": USER,
            "user_name": "bench",
            "command": "/negotiation",
            "text": text,
            "api_app_id": "A0BENCH",
            "response_url": response_url,
            "trigger_id": f"1.{next(_TRIGGERS)}.3",  # one per invocation, as Slack sends: the inbox dedupes by it
        }
    )
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
    }
    return body.encode(), headers


async def _answered(client: ClientSession, api_url: str) -> int:
    async with client.get(api_url.replace("/api/", "/answered")) as response:
        return int((await response.json())["answered"])


async def _wait_answered(client: ClientSession, api_url: str, expected: int, timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while (answered := await _answered(client, api_url)) < expected:
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {answered} of {expected} commands answered after {timeout:.0f} s")
        await asyncio.sleep(0.01)
    if answered > expected:
        raise SystemExit(f"{answered} answers for {expected} commands: some were answered twice")


async def load(url: str, api_url: str, *, requests: int, concurrency: int, answers: bool) -> dict[str, float]:
    """``requests`` signed commands from ``concurrency`` clients; with ``answers``, then wait until the
    app has answered every one of them at their response_url (bounded: 120 s)."""
    warm_up = min(100, requests)
    # each command signed beforehand with a trigger_id of its own: the inbox answers a repeated one only once
    signed_bodies = iter(
        [signed("list", api_url.replace("/api/", "/respond/") + "bench") for _ in range(warm_up + requests)]
    )
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    drain = 0.0
    async with ClientSession(connector=TCPConnector(limit=concurrency, force_close=False)) as client:
        before = await _answered(client, api_url) if answers else 0
        for _ in range(warm_up):  # warm up: connections, caches, auth.test, users.info
            body, headers = next(signed_bodies)
            async with client.post(url, data=body, headers=headers) as response:
                await response.read()
        if answers:  # the warm-up's answers first, so the run starts with an empty inbox
            await _wait_answered(client, api_url, before + warm_up)
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                body, headers = next(signed_bodies)
                started = time.perf_counter()
                async with client.post(url, data=body, headers=headers) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        if answers:
            acked = time.perf_counter()
            await _wait_answered(client, api_url, before + warm_up + requests)
            drain = time.perf_counter() - acked
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses from {url}: {statuses}")
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "rps": requests / elapsed,
        "drain_s": drain,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--database-url", help="DealCoach's database (default: a fresh SQLite file), e.g. postgresql+asyncpg://..."
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs per app and concurrency; medians are shown")
    args = parser.parse_args(argv)

    ctx = mp.get_context("spawn")
    ports: mp.Queue = ctx.Queue()
    slack = ctx.Process(target=_serve_slack_api, args=(ports,), daemon=True)
    slack.start()
    slack_api_url = ports.get(timeout=60)
    servers, urls = [slack], {}
    for kind in ("bare-bolt", "adapter", "dealcoach"):
        ports = ctx.Queue()
        process = ctx.Process(target=_serve, args=(kind, ports, args.database_url, slack_api_url), daemon=True)
        process.start()
        servers.append(process)
        urls[kind] = f"http://127.0.0.1:{ports.get(timeout=60)}/slack/events"
    try:
        print(
            f"signed '/negotiation list', {args.requests} requests per run, median of {args.rounds} interleaved runs, "
            f"loopback, {sys.platform}, {os.cpu_count()} CPUs"
        )
        print(f"{'app':<10} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'all answered':>13}")
        results: dict[tuple[str, int], dict[str, float]] = {}
        for concurrency in args.concurrency:
            runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in urls}
            for _ in range(args.rounds):  # interleaved, so a noisy moment hits every app alike
                for kind, url in urls.items():
                    answers = kind != "bare-bolt"
                    run = load(url, slack_api_url, requests=args.requests, concurrency=concurrency, answers=answers)
                    runs[kind].append(asyncio.run(run))
            for kind in urls:
                keys = ("p50_ms", "p99_ms", "rps", "drain_s")
                result = {k: statistics.median(r[k] for r in runs[kind]) for k in keys}
                results[(kind, concurrency)] = result
                p50, p99, rps = result["p50_ms"], result["p99_ms"], result["rps"]
                drain = "-" if kind == "bare-bolt" else f"+{result['drain_s']:.2f} s"
                print(f"{kind:<10} {concurrency:>4} {p50:>8.2f} {p99:>8.2f} {rps:>8.0f} {drain:>13}")
        database = args.database_url.split(":", 1)[0] if args.database_url else "SQLite"
        for concurrency in args.concurrency:
            bare = results[("bare-bolt", concurrency)]["rps"]
            print(
                f"concurrency {concurrency}: throughput vs bare Bolt: "
                f"adapter with a stub coach {results[('adapter', concurrency)]['rps'] / bare:.0%}, "
                f"DealCoach (real coach, {database}) {results[('dealcoach', concurrency)]['rps'] / bare:.0%}"
            )
        print("all answered: from a run's last ack until its last answer reached response_url (median of runs)")
    finally:
        for process in servers:
            process.terminate()
            process.join(5)


if __name__ == "__main__":
    main()
