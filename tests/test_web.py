"""The web server's own endpoints: /healthz and /metrics."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Runtime
from bot.config import Settings
from bot.web import build_web_app
from coaching.engine import Coach
from coaching.outbox import Dispatcher


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


async def test_metrics_count_nudges(client, coach, dispatcher, anna) -> None:
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    await dispatcher.tick()
    body = await (await client.get("/metrics")).text()
    assert 'dealcoach_nudges_total{outcome="sent"} 1' in body
    assert 'dealcoach_outbox_nudges{status="sent"} 1' in body
    assert 'dealcoach_outbox_nudges{status="pending"} 1' in body  # the 24 h follow-up reminder
