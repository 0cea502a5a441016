"""Slack through DealCoach's own wiring (bot.web.build_web_app): the "done when" of the issue.

A signed ``/negotiation log Acme tomorrow 3pm`` gets its confirmation well under Slack's 3 s, and as
the fake clock passes, the pre-call and follow-up DMs reach the fake Slack API exactly once each."""

from __future__ import annotations

import time
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SLACK
from bot.app import Runtime
from bot.config import Settings
from bot.web import build_web_app
from coaching.outbox import Dispatcher
from tests.metrics import scrape
from tests.slack.conftest import SlackHarness
from tests.slack.slackfakes import SECRET, block_text, buttons


async def test_signed_log_on_a_running_server_then_each_nudge_once(engine, sessions, clock, coach, slack_api):
    settings = Settings(
        database_url="unused", slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack_api.url
    )
    dispatcher = Dispatcher(sessions, coach, {}, clock, worker="test")
    runtime = Runtime(settings, engine, sessions, clock, coach, dispatcher, dispatcher.senders)
    app = build_web_app(runtime, scheduler=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert "slack" in dispatcher.senders
        slack = SlackHarness(client, app[SLACK], dispatcher.senders["slack"], slack_api)

        before = await scrape(client)
        started = time.perf_counter()
        response = await slack.command("log Acme tomorrow 3pm")
        acked = time.perf_counter() - started
        assert response.status == 200 and await response.text() == ""
        reply = await slack_api.reply_at(slack.hook)
        answered = time.perf_counter() - started
        assert reply["response_type"] == "ephemeral"
        assert "Acme" in reply["text"]
        assert acked < 0.5, acked  # Slack allows 3 s
        assert answered < 2, answered
        await slack.settle()  # the worker counts the delivery after Slack answered the POST
        after = await scrape(client)
        delivered = ("dealcoach_slack_commands_total", {"outcome": "delivered"})
        assert after[delivered] - before[delivered] == 1
        acks = ("dealcoach_ack_seconds_count", {"surface": "slack"})
        assert after[acks] - before[acks] == 1
        answered_in = ("dealcoach_command_seconds_count", {"surface": "slack"})
        assert after[answered_in] - before[answered_in] == 1

        kinds: list[str] = []
        for _ in range(5 * 24):  # two and a half days in 30-minute ticks
            clock.advance(timedelta(minutes=30))
            before = len(slack_api.to("chat.postMessage"))
            await dispatcher.tick()
            kinds += [c.args["text"] for c in slack_api.to("chat.postMessage")[before:]]
        precall = [k for k in kinds if k.startswith("In ")]
        followup = [k for k in kinds if k.startswith("How did #1")]
        reminder = [k for k in kinds if "personal note" in k.lower()]
        assert len(precall) == 1 and len(followup) == 1 and len(reminder) == 1, kinds
        first = slack_api.to("chat.postMessage")[0]
        assert [b["value"] for b in buttons(first.args["blocks"])] == ["ok", "later negotiation 1 10", "prep 1"]
        assert "Acme" in block_text(first.args["blocks"])
