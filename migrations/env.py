"""Alembic environment: runs on a connection handed in by DealCoach (``bot.database.upgrade``), or
on its own async engine built from DATABASE_URL (the ``alembic`` command line, ``alembic check``)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.database import make_engine
from coaching.models import Base, UTCDateTime

# Adapter tables live on the same metadata; importing them registers them for autogenerate.
try:  # pragma: no cover - present once the Slack adapter is installed
    import adapters.slack.store  # noqa: F401
except ImportError:
    pass

target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_on(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch operations copy a table and DROP the old one; with foreign keys on, that DROP deletes every row
        # pointing at it (ON DELETE CASCADE): a migration of ``counterparts`` would take the negotiations with
        # it. Off for the migrations (SQLite ignores this inside a transaction, so it comes first; whoever
        # handed us the connection must not pool it afterwards), and the references are checked at the end.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migrations left rows pointing nowhere: {broken[:5]}")


async def run_with_own_engine() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or Settings.from_env(os.environ).database_url
    engine = make_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(run_on)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    asyncio.run(run_with_own_engine())
