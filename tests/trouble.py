"""Database trouble on demand, on SQLite and on PostgreSQL: a lock held by someone else, and engines that
do not wait long for it (so a command meets "database is locked" / ``lock_timeout`` at once)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.database import make_engine, sqlite_pragmas


def impatient_engine(url: str, wait_ms: int = 100) -> AsyncEngine:
    """DealCoach's engine, except that it gives up on a lock after ``wait_ms`` (production waits 30 s)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": wait_ms / 1000})
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return make_engine(url, connect_args={"server_settings": {"lock_timeout": str(wait_ms)}})


@contextlib.asynccontextmanager
async def locked(url: str, *tables: str) -> AsyncIterator[None]:
    """Someone else holds the write lock: the whole SQLite file, or ``tables`` on PostgreSQL."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                await connection.rollback()
    finally:
        await engine.dispose()
