"""The web server's own endpoints: /healthz (alive), /readyz (database reachable, schema at head, not
stopping) and /metrics."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot.app import Runtime
from bot.config import Settings
from bot.database import make_engine, make_sessions
from bot.web import RUNTIME, build_web_app
from coaching.engine import Coach
from coaching.outbox import Dispatcher
from tests.metrics import scrape


@pytest.fixture
async def client(engine, sessions, clock, coach: Coach, dispatcher: Dispatcher):
    runtime = Runtime(Settings(database_url="unused"), engine, sessions, clock, coach, dispatcher)
    app = build_web_app(runtime, scheduler=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_healthz(client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_metrics_count_nudges_their_lag_and_the_outbox(client, coach, dispatcher, clock, anna) -> None:
    before = await scrape(client)
    await coach.handle_text(anna, "log Initech yesterday 4pm")  # its follow-up prompt is due at once
    clock.advance(minutes=10)
    waiting = await scrape(client)
    assert waiting["dealcoach_outbox_depth"] == 1
    assert waiting["dealcoach_outbox_oldest_seconds"] == 600
    await dispatcher.tick()
    after = await scrape(client)
    assert (
        after["dealcoach_nudges_total", {"outcome": "sent"}] - before["dealcoach_nudges_total", {"outcome": "sent"}]
        == 1
    )
    assert after["dealcoach_outbox_depth"] == 0 and after["dealcoach_outbox_oldest_seconds"] == 0
    lag = ("dealcoach_nudge_lag_seconds_sum", {"platform": "console"})
    assert after[lag] - before[lag] == 600  # due -> accepted by the platform, on the fake clock
    assert after["dealcoach_tick_seconds_count"] - before["dealcoach_tick_seconds_count"] == 1


async def test_readyz_is_ready_with_the_database_at_head(client) -> None:
    response = await client.get("/readyz")
    assert (response.status, await response.json()) == (200, {"status": "ok"})


async def test_readyz_turns_503_once_shutdown_began_while_healthz_stays_alive(client) -> None:
    client.app[RUNTIME].shutdown.begin()
    assert (await client.get("/readyz")).status == 503
    assert (await client.get("/healthz")).status == 200


async def test_readyz_is_503_without_a_reachable_database(clock, coach) -> None:
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    sessions = make_sessions(engine)
    runtime = Runtime(
        Settings(database_url="unused"), engine, sessions, clock, coach, Dispatcher(sessions, coach, {}, clock)
    )
    async with TestClient(TestServer(build_web_app(runtime, scheduler=False))) as client:
        response = await client.get("/readyz")
        assert (response.status, (await response.json())["database"]) == (503, "unreachable")
        assert (await client.get("/metrics")).status == 200  # the other metrics still come


async def test_readyz_is_503_when_the_schema_is_behind(client, engine) -> None:
    async with engine.begin() as connection:
        head = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        await connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        response = await client.get("/readyz")
        assert (response.status, (await response.json())["schema"]) == (503, "older")
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
