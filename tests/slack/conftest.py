"""Fixtures for the Slack adapter: the fake Slack Web API and DealCoach's aiohttp app with Slack mounted,
served on loopback, around the real Coach (``sessions``, ``clock`` and ``coach`` come from tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SLACK, SlackAdapter, setup
from bot.config import Settings

from .slackfakes import DM, SECRET, FakeSlackAPI, fixture, form_body, interaction_body, signed_headers, slash_command


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackAPI]:
    api = FakeSlackAPI()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def settings(slack_api) -> Settings:
    return Settings(slack_bot_token="xoxb-test-token", slack_signing_secret=SECRET, slack_api_url=slack_api.url)


class SlackHarness:
    """Posts signed Slack requests to ``/slack/events`` and lets a test wait for follow-up work."""

    def __init__(self, client: TestClient, adapter: SlackAdapter, sender: Any, api: FakeSlackAPI):
        self.client = client
        self.adapter = adapter
        self.sender = sender
        self.api = api
        self.hook = ""
        self.trigger = ""  # the last slash command's trigger_id

    async def post(self, body: str, content_type: str, **sign: Any):
        headers = signed_headers(body, content_type=content_type, **sign)
        return await self.client.post("/slack/events", data=body.encode(), headers=headers)

    async def command(self, text: str, **overrides: Any):
        """Post a signed slash command; its answer goes to a response_url of its own (``self.hook``)."""
        self.hook = overrides.pop("response_url", None) or self.api.new_response_url()
        fields = slash_command() | {"text": text, "response_url": self.hook} | overrides
        self.trigger = fields["trigger_id"]
        return await self.post(form_body(fields), "application/x-www-form-urlencoded")

    async def ask(self, text: str, **overrides: Any) -> dict[str, Any]:
        """A slash command the way a person sees it: an empty ack at once, then the ephemeral answer
        posted to the command's response_url by the inbox worker."""
        response = await self.command(text, **overrides)
        assert response.status == 200, await response.text()
        assert await response.text() == ""  # an empty ack shows nothing
        return await self.api.reply_at(self.hook)

    async def interaction(self, payload: dict[str, Any]):
        return await self.post(interaction_body(payload), "application/x-www-form-urlencoded")

    async def event(self, payload: dict[str, Any], headers: dict[str, str] | None = None):
        body = json.dumps(payload)
        signed = signed_headers(body, content_type="application/json") | (headers or {})
        return await self.client.post("/slack/events", data=body.encode(), headers=signed)

    async def settle(self) -> None:
        """Wait for the inbox worker to answer what was typed, and for the display work the listeners
        handed off (views.open, chat.update...)."""
        if self.adapter.inbox.running:
            await self.adapter.inbox.wait_quiet()
        await self.adapter.background.drain()

    def click_payload(self, button: dict[str, Any], message_ts: str, channel: str = DM) -> dict[str, Any]:
        payload = fixture("block_actions")
        message = self.api.messages[(channel, message_ts)]
        payload["container"].update(message_ts=message_ts, channel_id=channel)
        payload["channel"]["id"] = channel
        payload["message"].update(ts=message_ts, text=message["text"], blocks=message["blocks"])
        payload["actions"][0].update(
            action_id=button["action_id"], value=button["value"], text=button["text"], block_id="dealcoach.actions"
        )
        return payload

    def ephemeral_click_payload(
        self, button: dict[str, Any], channel: str = "C2147483705"
    ) -> tuple[dict[str, Any], str]:
        """A click on a button of an ephemeral reply (no message to update: Slack gives a response_url)."""
        payload = fixture("block_actions")
        payload["container"] = {
            "type": "message",
            "message_ts": "1700000000.000900",
            "channel_id": channel,
            "is_ephemeral": True,
        }
        payload["channel"]["id"] = channel
        del payload["message"]
        payload["response_url"] = hook = self.api.new_response_url()
        payload["actions"][0].update(action_id=button["action_id"], value=button["value"], text=button["text"])
        return payload, hook


@pytest.fixture
async def slack(slack_api, settings, coach, sessions) -> AsyncIterator[SlackHarness]:
    app = web.Application()
    sender = setup(app, settings, coach, sessions, min_interval=0)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    harness = SlackHarness(client, app[SLACK], sender, slack_api)
    yield harness
    await client.close()
