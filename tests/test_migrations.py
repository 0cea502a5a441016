"""Migrations: from an empty database to head, the models agree with them (what `alembic check` checks), and
the data migrations do what they say on a database seeded before them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import normalize_database_url
from bot.database import downgrade, make_engine, make_sessions, upgrade
from coaching.models import (
    Base,
    Commitment,
    Counterpart,
    Negotiation,
    NegotiationIssue,
    Nudge,
    TeamInvitation,
    TeamMember,
    Touchpoint,
    User,
)
from tests.conftest import TEST_DATABASE_URL, is_postgres


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


@contextlib.asynccontextmanager
async def fresh_database(tmp_path) -> AsyncIterator[AsyncEngine]:
    """An empty database of its own: an SQLite file, or a PostgreSQL schema of its own (dropped afterwards)."""
    if not is_postgres():
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'seeded.db'}")
        yield engine
        await engine.dispose()
        return
    url = normalize_database_url(TEST_DATABASE_URL or "")
    admin = make_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS seeded CASCADE"))
        await connection.execute(text("CREATE SCHEMA seeded"))
    engine = make_engine(url, connect_args={"server_settings": {"search_path": "seeded"}})
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text("DROP SCHEMA seeded CASCADE"))
        await admin.dispose()


# Before 0007: Anna and Bob (one workspace) share "Acme"; only Anna knows "Zephyr Secret Holdings"; nobody refers
# to "Orphan"; Lena added both to her team without asking (Bob left again).
SEED = """
INSERT INTO workspaces (id, platform, external_id, created_at) VALUES (1, 'slack', 'T1', :t);
INSERT INTO users (id, workspace_id, external_id, display_name, timezone, timezone_set_by_user, role, lead_minutes,
    nudges_enabled, created_at) VALUES
    (1, 1, 'UANNA', 'Anna', 'UTC', false, 'sales', 30, true, :t),
    (2, 1, 'UBOB', 'Bob', 'UTC', false, 'sales', 30, true, :t),
    (3, 1, 'ULENA', 'Lena', 'UTC', false, 'sales', 30, true, :t);
INSERT INTO counterparts (id, workspace_id, name, name_key, long_term, last_touchpoint_at, created_at) VALUES
    (1, 1, 'Acme', 'acme', true, :late, :t),
    (2, 1, 'Zephyr Secret Holdings', 'zephyr secret holdings', true, NULL, :t),
    (3, 1, 'Orphan', 'orphan', false, NULL, :t);
INSERT INTO negotiations (id, owner_id, number, counterpart_id, starts_at, duration_minutes, channel, status,
    back_to_back, created_at) VALUES
    (1, 1, 1, 1, :t, 60, 'video', 'done', false, :t),
    (2, 1, 2, 2, :t, 60, 'video', 'scheduled', false, :t),
    (3, 2, 1, 1, :t, 60, 'phone', 'done', false, :t);
INSERT INTO negotiation_issues (negotiation_id, kind, name, settled) VALUES (3, 'agreement', 'price', false);
INSERT INTO commitments (id, owner_id, number, negotiation_id, counterpart_id, side, text, status, created_at)
    VALUES (1, 1, 1, 1, 1, 'ours', 'send pricing', 'open', :t), (2, 2, 1, 3, 1, 'theirs', 'sign', 'open', :t);
INSERT INTO touchpoints (user_id, counterpart_id, kind, at, note, created_at) VALUES
    (1, 1, 'coffee', :early, 'loves sailing', :t), (2, 1, 'call', :late, NULL, :t);
INSERT INTO relationships (user_id, counterpart_id, links, snoozed_until) VALUES
    (1, 1, '{"sales": [true, false, true, true]}', :late);
INSERT INTO nudges (key, user_id, kind, negotiation_id, commitment_id, due_at, status, attempts, exempt_quiet,
    created_at) VALUES ('commitment_due:2:x', 2, 'commitment_due', 3, 2, :late, 'pending', 0, false, :t);
