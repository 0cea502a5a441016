"""Replicas start together: any number of processes upgrading one empty database at once all come up
on the same schema (a PostgreSQL advisory lock, a file lock beside an SQLite file)."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from sqlalchemy import text

from bot.database import make_engine

pytestmark = pytest.mark.drill


async def _upgrade_at_once(url: str, processes: int) -> list[tuple[int, str]]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    started = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "db", "upgrade", env=env, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(processes)
    ]
    results = []
    for process in started:
        _, err = await asyncio.wait_for(process.communicate(), 60)
        results.append((process.returncode, err.decode()[-500:]))
    return results


async def _head_of(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return list(await connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        await engine.dispose()


async def test_three_processes_upgrade_one_empty_database_at_once(empty_database_url) -> None:
    results = await _upgrade_at_once(empty_database_url, 3)
    assert [code for code, _ in results] == [0, 0, 0], results
    assert len(await _head_of(empty_database_url)) == 1
