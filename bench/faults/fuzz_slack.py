"""Fuzz drill for ``POST /slack/events``: N mutated, mostly signed requests (``tests/slack/fuzzing.py``)
against DealCoach's Slack endpoint with the real Coach, a fake Slack Web API on loopback and a fresh
database every ``--round`` requests (so comparing every stored row after each refusal stays cheap).

Prints the requests per status, the 5xx (must be 0), the refused requests that changed stored data
(must be 0), the tracebacks logged (a display step whose Web API call Slack refused excepted), and
requests per second. Exits 1 when a promise broke. The test suite runs a short version of this
(``tests/slack/test_slack_fuzz.py``).

    python bench/faults/fuzz_slack.py [--requests 10000] [--seed 1] [--round 250] [--database-url ...]

``--database-url`` (PostgreSQL) empties that database's tables between rounds: use one kept for drills.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, web
from slack_sdk.errors import SlackApiError
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adapters.slack import SLACK, setup  # noqa: E402
from bot.config import Settings, normalize_database_url  # noqa: E402
from bot.database import make_engine, make_sessions, upgrade  # noqa: E402
from coaching.engine import Coach  # noqa: E402
from coaching.ports import SystemClock  # noqa: E402
from tests.slack.fuzzing import Figures, Fuzzer, Request, drive  # noqa: E402
from tests.slack.slackfakes import SECRET, FakeSlackAPI  # noqa: E402


class Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not isinstance(record.exc_info[1], SlackApiError):
            self.seen.append(f"{record.name}: {record.getMessage()} ({type(record.exc_info[1]).__name__})")


async def _fresh_database(url: str | None, template: Path | None, workdir: Path, round_: int) -> str:
    if url is None:
        assert template is not None
        path = workdir / f"round{round_}.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    engine = make_engine(url)
    async with engine.begin() as connection:
        names = await connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        )
        tables = ", ".join(f'"{name}"' for name in names)
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    return url


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="dealcoach-fuzz-"))
    url = normalize_database_url(args.database_url) if args.database_url else None
    template = None
    if url is None:
        template = workdir / "template.db"
        engine = make_engine(f"sqlite+aiosqlite:///{template}")
    else:
        engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()

    tracebacks = Tracebacks()
    logging.getLogger().addHandler(tracebacks)
    logging.getLogger().setLevel(logging.INFO)
    api = FakeSlackAPI()
    await api.start()
    figures, fuzzer = Figures(), Fuzzer(seed=args.seed, response_url=api.new_response_url)
    started = time.perf_counter()
    try:
        async with ClientSession() as client:
            for round_, done in enumerate(range(0, args.requests, args.round)):
                database = await _fresh_database(url, template, workdir, round_)
                engine = make_engine(database)
                sessions = make_sessions(engine)
                settings = Settings(slack_bot_token="xoxb-fuzz", slack_signing_secret=SECRET, slack_api_url=api.url)
                app = web.Application()
                setup(app, settings, Coach(sessions, SystemClock()), sessions, min_interval=0)
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                adapter = app[SLACK]

                async def post(request: Request, port: int = port) -> int:
                    url = f"http://127.0.0.1:{port}/slack/events"
                    async with client.post(url, data=request.body, headers=request.headers) as response:
                        await response.read()
                        return response.status

                async def settle(adapter=adapter) -> None:  # type: ignore[no-untyped-def]
                    await adapter.inbox.wait_quiet()
                    await adapter.background.drain()

                try:
                    await drive(fuzzer, post, settle, engine, min(args.round, args.requests - done), figures)
                finally:
                    await runner.cleanup()
                    await engine.dispose()
                    api.calls.clear()
                print(f"  {figures.requests} requests, {len(figures.server_errors)} 5xx", file=sys.stderr)
    finally:
        await api.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    by_status = ", ".join(f"{status}: {count}" for status, count in sorted(figures.statuses.items()))
    print(f"requests                     {figures.requests}")
    print(f"by status                    {by_status}")
    print(f"5xx                          {len(figures.server_errors)}")
    print(f"refused but changed data     {len(figures.changed_by_refusal)}")
    print(f"tracebacks logged            {len(tracebacks.seen)}")
    print(f"requests/s                   {figures.requests / elapsed:.0f} (each followed by a full row comparison)")
    for line in (figures.server_errors + figures.changed_by_refusal + tracebacks.seen)[:20]:
        print(f"  ! {line}")
    return 1 if figures.server_errors or figures.changed_by_refusal or tracebacks.seen else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--round", type=int, default=250, help="requests per fresh database")
    parser.add_argument("--database-url", default=None, help="PostgreSQL to use (its tables are emptied)")
    sys.exit(asyncio.run(main(parser.parse_args())))
