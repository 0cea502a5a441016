"""Events, forms opened by the slash command, ephemeral buttons, App Home and the time-zone cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy import select as sql_select

from adapters.slack.store import slack_inbox
from coaching.models import Negotiation, User, Workspace
from tests.slack.slackfakes import (
    DM,
    TEAM,
    USER,
    block_text,
    buttons,
    fixture,
    moment,
    radio,
    select,
    submission,
    text,
)


async def count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(sql_select(func.count()).select_from(model))


async def test_log_without_arguments_opens_the_form_and_the_form_logs(slack, slack_api, sessions):
    response = await slack.command("log")
    assert response.status == 200
    assert await response.text() == ""
    await slack.settle()
    [opened] = slack_api.to("views.open")
    assert opened.args["trigger_id"] == slack.trigger
    view = opened.args["view"]
    assert view["callback_id"] == "dealcoach.log"
    assert {b["block_id"] for b in view["blocks"]} >= {"counterpart", "when", "duration", "channel", "repeat"}

    starts = int(datetime(2026, 12, 3, 13, 0, tzinfo=UTC).timestamp())
    values = {
        "counterpart": text("Globex"),
        "when": moment(starts),
        "duration": {"value": {"type": "number_input", "value": "45"}},
        "channel": select("phone"),
        "title": text("Renewal"),
        "repeat": radio("yes"),
        "long_term_value": text("A reference customer"),
    }
    response = await slack.interaction(submission("dealcoach.log", values, private_metadata=view["private_metadata"]))
    assert response.status == 200
    await slack.settle()
    async with sessions() as session:
        negotiation = await session.scalar(sql_select(Negotiation))
    assert (negotiation.channel, negotiation.duration_minutes, negotiation.repeat) == ("phone", 45, True)
    assert negotiation.starts_at == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    # the confirmation goes to the person's DM with the app
    assert "Globex" in slack_api.to("chat.postMessage")[-1].args["text"]


async def test_form_field_errors_are_shown_next_to_the_field(slack, slack_api, sessions):
    response = await slack.interaction(submission("dealcoach.log", {"counterpart": text("Globex")}))
    body = await response.json()
    assert body["response_action"] == "errors" and "when" in body["errors"]
    # an outcome for a negotiation that does not exist: the coach's error, on the form
    meta = json.dumps({"negotiation": 99})
    response = await slack.interaction(
        submission("dealcoach.outcome", {"outcome": select("agreed")}, private_metadata=meta, view_id="V0X")
    )
    body = await response.json()
    assert body["response_action"] == "errors" and body["errors"]["outcome"]
    assert await count(sessions, Negotiation) == 0


async def test_buttons_on_an_ephemeral_reply_answer_through_response_url(slack, slack_api):
    reply = await slack.ask("log Acme 2026-12-01 14:00")
    prep = [b for b in buttons(reply["blocks"]) if b["value"].startswith("prep")][0]
    payload, hook = slack.ephemeral_click_payload(prep)
    assert (await slack.interaction(payload)).status == 200
    await slack.settle()
    [hook] = slack_api.hook_calls(hook)
    assert hook.args["replace_original"] is True
    assert "Prep brief" in block_text(hook.args["blocks"])
    assert slack_api.to("chat.update") == []


async def test_app_home_is_published_when_opened(slack, slack_api, sessions):
    await slack.ask("log Acme 2026-12-01 14:00")
    response = await slack.event(fixture("event_app_home_opened"))
    assert response.status == 200
    await slack.settle()
    [published] = slack_api.to("views.publish")
    assert published.args["user_id"] == USER
    view = published.args["view"]
    assert view["type"] == "home"
    assert "Acme" in block_text(view["blocks"])
    assert "Settings" in [b["text"]["text"] for b in buttons(view["blocks"])]
    async with sessions() as session:
        user = await session.scalar(sql_select(User))
    assert user.dm_channel == DM


async def test_settings_button_on_home_opens_the_settings_form(slack, slack_api, sessions):
    await slack.event(fixture("event_app_home_opened"))
    await slack.settle()
    home = slack_api.to("views.publish")[0].args["view"]
    settings = [b for b in buttons(home["blocks"]) if b["text"]["text"] == "Settings"][0]
    payload = fixture("block_actions")
    payload["container"] = {"type": "view", "view_id": "V0HOME"}
    del payload["message"], payload["channel"]
    payload["view"] = {"id": "V0HOME", "hash": "h1", "type": "home", "team_id": TEAM}
    payload["actions"][0].update(action_id=settings["action_id"], value=settings["value"], text=settings["text"])
    await slack.interaction(payload)
    await slack.settle()
    view = slack_api.to("views.open")[-1].args["view"]
    assert view["callback_id"] == "dealcoach.settings"
    response = await slack.interaction(
        submission(
            "dealcoach.settings",
            {"timezone": text("Asia/Tokyo"), "lead": {"value": {"type": "number_input", "value": "45"}}},
        )
    )
    assert response.status == 200
    await slack.settle()
    async with sessions() as session:
        user = await session.scalar(sql_select(User))
    assert (user.timezone, user.lead_minutes) == ("Asia/Tokyo", 45)


async def test_time_zone_is_fetched_once_and_refreshed_by_user_change(slack, slack_api, sessions):
    for _ in range(3):
        await slack.ask("list")
    assert len(slack_api.to("users.info")) == 1
    async with sessions() as session:
        assert (await session.scalar(sql_select(User))).timezone == "Europe/Berlin"
    await slack.event(fixture("event_user_change"))
    async with sessions() as session:
        assert (await session.scalar(sql_select(User))).timezone == "America/New_York"
    await slack.ask("list")
    assert len(slack_api.to("users.info")) == 1


async def test_retried_events_are_handled_once(slack, slack_api):
    event = fixture("event_app_home_opened")
    assert (await slack.event(event)).status == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await slack.event(event, headers=retry)).status == 200
    await slack.settle()
    assert len(slack_api.to("views.publish")) == 1
    event["event_id"] = "Ev0HOME0002"  # a new event is new
    await slack.event(event)
    await slack.settle()
    assert len(slack_api.to("views.publish")) == 2


async def test_uninstall_deletes_the_workspace_and_its_pending_nudges(slack, slack_api, sessions):
    await slack.ask("log Acme 2026-12-01 14:00")
    other = fixture("slash_command") | {"team_id": "T0OTHER"}
    await slack.ask("log Initech 2026-12-01 15:00", **{k: v for k, v in other.items() if k == "team_id"})
    assert await count(sessions, Workspace) == 2
    response = await slack.event(fixture("event_app_uninstalled"))
    assert response.status == 200
    async with sessions() as session:
        left = (await session.scalars(sql_select(Workspace.external_id))).all()
        assert left == ["T0OTHER"]
        assert await count(sessions, Negotiation) == 1
        from coaching.models import Nudge

        nudges = await session.scalar(sql_select(func.count()).select_from(Nudge))
    assert nudges > 0  # only the other workspace's


async def test_bot_tokens_revoked_deletes_the_workspace(slack, sessions):
    await slack.ask("log Acme 2026-12-01 14:00")
    user_only = fixture("event_tokens_revoked")
    user_only["event"]["tokens"]["bot"] = []
    user_only["event_id"] = "Ev0REVOKE00"
    await slack.event(user_only)
    assert await count(sessions, Workspace) == 1
    await slack.event(fixture("event_tokens_revoked"))
    assert await count(sessions, Workspace) == 0


async def test_a_direct_message_to_the_app_is_answered(slack, slack_api):
    assert (await slack.event(fixture("event_message_im"))).status == 200
    await slack_api.wait_for(lambda: slack_api.to("chat.postMessage"))
    [reply] = slack_api.to("chat.postMessage")
    assert reply.args["channel"] == DM
    assert "log" in block_text(reply.args["blocks"])
    bot_echo = fixture("event_message_im")
    bot_echo["event"]["bot_id"] = "B0BOT"
    bot_echo["event_id"] = "Ev0MESSAGE2"
    await slack.event(bot_echo)
    await slack.settle()
    # the app's own message is not even stored, so nothing will answer it
    async with slack.adapter.inbox._engine.connect() as connection:
        assert (await connection.execute(sql_select(func.count()).select_from(slack_inbox))).scalar() == 0
    assert len(slack_api.to("chat.postMessage")) == 1


async def test_an_event_that_failed_is_handled_when_slack_retries_it(slack, coach, sessions, monkeypatch):
    await slack.ask("log Acme 2026-12-01 14:00")
    real = coach.forget_workspace
    calls = []

    async def flaky(platform, workspace):
        calls.append(workspace)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        await real(platform, workspace)

    monkeypatch.setattr(coach, "forget_workspace", flaky)
    event = fixture("event_app_uninstalled")
    assert (await slack.event(event)).status == 500
    assert await count(sessions, Workspace) == 1
    assert (await slack.event(event, headers={"X-Slack-Retry-Num": "1"})).status == 200
    assert await count(sessions, Workspace) == 0
    assert (await slack.event(event, headers={"X-Slack-Retry-Num": "2"})).status == 200
    assert calls == ["T0001", "T0001"]
