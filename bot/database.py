"""The database: engine, sessions and schema upgrades (Alembic, never ``create_all``)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import migrations
from bot import sqlite_driver

MIGRATIONS_DIR = Path(migrations.__file__).parent


SQLITE_CONNECT_ARGS = {"timeout": 30}  # one writer at a time: wait for the lock instead of failing


def sqlite_pragmas(dbapi_connection: Any, _record: Any = None) -> None:
    """Every SQLite connection DealCoach opens: foreign keys on, WAL (readers stay off the writer's
    back), and commits that survive a killed process without an fsync each (``synchronous=NORMAL``)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """aiosqlite, with what can run at once run on the event loop (see ``bot.sqlite_driver``)."""
    return dialect.dbapi.connect(*cargs, async_creator_fn=sqlite_driver.connect, **cparams)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args=SQLITE_CONNECT_ARGS, **kwargs)
        event.listen(engine.sync_engine, "do_connect", _sqlite_connect)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def make_sessions(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


# Any number of replicas may start at once on one database: the upgrade is serialised, and whoever
# comes second finds the schema at head. One fixed key for DealCoach's migrations ("DealCoac").
MIGRATION_LOCK = 0x4465616C436F6163


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` on this engine's database (runs inside the event loop), under a
    lock: a PostgreSQL advisory lock held by the upgrade's own transaction, a file lock beside an
    SQLite file."""
    await _migrate(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the schema back to ``revision`` (tests of a migration's way back)."""
    await _migrate(engine, command.downgrade, revision)


async def _migrate(engine: AsyncEngine, step: Any, revision: str) -> None:
    def _run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":  # released when this transaction ends
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config = alembic_config()
        config.attributes["connection"] = connection
        step(config, revision)

    async with _file_lock(engine), engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
        if engine.dialect.name == "sqlite":
            # migrations/env.py ran them with foreign keys off: this connection must not be pooled like that
            await connection.invalidate()


@contextlib.asynccontextmanager
async def _file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """``<file>.migrate.lock`` held (flock) while an SQLite file is upgraded; other databases need none."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    descriptor = os.open(f"{database}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)  # waits for another process's upgrade
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


@functools.cache
def script_heads() -> frozenset[str]:
    """The revisions the migrations in this build end at."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def schema_revision(connection: Connection) -> str | None:
    """The revision the database's schema is at (None before the first upgrade)."""
    return MigrationContext.configure(connection).get_current_revision()
