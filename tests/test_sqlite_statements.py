"""On SQLite a statement runs on the event loop when it can run at once (``bot.sqlite_driver``), but the loop
never waits on it: a write that meets another connection's lock, and a read that runs long, go to aiosqlite's
thread — the other people's commands go on meanwhile, and the one that waited is stored, once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.database import make_engine, make_sessions
from coaching.engine import Coach
from coaching.models import Negotiation
from tests.trouble import locked

LONG_READ = text(
    "SELECT count(*), sum(x) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) "
    "SELECT x FROM c)"
)


@pytest.fixture
def sqlite_url(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's own driver")
    return database_url


@contextlib.asynccontextmanager
async def ticking() -> AsyncIterator[list[float]]:
    """The event loop's heartbeat: one entry every 10 ms while the loop is free to run it."""
    beats: list[float] = []

    async def beat() -> None:
        while True:
            beats.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(beat())
    try:
        yield beats
    finally:
        task.cancel()


async def test_a_command_that_meets_a_held_lock_waits_off_the_loop_and_is_stored_once(sqlite_url, clock, anna):
    engine = make_engine(sqlite_url)
    coach = Coach(make_sessions(engine), clock)
    try:
        async with ticking() as beats:
            async with locked(sqlite_url):
                waiting = asyncio.create_task(coach.handle_text(anna, "log Acme tomorrow 3pm"))
                await asyncio.sleep(0.3)
                assert not waiting.done()  # it waits for the lock …
                during = len(beats)
            assert during >= 10  # … and the loop went on beating meanwhile (30 beats if nothing else ran)
            reply = await asyncio.wait_for(waiting, 10)
        assert "Logged #1: Acme" in reply.text and not reply.is_error
        async with engine.connect() as connection:
            assert await connection.scalar(select(func.count()).select_from(Negotiation)) == 1
    finally:
        await engine.dispose()


async def test_a_long_read_runs_off_the_loop_and_its_transaction_goes_on(sqlite_url, clock, anna):
    engine = make_engine(sqlite_url)
    coach = Coach(make_sessions(engine), clock)
    try:
        await coach.handle_text(anna, "log Acme tomorrow 3pm")
        n = 3_000_000
        async with ticking() as beats, make_sessions(engine)() as session, session.begin():
            await session.execute(text("UPDATE negotiations SET title = 'renewal'"))  # this transaction has written
            started = len(beats)
            counted, total = (await session.execute(LONG_READ, {"n": n})).one()
            assert (counted, total) == (n, n * (n + 1) // 2)
            assert len(beats) - started >= 3  # the loop beat while SQLite counted to three million
            assert await session.scalar(select(Negotiation.title)) == "renewal"  # the write is still there
        async with engine.connect() as connection:
            assert await connection.scalar(select(Negotiation.title)) == "renewal"  # and it was committed
    finally:
        await engine.dispose()


async def test_the_wal_is_checkpointed_while_commits_run_on_the_loop(sqlite_url, clock, anna):
    """SQLite's own checkpoint after a commit is off on the loop's connections (it syncs): they checkpoint on
    the thread instead, so the WAL stays a few MB (300 ``log`` commits write ~18 MB of pages)."""
    engine = make_engine(sqlite_url)
    coach = Coach(make_sessions(engine), clock)
    try:
        for i in range(300):
            reply = await coach.handle_text(anna, f"log Firm{i} in {1 + i % 90} days 3pm")
            assert reply.text.startswith("Logged"), reply.text
        wal = Path(make_url(sqlite_url).database + "-wal")
        assert wal.stat().st_size < 8 * 1024 * 1024
    finally:
        await engine.dispose()
