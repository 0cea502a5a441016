"""The database: engine, sessions and schema upgrades (Alembic, never ``create_all``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import migrations

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


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args=SQLITE_CONNECT_ARGS, **kwargs)
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


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` on this engine's database (runs inside the event loop)."""
    await _migrate(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the schema back to ``revision`` (tests of a migration's way back)."""
    await _migrate(engine, command.downgrade, revision)


async def _migrate(engine: AsyncEngine, step: Any, revision: str) -> None:
    def _run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        step(config, revision)

    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
        if engine.dialect.name == "sqlite":
            # migrations/env.py ran them with foreign keys off: this connection must not be pooled like that
            await connection.invalidate()
