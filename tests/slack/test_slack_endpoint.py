"""POST /slack/events: signatures, malformed bodies, the slash command and its ephemeral replies."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from slack_sdk.signature import SignatureVerifier

from adapters.slack.store import slack_inbox
from coaching.models import Negotiation
from tests.slack.slackfakes import SECRET, USER, block_text, fixture, form_body, signed_headers


def test_our_signatures_are_the_ones_slack_sdk_verifies():
    body = form_body(fixture("slash_command"))
    headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not SignatureVerifier("another-secret").is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


async def test_slash_command_gets_an_empty_ack_then_one_ephemeral_reply_at_response_url(slack, slack_api):
    response = await slack.command("help")
    assert response.status == 200
    assert await response.text() == ""  # the ack shows nothing; the answer follows
    reply = await slack_api.reply_at(slack.hook)
    assert reply["response_type"] == "ephemeral"
    assert "log" in block_text(reply["blocks"])
    assert reply["text"]
    # exactly once: a second command's answer arrives, and the first hook still has one call
    await slack.ask("list")
    assert len(slack_api.hook_calls(slack.hook)) == 1
    assert len(slack_api.to("response_url")) == 2
    await slack.settle()  # delivered rows are deleted
    async with slack.adapter.inbox._engine.connect() as connection:
        assert (await connection.execute(sa.select(sa.func.count()).select_from(slack_inbox))).scalar() == 0


async def test_log_by_slash_command_confirms_and_lists(slack, slack_api):
    reply = await slack.ask("log Acme tomorrow 3pm")
    assert reply["response_type"] == "ephemeral"
    assert "Acme" in reply["text"] + block_text(reply["blocks"])
    listed = await slack.ask("list")
    assert "Acme" in block_text(listed["blocks"])
    # the time zone came from users.info once, then from the cache
    assert [c.args["user"] for c in slack_api.to("users.info")] == [USER]


async def test_time_zone_from_the_profile_is_used_to_read_times(slack, slack_api, sessions):
    slack_api.timezones[USER] = "America/New_York"
    await slack.ask("log Acme 2026-12-02 15:00")
    async with sessions() as session:
        starts = await session.scalar(sa.select(Negotiation.starts_at))
    assert starts == datetime(2026, 12, 2, 20, 0, tzinfo=UTC)  # 15:00 in New York


async def test_unknown_words_get_a_short_error_not_a_trace(slack):
    reply = await slack.ask("frobnicate the deal")
    assert reply["response_type"] == "ephemeral"
    assert "Traceback" not in json.dumps(reply)
    assert reply["blocks"][0]["text"]["text"].startswith(":warning:")


async def test_bad_signature_is_401(slack):
    body = form_body(fixture("slash_command"))
    headers = signed_headers(body, content_type="application/x-www-form-urlencoded", secret="wrong")
    response = await slack.client.post("/slack/events", data=body.encode(), headers=headers)
    assert response.status == 401


async def test_stale_timestamp_is_401(slack):
    response = await slack.post(
        form_body(fixture("slash_command")),
        "application/x-www-form-urlencoded",
        timestamp=int(time.time()) - 10 * 60,
    )
    assert response.status == 401


async def test_missing_signature_headers_is_401(slack):
    body = form_body(fixture("slash_command"))
    response = await slack.client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == 401


async def test_url_verification_echoes_the_challenge(slack):
    payload = fixture("url_verification")
    response = await slack.event(payload)
    assert response.status == 200
    assert (await response.json())["challenge"] == payload["challenge"]


async def test_malformed_bodies_are_4xx_without_a_traceback(slack, caplog):
    caplog.set_level(logging.DEBUG)
    cases = [
        ("{not json", "application/json"),
        ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
        ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
        ("", "application/json"),
        (json.dumps({"type": "event_callback"}), "application/json"),
        (json.dumps({"type": "block_actions", "actions": []}), "application/json"),
        (form_body({"command": "/negotiation", "text": "list"}), "application/x-www-form-urlencoded"),
    ]
    for body, content_type in cases:
        response = await slack.post(body, content_type)
        assert response.status == 400, (body, response.status)
        unsigned = await slack.client.post("/slack/events", data=body, headers={"Content-Type": content_type})
        assert unsigned.status == 401, (body, unsigned.status)
        assert "Traceback" not in await response.text()
    # non-UTF-8 bytes, signed as they are
    raw = b"payload=\xff\xfe"
    headers = signed_headers(raw.decode("latin-1"), content_type="application/x-www-form-urlencoded")
    response = await slack.client.post("/slack/events", data=raw, headers=headers)
    assert 400 <= response.status < 500
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


async def test_a_slow_coach_does_not_delay_the_ack(slack_api, settings, coach, sessions):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from adapters.slack import SLACK, setup
    from tests.slack.conftest import SlackHarness

    release = asyncio.Event()

    class SlowCoach:
        def __getattr__(self, name):
            return getattr(coach, name)

        async def handle_text(self, actor, text, **kwargs):
            await release.wait()  # a locked database, say
            return await coach.handle_text(actor, text, **kwargs)

    app = web.Application()
    sender = setup(app, settings, SlowCoach(), sessions, min_interval=0)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        slack = SlackHarness(client, app[SLACK], sender, slack_api)
        response = await slack.command("log Acme 2026-12-01 14:00")
        assert response.status == 200 and await response.text() == ""
        assert slack_api.to("response_url") == []
        release.set()
        late = await slack_api.reply_at(slack.hook)
        assert late["response_type"] == "ephemeral"
        assert "Acme" in late["text"]
    async with sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Negotiation)) == 1


async def test_a_slow_form_closes_the_modal_and_the_answer_follows_as_a_dm(slack_api, settings, coach, sessions):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from adapters.slack import SLACK, setup
    from tests.slack.conftest import SlackHarness
    from tests.slack.slackfakes import moment, submission, text

    release = asyncio.Event()

    class SlowCoach:
        def __getattr__(self, name):
            return getattr(coach, name)

        async def handle(self, command, **kwargs):
            await release.wait()
            return await coach.handle(command, **kwargs)

    app = web.Application()
    sender = setup(app, settings, SlowCoach(), sessions, min_interval=0, ack_deadline=0.05)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        slack = SlackHarness(client, app[SLACK], sender, slack_api)
        starts = int(datetime(2026, 12, 3, 13, 0, tzinfo=UTC).timestamp())
        form = submission("dealcoach.log", {"counterpart": text("Globex"), "when": moment(starts)})
        response = await slack.interaction(form)
        assert response.status == 200 and await response.text() == ""  # the modal closes
        release.set()
        await slack.settle()
        [dm] = slack_api.to("chat.postMessage")
        assert "Globex" in dm.args["text"]


async def test_a_slow_click_is_acknowledged_in_time_and_shows_once_applied(slack_api, settings, coach, sessions, clock):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from adapters.slack import SLACK, setup
    from coaching.outbox import Dispatcher
    from tests.slack.conftest import SlackHarness
    from tests.slack.slackfakes import buttons

    release, slow = asyncio.Event(), asyncio.Event()

    class SlowCoach:
        def __getattr__(self, name):
            return getattr(coach, name)

        async def handle_text(self, actor, text, **kwargs):
            if slow.is_set():
                await release.wait()
            return await coach.handle_text(actor, text, **kwargs)

    app = web.Application()
    sender = setup(app, settings, SlowCoach(), sessions, min_interval=0, ack_deadline=0.05)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        slack = SlackHarness(client, app[SLACK], sender, slack_api)
        await slack.ask("log Acme 2026-12-01 14:00")
        clock.set(datetime(2026, 12, 1, 12, 30, tzinfo=UTC))
        await Dispatcher(sessions, coach, {"slack": sender}, clock).tick()
        [reminder] = slack_api.to("chat.postMessage")
        [(channel, ts)] = list(slack_api.messages)
        [got_it] = [b for b in buttons(reminder.args["blocks"]) if b["text"]["text"] == "Got it"]

        slow.set()
        click = slack.click_payload(got_it, ts, channel)
        response = await asyncio.wait_for(slack.interaction(click), 2.0)  # well inside Slack's 3 s
        assert response.status == 200
        assert slack_api.to("chat.update") == []  # not applied yet
        release.set()
        await slack.settle()
        [update] = slack_api.to("chat.update")
        assert (update.args["channel"], update.args["ts"]) == (channel, ts)
        assert "Got it" in block_text(update.args["blocks"]) and buttons(update.args["blocks"]) == []
