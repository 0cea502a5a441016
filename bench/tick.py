"""How long one scheduler tick takes as the outbox grows: 100 due nudges among 0 (the baseline),
100k and 1M future ones, with a no-op sender. A tick should cost what is due, not what is stored.

    python bench/tick.py                                   # SQLite (a temporary file)
    python bench/tick.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

The PostgreSQL run empties the nudge tables of that database first: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import bindparam, text, update  # noqa: E402

from bot.config import normalize_database_url  # noqa: E402
from bot.database import make_engine, make_sessions, upgrade  # noqa: E402
from coaching.engine import Coach  # noqa: E402
from coaching.messages import Message  # noqa: E402
from coaching.models import Counterpart, Negotiation, Nudge, User, UTCDateTime, Workspace  # noqa: E402
from coaching.outbox import Dispatcher  # noqa: E402
from coaching.ports import Address  # noqa: E402

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DUE = 100


class FixedClock:
    def now(self) -> datetime:
        return NOW


class NoOpSender:
    async def send(self, address: Address, message: Message) -> None:
        return None


async def seed(sessions, engine) -> tuple[int, list[int]]:
    async with sessions() as session, session.begin():
        workspace = Workspace(platform="console", external_id="bench")
        session.add(workspace)
        await session.flush()
        user = User(workspace_id=workspace.id, external_id="rep", timezone="UTC", quiet_start=None, quiet_end=None)
        session.add(user)
        await session.flush()
        counterpart = Counterpart(owner_id=user.id, name="Acme", name_key="acme")
        session.add(counterpart)
        await session.flush()
        negotiations = [
            Negotiation(
                owner_id=user.id,
                number=i + 1,
                counterpart_id=counterpart.id,
                starts_at=NOW - timedelta(hours=1),
                duration_minutes=30,
                status="scheduled",
            )
            for i in range(DUE)
        ]
        session.add_all(negotiations)
        await session.flush()
        session.add_all(
            # exempt: answers to what the rep just did, outside the daily nudge budget
            Nudge(
                key=f"due:{n.id}", user_id=user.id, kind="followup", negotiation_id=n.id, due_at=NOW, exempt_quiet=True
            )
            for n in negotiations
        )
        return user.id, [n.id for n in negotiations]


async def add_future(engine, user_id: int, start: int, count: int) -> None:
    """Future nudges generated in SQL: a million rows in seconds, not minutes."""
    postgres = engine.dialect.name == "postgresql"
    series = (
        "SELECT generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS n"
        if postgres
        else "WITH RECURSIVE seq(n) AS (SELECT :start UNION ALL SELECT n + 1 FROM seq WHERE n < :stop) "
        "SELECT n FROM seq"
    )
    statement = text(
        "INSERT INTO nudges (key, user_id, kind, due_at, status, attempts, exempt_quiet, created_at) "
        f"SELECT 'future:' || n, :user_id, 'precall', :due_at, 'pending', 0, false, :now FROM ({series}) AS s"
    ).bindparams(bindparam("due_at", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))
    async with engine.begin() as connection:
        await connection.execute(
            statement,
            {
                "start": start,
                "stop": start + count - 1,
                "user_id": user_id,
                "due_at": NOW + timedelta(days=30),
                "now": NOW,
            },
        )
        if postgres:
            await connection.execute(text("ANALYZE nudges"))


async def time_ticks(sessions, dispatcher, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        async with sessions() as session, session.begin():  # make the 100 due again
            await session.execute(
                update(Nudge)
                .where(Nudge.key.like("due:%"))
                .values(status="pending", due_at=NOW, claimed_by=None, attempts=0)
            )
        started = time.perf_counter()
        report = await dispatcher.tick()
        samples.append(time.perf_counter() - started)
        assert report.sent == DUE, report
    return statistics.median(samples)


async def main(url: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await upgrade(engine)
    sessions = make_sessions(engine)
    clock = FixedClock()
    coach = Coach(sessions, clock)
    dispatcher = Dispatcher(sessions, coach, {"console": NoOpSender()}, clock, worker="bench")
    user_id, _ = await seed(sessions, engine)
    print(f"database: {engine.dialect.name}; {DUE} due nudges per tick, no-op sender, median of 5 ticks")
    baseline = await time_ticks(sessions, dispatcher)
    print(f"  {0:>9,} future nudges: {baseline * 1000:8.1f} ms per tick (baseline)")
    stored = 0
    for target in (100_000, 1_000_000):
        started = time.perf_counter()
        await add_future(engine, user_id, stored + 1, target - stored)
        stored = target
        fill = time.perf_counter() - started
        elapsed = await time_ticks(sessions, dispatcher)
        print(
            f"  {stored:>9,} future nudges: {elapsed * 1000:8.1f} ms per tick "
            f"({elapsed / baseline:.2f}x baseline; filled in {fill:.1f} s)"
        )
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = normalize_database_url(args.database_url or f"sqlite:///{folder}/bench.db")
        asyncio.run(main(url))
