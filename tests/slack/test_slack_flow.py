"""The whole Slack round trip on a fake clock: log by slash command, then the pre-call DM, the
follow-up DM with its forms, and the commitment reminders reach the fake Slack API exactly once
each, and every button and form on them works (chat.update shows the choice; replays are harmless)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from coaching.models import Commitment
from coaching.outbox import Dispatcher
from tests.slack.slackfakes import (
    USER,
    block_text,
    buttons,
    day,
    number,
    radio,
    select,
    submission,
    text,
)


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


def posted(api, needle: str) -> list:
    return [c for c in api.to("chat.postMessage") if needle in (c.args.get("text") or "")]


def button(blocks, label):
    [found] = [b for b in buttons(blocks) if b["text"]["text"] == label]
    return found


def dm_of(api, call) -> tuple[str, str]:
    """(channel, ts) of a message the fake API stored for a chat.postMessage call."""
    for (channel, ts), message in api.messages.items():
        if message["text"] == call.args["text"] and message["blocks"] == call.args["blocks"]:
            return channel, ts
    raise AssertionError("message not stored")


async def test_log_then_every_nudge_once_with_working_buttons_and_forms(slack, slack_api, sessions, coach, clock):
    dispatcher = Dispatcher(sessions, coach, {"slack": slack.sender}, clock)
    reply = await slack.ask("log Acme 2026-12-01 14:00")  # Berlin: 13:00 UTC
    assert "Acme" in reply["text"]

    await dispatcher.tick()
    assert slack_api.to("chat.postMessage") == []

    # -- pre-call reminder at start - 30 min, once
    clock.set(at("2026-12-01 12:30"))
    await dispatcher.tick()
    await dispatcher.tick()
    [precall] = slack_api.to("chat.postMessage")
    assert "#1 with Acme" in precall.args["text"]
    channel, ts = dm_of(slack_api, precall)
    prep = button(precall.args["blocks"], "Prep brief")

    # "Prep brief": the brief arrives, the reminder shows the choice and loses its buttons
    click = slack.click_payload(prep, ts, channel)
    assert (await slack.interaction(click)).status == 200
    await slack.settle()
    [update] = slack_api.to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (channel, ts)
    assert buttons(update.args["blocks"]) == []
    assert "Prep brief" in block_text(update.args["blocks"])
    assert len(slack_api.to("chat.postMessage")) == 2  # the brief itself

    # a double click (or Slack replaying it) changes nothing
    assert (await slack.interaction(click)).status == 200
    await slack.settle()
    assert len(slack_api.to("chat.update")) == 1
    assert len(slack_api.to("chat.postMessage")) == 2

    # -- follow-up prompt at end + 15 min, once
    clock.set(at("2026-12-01 14:15"))
    await dispatcher.tick()
    await dispatcher.tick()
    [followup] = posted(slack_api, "How did #1")
    channel, ts = dm_of(slack_api, followup)
    labels = [b["text"]["text"] for b in buttons(followup.args["blocks"])]
    assert labels == ["Log outcome", "Outcome form", "Add commitment", "Follow-up sent", "Remind me in 1 h"]

    # "Outcome form" opens the outcome form for negotiation 1 ("Log outcome" asks one question at a time)
    await slack.interaction(slack.click_payload(button(followup.args["blocks"], "Outcome form"), ts, channel))
    await slack.settle()
    [opened] = slack_api.to("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "dealcoach.outcome"
    assert json.loads(view["private_metadata"])["negotiation"] == 1
    values = {
        "outcome": select("agreed"),
        "opened_with_connection": radio("yes"),
        "sentiment": select("4"),
        "hard_win": radio("no"),
        "concessions_given": number(1),
        "concessions_received": number(2),
        "notes": text("Signed the renewal"),
        "observations": text("Their CFO just had a baby"),
    }
    response = await slack.interaction(
        submission("dealcoach.outcome", values, private_metadata=view["private_metadata"], view_id="V0OUT")
    )
    assert response.status == 200
    assert await response.text() == ""  # an empty ack closes the modal
    await slack.settle()
    update = slack_api.to("chat.update")[-1]
    assert (update.args["channel"], update.args["ts"]) == (channel, ts)
    assert [b["text"]["text"] for b in buttons(update.args["blocks"])] == [
        "Log outcome",
        "Add commitment",
        "Follow-up sent",
        "Remind me in 1 h",
    ]
    assert "Outcome form" in block_text(update.args["blocks"])
    listed = await slack.ask("list")
    assert "Acme" in block_text(listed["blocks"])

    # "Add commitment" opens the commitment form; submitting it twice adds one commitment
    await slack.interaction(slack.click_payload(button(update.args["blocks"], "Add commitment"), ts, channel))
    await slack.settle()
    view = slack_api.to("views.open")[-1].args["view"]
    assert view["callback_id"] == "dealcoach.commitment"
    values = {"side": radio("ours"), "text": text("send the revised price sheet"), "due": day("2026-12-03")}
    form = submission("dealcoach.commitment", values, private_metadata=view["private_metadata"], view_id="V0COM")
    assert (await slack.interaction(form)).status == 200
    assert (await slack.interaction(form)).status == 200
    await slack.settle()
    commitments = await slack.ask("commitments")
    assert block_text(commitments["blocks"]).count("revised price sheet") == 1

    # "Follow-up sent"
    update = slack_api.to("chat.update")[-1]
    await slack.interaction(slack.click_payload(button(update.args["blocks"], "Follow-up sent"), ts, channel))
    await slack.settle()
    assert "Follow-up sent" in block_text(slack_api.to("chat.update")[-1].args["blocks"])

    # -- commitment reminder the day before at 09:00 local (08:00 UTC), once
    before = len(slack_api.to("chat.postMessage"))
    clock.set(at("2026-12-02 08:00"))
    await dispatcher.tick()
    await dispatcher.tick()
    new = slack_api.to("chat.postMessage")[before:]
    assert len(new) == 1
    reminder = new[0]
    assert "revised price sheet" in reminder.args["text"] + block_text(reminder.args["blocks"])
    channel, ts = dm_of(slack_api, reminder)
    kept = slack.click_payload(button(reminder.args["blocks"], "Kept"), ts, channel)
    updates = len(slack_api.to("chat.update"))
    await slack.interaction(kept)
    await slack.interaction(kept)
    await slack.settle()
    assert len(slack_api.to("chat.update")) == updates + 1
    update = slack_api.to("chat.update")[-1]
    assert buttons(update.args["blocks"]) == []
    assert "Kept" in block_text(update.args["blocks"])
    # "Missed" on the same reminder, clicked before the update reached the screen: the first answer stands
    await slack.interaction(slack.click_payload(button(reminder.args["blocks"], "Missed"), ts, channel))
    await slack.settle()
    assert len(slack_api.to("chat.update")) == updates + 1
    async with sessions() as session:
        assert (await session.scalars(sa.select(Commitment.status))).all() == ["kept"]

    # resolved: the due-day and overdue reminders are not sent
    sent = len(slack_api.to("chat.postMessage"))
    for moment in ("2026-12-03 08:00", "2026-12-04 08:00"):
        clock.set(at(moment))
        await dispatcher.tick()
    assert len(slack_api.to("chat.postMessage")) == sent
    assert all(c.args["channel"] in (USER, "D" + USER[1:]) for c in slack_api.to("chat.postMessage"))


async def test_a_nudge_rate_limited_by_slack_is_retried_after_retry_after_and_sent_once(
    slack, slack_api, sessions, coach, clock
):
    dispatcher = Dispatcher(sessions, coach, {"slack": slack.sender}, clock)
    await slack.ask("log Acme 2026-12-01 14:00")
    slack_api.rate_limit("chat.postMessage", retry_after=120)
    clock.set(at("2026-12-01 12:30"))
    report = await dispatcher.tick()
    assert report.retried == 1
    assert slack_api.messages == {}
    clock.set(at("2026-12-01 12:31"))  # before Retry-After has passed
    await dispatcher.tick()
    assert len(slack_api.to("chat.postMessage")) == 1
    clock.set(at("2026-12-01 12:32"))
    report = await dispatcher.tick()
    assert report.sent == 1
    assert len(slack_api.messages) == 1
    await dispatcher.tick()
    assert len(slack_api.messages) == 1
