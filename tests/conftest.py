"""Shared fixtures: a migrated database per test (SQLite by default, PostgreSQL with
TEST_DATABASE_URL), a fake clock, the coach and the dispatcher with a recording sender.

The schema always comes from the Alembic migrations, never ``create_all``, so they are tested too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import normalize_database_url
from bot.database import make_engine, make_sessions, upgrade
from coaching.commands import Actor
from coaching.engine import Coach
from coaching.outbox import Dispatcher
from coaching.ports import Address
from tests.fakes import FakeClock, RecordingSender

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def is_postgres() -> bool:
    return bool(TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgres"))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the migrations once per session: into a template SQLite file, or into a clean PostgreSQL schema."""

    async def migrate(url: str, reset: bool) -> None:
        engine = make_engine(url)
        if reset:
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
        await engine.dispose()

    if is_postgres():
        url = normalize_database_url(TEST_DATABASE_URL or "")
        asyncio.run(migrate(url, reset=True))
        yield url
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        asyncio.run(migrate(f"sqlite+aiosqlite:///{path}", reset=False))
        yield str(path)


@pytest.fixture
async def database_url(migrated_template: str, tmp_path: Path) -> str:
    """A migrated, empty database for this test: a copy of the template file, or the PostgreSQL schema emptied."""
    if is_postgres():
        engine = make_engine(migrated_template)
        async with engine.begin() as connection:  # every table the migrations made, adapters' included
            names = await connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
            tables = ", ".join(f'"{name}"' for name in names)
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        return migrated_template
    path = tmp_path / "dealcoach.db"
    shutil.copy(migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessions(engine)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger, its handlers and each logger's level back (bot.logs.configure changes them)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    known = logging.Logger.manager.loggerDict.items()
    levels = {name: lg.level for name, lg in known if isinstance(lg, logging.Logger)}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
        for stale in [f for f in handler.filters if isinstance(f, logging.Filter) and type(f).__module__ == "bot.logs"]:
            handler.removeFilter(stale)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def coach(sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> Coach:
    return Coach(sessions, clock)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def dispatcher(
    sessions: async_sessionmaker[AsyncSession], coach: Coach, sender: RecordingSender, clock: FakeClock
) -> Dispatcher:
    return Dispatcher(sessions, coach, {"console": sender, "slack": sender, "teams": sender}, clock, worker="test")


def make_actor(user: str = "anna", tz: str | None = "Europe/Berlin", workspace: str = "local") -> Actor:
    return Actor(Address("console", workspace, user), display_name=user.title(), timezone=tz)


@pytest.fixture
def anna() -> Actor:
    return make_actor("anna", "Europe/Berlin")


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, empty (not even migrated), for tests that run whole processes on it: a new
    PostgreSQL database beside the test database (dropped afterwards), or an SQLite file."""
    if not is_postgres():
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    base = make_url(normalize_database_url(TEST_DATABASE_URL or ""))
    name = f"{base.database}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