INSERT INTO teams (id, workspace_id, lead_id, created_at) VALUES (1, 1, 3, :t);
INSERT INTO team_members (team_id, user_id, joined_at, left_at) VALUES (1, 1, :t, NULL), (1, 2, :t, :late);
"""


async def seed(engine: AsyncEngine, moments: dict[str, datetime]) -> None:
    async with engine.begin() as connection:
        for statement in SEED.strip().split(";\n"):
            await connection.execute(text(statement), {k: v for k, v in moments.items() if f":{k}" in statement})
        if is_postgres():  # the ids above were given by hand
            for table in ("workspaces", "users", "counterparts", "negotiations", "commitments", "teams"):
                await connection.execute(text(f"SELECT setval('{table}_id_seq', 100)"))


async def test_the_people_migration_splits_shared_counterparts_on_a_seeded_database(tmp_path) -> None:
    t, early, late = (datetime(2026, 11, day, 10, tzinfo=UTC) for day in (20, 21, 24))
    if not is_postgres():
        t, early, late = (moment.replace(tzinfo=None) for moment in (t, early, late))
    async with fresh_database(tmp_path) as engine:
        await upgrade(engine, "0005_awaiting")
        await seed(engine, {"t": t, "early": early, "late": late})
        await upgrade(engine)

        sessions = make_sessions(engine)
        async with sessions() as session:
            owned = {
                (cp.owner_id, cp.name): cp for cp in await session.scalars(select(Counterpart).order_by(Counterpart.id))
            }
            assert set(owned) == {(1, "Acme"), (1, "Zephyr Secret Holdings"), (2, "Acme")}  # no orphan, no sharing
            anna_acme, bob_acme = owned[(1, "Acme")], owned[(2, "Acme")]
            assert anna_acme.id == 1 and bob_acme.id != 1  # the first to refer keeps the row
            # what each kept about Acme is on their own copy, and the last contact is their own
            assert anna_acme.links == {"sales": [True, False, True, True]} and bob_acme.links is None
            assert anna_acme.snoozed_until is not None and bob_acme.snoozed_until is None
            assert anna_acme.last_touchpoint_at == early.replace(tzinfo=UTC)
            assert bob_acme.last_touchpoint_at == late.replace(tzinfo=UTC)
            assert anna_acme.long_term and bob_acme.long_term  # the flag both saw stays with both copies
            negotiations = {n.id: n.counterpart_id for n in await session.scalars(select(Negotiation))}
            assert negotiations == {1: anna_acme.id, 2: owned[(1, "Zephyr Secret Holdings")].id, 3: bob_acme.id}
            commitments = {c.owner_id: c.counterpart_id for c in await session.scalars(select(Commitment))}
            assert commitments == {1: anna_acme.id, 2: bob_acme.id}
            touchpoints = {tp.user_id: tp.counterpart_id for tp in await session.scalars(select(Touchpoint))}
            assert touchpoints == {1: anna_acme.id, 2: bob_acme.id}
            assert await session.scalar(select(func.count()).select_from(NegotiationIssue)) == 1
            # nothing was lost to a cascade on the way: Bob's reminder is still there
            assert (await session.scalars(select(Nudge.key).where(Nudge.kind == "commitment_due"))).all() == [
                "commitment_due:2:x"
            ]
            # memberships nobody consented to became invitations (the one who had left: none), and Anna is asked
            assert await session.scalar(select(func.count()).select_from(TeamMember)) == 0
            invited = (await session.scalars(select(TeamInvitation.user_id))).all()
            assert invited == [1]
            assert (await session.scalars(select(Nudge.user_id).where(Nudge.kind == "team_invite"))).all() == [1]
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        assert "relationships" not in tables

        # forgetting Bob forgets his Acme (a name he typed), and only his
        async with sessions() as session, session.begin():
            await session.execute(delete(User).where(User.id == 2))
        async with sessions() as session:
            left = (await session.scalars(select(Counterpart.owner_id).order_by(Counterpart.owner_id))).all()
        assert left == [1, 1]


async def test_the_people_migration_downgrades_back_to_shared_counterparts(tmp_path) -> None:
    t = datetime(2026, 11, 20, 10, tzinfo=UTC if is_postgres() else None)
    async with fresh_database(tmp_path) as engine:
        await upgrade(engine, "0005_awaiting")
        await seed(engine, {"t": t, "early": t, "late": t})
        await upgrade(engine)
        await downgrade(engine, "0005_awaiting")
        async with engine.connect() as connection:
            shared = (await connection.execute(text("SELECT workspace_id, name FROM counterparts ORDER BY id"))).all()
            pointed = (await connection.execute(text("SELECT DISTINCT counterpart_id FROM negotiations"))).all()
        assert shared == [(1, "Acme"), (1, "Zephyr Secret Holdings")]
        assert sorted(row[0] for row in pointed) == [1, 2]
