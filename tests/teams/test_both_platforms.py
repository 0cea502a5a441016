"""Done when: one deployment serves a Slack user and a Teams user at once — each gets their own nudges on
their own platform at their own local time, and each sees only their own data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_runtime
from bot.config import Settings
from bot.web import RUNTIME, build_web_app
from tests.slack.slackfakes import SECRET, USER, FakeSlackAPI, form_body, signed_headers, slash_command

from .fakes import activity


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


async def test_a_slack_user_and_a_teams_user_on_one_server(database_url, clock, connector):
    slack_api = FakeSlackAPI()
    await slack_api.start()
    slack_api.timezones[USER] = "America/New_York"
    settings = Settings(
        database_url=database_url,
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SECRET,
        slack_api_url=slack_api.url,
        teams_emulator=True,
    )
    runtime = await build_runtime(settings, clock=clock)
    client = TestClient(TestServer(build_web_app(runtime, scheduler=False), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        assert set(client.app[RUNTIME].senders) >= {"slack", "teams"}

        async def slack(text: str) -> str:
            hook = slack_api.new_response_url()  # the answer follows the empty ack at the response_url
            body = form_body(slash_command() | {"text": text, "response_url": hook})
            headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
            response = await client.post("/slack/events", data=body.encode(), headers=headers)
            assert response.status == 200 and await response.text() == ""
            return json.dumps(await slack_api.reply_at(hook), ensure_ascii=False)

        async def teams(text: str) -> str:
            before = len(connector.calls)
            body = activity(connector.url, text=text, timezone="Asia/Tokyo")
            response = await client.post("/api/messages", json=body)
            assert response.status == 201
            [reply] = connector.calls[before:]
            return reply.visible

        # Wed 25 Nov 10:00 UTC. Both log "tomorrow 9am" — in their own time zones.
        assert "Globex" in await slack("log Globex tomorrow 9am")
        assert "Acme" in await teams("log Acme tomorrow 9am")  # Tokyo 09:00 = 00:00 UTC

        # each sees only their own negotiations
        teams_list, slack_list = await teams("list"), await slack("list")
        assert "Acme" in teams_list and "Globex" not in teams_list
        assert "Globex" in slack_list and "Acme" not in slack_list
        connector.calls.clear()
        slack_api.calls.clear()

        # 23:30 UTC = 08:30 in Tokyo: only the Teams user's pre-call reminder is due
        clock.set(at("2026-11-25 23:30"))
        await runtime.dispatcher.tick()
        [teams_nudge] = connector.calls
        assert "#1 with Acme" in teams_nudge.visible
        assert teams_nudge.path == "/v3/conversations/a:personal-conversation-1/activities"
        assert slack_api.to("chat.postMessage") == []

        # 13:30 UTC = 08:30 in New York: now the Slack user's, on Slack only
        clock.set(at("2026-11-26 13:30"))
        await runtime.dispatcher.tick()
        [slack_nudge] = slack_api.to("chat.postMessage")
        assert "Globex" in slack_nudge.args["text"]
        assert len(connector.calls) == 1
    finally:
        await client.close()
        await slack_api.stop()
