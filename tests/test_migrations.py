"""Migrations: from an empty database to head, and the models agree with them (what `alembic check` checks)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.database import make_engine, upgrade
from coaching.models import Base
from tests.conftest import is_postgres


async def test_models_match_the_migrations(engine) -> None:
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_upgrade_from_empty_creates_every_table_and_is_repeatable(tmp_path) -> None:
    if is_postgres():
        return  # the session fixture already migrated PostgreSQL from an empty schema
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    await upgrade(engine)
    await upgrade(engine)  # a second start is a no-op
    async with engine.connect() as connection:
        tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    await engine.dispose()
    assert {"workspaces", "users", "counterparts", "negotiations", "commitments", "touchpoints", "nudges"} <= tables
    assert "alembic_version" in tables
