"""Calendars from Slack: ``calendar <url>`` is refused in a channel (ephemeral, the address never shown or
logged) and subscribes in the app's DM; an .ics file sent in the DM is downloaded with the bot token from
the fake Slack on loopback and imported once; the profile email tells the rep's own domain.

Real coach and database; the fake Slack Web API (``files.info``, the private download URL, ``users.info``
with ``profile.email``) and the calendar provider are loopback servers."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.slack.store import slack_inbox
from coaching.calendars import shared_refusal
from coaching.engine import Coach
from coaching.outbox import Dispatcher
from tests.calendar_chats import COLLEAGUES_ONLY, feed, feeding_coach, provider_at
from tests.slack.slackfakes import DM, USER, block_text, buttons, fixture

SECRET = "5ecretT0ken"
URL = f"https://calendar.google.com/calendar/ical/jane%40acme.com/private-{SECRET}/basic.ics"
CHANNEL = "C2147483705"  # the slash command fixture's channel
NOW = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)  # the calendar fixtures are written around this Monday


@pytest.fixture
def calendar_now(clock) -> None:
    clock.set(NOW)


@pytest.fixture
async def coach(sessions, clock) -> AsyncIterator[Coach]:
    async with feeding_coach(sessions, clock) as coach:
        yield coach


_events = iter(range(1, 1_000_000))


def file_message(file_id: str, *, channel: str = DM, event_id: str | None = None) -> dict[str, Any]:
    """The DM's message event for a file someone sent (subtype ``file_share``), as Slack posts it."""
    body = fixture("event_message_im")
    body["event_id"] = event_id or f"EvFILE{next(_events)}"
    body["event"].update(
        subtype="file_share",
        text="",
        channel=channel,
        files=[{"id": file_id, "name": "calendar.ics", "filetype": "ics", "mode": "hosted"}],
    )
    return body


def file_shared(file_id: str, *, channel: str = DM, user: str = USER) -> dict[str, Any]:
    body = copy.deepcopy(fixture("event_message_im"))
    body["event_id"] = f"EvSHARED{next(_events)}"
    body["event"] = {
        "type": "file_shared",
        "file_id": file_id,
        "user_id": user,
        "file": {"id": file_id},
        "channel_id": channel,
        "event_ts": "1700000700.000100",
    }
    return body


def dm_answers(slack_api) -> list[str]:
    """Everything the app posted into the DM, as read (text and blocks)."""
    posted = [c for c in slack_api.to("chat.postMessage") if c.args.get("channel") == DM]
    return [(c.args.get("text") or "") + "\n" + block_text(c.args.get("blocks") or []) for c in posted]


async def send_file(slack, slack_api, name: str, data: bytes, **extra: Any) -> str:
    file_id = slack_api.share_file(name, data, **extra)
    response = await slack.event(file_message(file_id))
    assert response.status == 200, await response.text()
    await slack.settle()
    return file_id


def everything_sent(slack_api) -> str:
    return json.dumps([c.args for c in slack_api.calls], default=str)


# ---------------------------------------------------------------------------- the secret address


async def test_calendar_url_in_a_channel_is_refused_ephemerally_never_echoed_nor_logged(slack, slack_api, caplog):
    caplog.set_level(logging.DEBUG)

    reply = await slack.ask(f"calendar <{URL}>")

    assert reply["response_type"] == "ephemeral"
    assert SECRET not in json.dumps(reply)
    assert reply["text"] == shared_refusal().text  # the coach's refusal, with its advice
    assert "Reset the secret address" in block_text(reply["blocks"])
    status = await slack.ask("calendar", channel_id=DM, channel_name="directmessage")
    assert SECRET not in json.dumps(status)
    assert "calendar.google.com" not in status["text"]  # nothing was subscribed
    assert SECRET not in everything_sent(slack_api)
    assert SECRET not in caplog.text


def mention(text: str, channel: str = CHANNEL) -> dict[str, Any]:
    """The app @mentioned in a channel (``app_mention``), as Slack posts it."""
    body = fixture("event_message_im")
    body["event_id"] = f"EvMENTION{next(_events)}"
    body["event"] = {"type": "app_mention", "user": USER, "text": f"<@UBOT> {text}", "ts": "1700000800.000100",
                     "channel": channel, "event_ts": "1700000800.000100"}  # fmt: skip
    return body


async def test_calendar_url_in_a_mention_is_refused_to_the_sender_only(slack, slack_api, caplog):
    caplog.set_level(logging.DEBUG)

    assert (await slack.event(mention(f"calendar <{URL}>"))).status == 200
    await slack.settle()

    [refusal] = slack_api.to("chat.postEphemeral")
    assert (refusal.args["channel"], refusal.args["user"]) == (CHANNEL, USER)
    assert refusal.args["text"] == shared_refusal().text
    assert slack_api.to("chat.postMessage") == []  # nothing in the channel for everyone
    assert SECRET not in everything_sent(slack_api) and SECRET not in caplog.text


async def test_a_mention_is_a_command_answered_ephemerally(slack, slack_api):
    assert (await slack.event(mention("log Acme tomorrow 3pm"))).status == 200
    await slack.settle()

    [answer] = slack_api.to("chat.postEphemeral")
    assert "Acme" in answer.args["text"] and answer.args["user"] == USER


async def test_an_inbox_row_kept_after_a_failed_answer_holds_no_address(slack, slack_api, sessions, caplog):
    caplog.set_level(logging.DEBUG)
    slack_api.fail_hook(status=404)  # the answer cannot be delivered: the row is kept, as "failed"

    await slack.command(f"calendar <{URL}>")
    await slack_api.wait_for(lambda: slack_api.hook_calls(slack.hook))
    await slack.settle()

    async with sessions() as session:
        [row] = (await session.execute(sa.select(slack_inbox))).mappings().all()
    assert row["status"] == "failed"
    assert SECRET not in row["text"] and SECRET not in (row["reply"] or "")
    assert row["text"].startswith("calendar https://calendar.google.com/")
    assert SECRET not in caplog.text


async def test_calendar_url_in_the_dm_subscribes_and_the_status_shows_the_feed(slack, slack_api, calendar_now, caplog):
    caplog.set_level(logging.DEBUG)
    slack_api.emails[USER] = "jane@acme.com"
    path = f"/calendar/ical/jane/private-{SECRET}/basic.ics"
    message = fixture("event_message_im")

    async with provider_at(path) as provider:
        message["event"]["text"] = f"calendar <{provider.url(path)}>"  # Slack sends a link in angle brackets
        assert (await slack.event(message)).status == 200
        await slack.settle()
        [subscribed] = dm_answers(slack_api)
        status = await slack.ask("calendar", channel_id=DM, channel_name="directmessage")

    assert "Globex" in subscribed  # the first sync's list of what was found
    assert len(provider.requests) == 1
    assert "127.0.0.1" in status["text"] + block_text(status["blocks"])  # the feed, shown as scheme and host
    assert SECRET not in everything_sent(slack_api) and SECRET not in caplog.text


async def test_other_calendar_commands_in_a_channel_answer_as_usual(slack):
    reply = await slack.ask("calendar")

    assert reply["response_type"] == "ephemeral"
    assert "calendar" in reply["text"].lower()
    assert "went wrong" not in reply["text"].lower()


# ---------------------------------------------------------------------------- files sent in the DM


async def test_an_ics_file_in_the_dm_is_imported_once_with_buttons(slack, slack_api, calendar_now):
    slack_api.emails[USER] = "jane@acme.com"
    file_id = slack_api.share_file("google.ics", feed("google.ics"))

    for event in (file_message(file_id), file_shared(file_id), file_message(file_id)):
        assert (await slack.event(event)).status == 200
    assert (await slack.event(file_message(file_id, event_id="EvFILEAGAIN"))).status == 200
    assert (await slack.event(file_message(file_id, event_id="EvFILEAGAIN"))).status == 200  # Slack's retry
    await slack.settle()

    [download] = slack_api.to("download")
    assert download.token == "xoxb-test-token"
    [answer] = dm_answers(slack_api)
    assert "Globex" in answer
    listed = await slack.ask("list")
    assert "Globex" in listed["text"] + block_text(listed.get("blocks") or [])
    labels = {b["text"]["text"] for b in buttons(slack_api.last_blocks())}
    assert {"Not a negotiation", "Never this series"} <= labels


async def test_never_this_series_runs_its_command(slack, slack_api, calendar_now):
    slack_api.emails[USER] = "jane@acme.com"
    await send_file(slack, slack_api, "google.ics", feed("google.ics"))
    [posted] = [c for c in slack_api.to("chat.postMessage") if c.args.get("channel") == DM]
    never = next(b for b in buttons(posted.args["blocks"]) if b["text"]["text"] == "Never this series")
    assert never["value"].startswith("calendar ignore ") and never["value"].endswith(" series")
    ts = next(ts for (channel, ts), m in slack_api.messages.items() if channel == DM and m["blocks"])

    response = await slack.interaction(slack.click_payload(never, ts, DM))
    await slack.settle()

    assert response.status == 200
    [update] = slack_api.to("chat.update")
    assert "went wrong" not in block_text(update.args["blocks"]).lower()


async def test_the_profile_email_makes_colleagues_meetings_internal(slack, slack_api, calendar_now):
    slack_api.emails[USER] = "jane@acme.com"

    await send_file(slack, slack_api, "team.ics", COLLEAGUES_ONLY)

    [found] = dm_answers(slack_api)
    assert "Initech contract call" in found
    assert "Pricing review" not in found  # a keyword, but only colleagues at acme.com


async def test_without_the_email_the_same_meeting_goes_by_its_title(slack, slack_api, calendar_now):
    await send_file(slack, slack_api, "team.ics", COLLEAGUES_ONLY)

    [found] = dm_answers(slack_api)
    assert "Pricing review" in found


async def test_a_file_that_is_no_calendar_gets_a_short_answer_and_is_not_downloaded(slack, slack_api):
    await send_file(slack, slack_api, "notes.txt", b"just notes", filetype="text")

    [answer] = dm_answers(slack_api)
    assert "not a calendar file" in answer and ".ics" in answer
    assert slack_api.to("download") == []


async def test_a_file_larger_than_5_mb_is_not_downloaded(slack, slack_api):
    await send_file(slack, slack_api, "huge.ics", b"BEGIN:VCALENDAR", size=6 * 1024 * 1024)

    [answer] = dm_answers(slack_api)
    assert "larger than 5 MB" in answer
    assert slack_api.to("download") == []


async def test_a_file_that_turns_out_larger_than_it_said_is_abandoned(slack, slack_api, coach):
    body = b"BEGIN:VCALENDAR\r\n" + b"X" * (5 * 1024 * 1024 + 1)
    await send_file(slack, slack_api, "sneaky.ics", body, size=100)

    [answer] = dm_answers(slack_api)
    assert "larger than 5 MB" in answer


async def test_the_bot_token_goes_only_to_slacks_file_host(slack, slack_api):
    elsewhere = "https://files.example.com/download/calendar.ics"
    await send_file(slack, slack_api, "calendar.ics", b"BEGIN:VCALENDAR", url_private_download=elsewhere)

    [answer] = dm_answers(slack_api)
    assert "download" in answer.lower()
    assert slack_api.to("download") == []  # and nothing else was contacted: no test leaves loopback


async def test_a_file_shared_in_a_channel_is_not_read(slack, slack_api):
    file_id = slack_api.share_file("google.ics", feed("google.ics"))

    assert (await slack.event(file_shared(file_id, channel=CHANNEL))).status == 200
    await slack.settle()

    assert slack_api.to("files.info") == [] and slack_api.to("download") == []
    assert slack_api.to("chat.postMessage") == []


async def test_a_file_the_app_shared_itself_is_not_read(slack, slack_api):
    file_id = slack_api.share_file("digest-chart.png", b"PNG", filetype="png")  # the weekly digest's chart

    assert (await slack.event(file_shared(file_id, user="UBOT"))).status == 200  # UBOT: auth.test's user_id
    await slack.settle()

    assert slack_api.to("files.info") == [] and slack_api.to("chat.postMessage") == []


async def test_the_journey_subscribe_list_then_the_meeting_moves_and_sync_moves_it(
    slack, slack_api, sessions, coach, clock, calendar_now
):
    slack_api.emails[USER] = "jane@acme.com"
    path = f"/calendar/ical/jane/private-{SECRET}/basic.ics"

    async with provider_at(path) as provider:
        await slack.ask(f"calendar <{provider.url(path)}>", channel_id=DM)
        before = block_text((await slack.ask("list", channel_id=DM))["blocks"])
        provider.publish(path, feed("google-edited.ics"), version=1)  # a call moved, one cancelled, one new
        synced = await slack.ask("calendar sync", channel_id=DM)
        after = block_text((await slack.ask("list", channel_id=DM))["blocks"])

    assert "#1 Globex — Tue 16 Jun 10:00" in before and "#5 Wayne Enterprises" in before
    assert "Moved #1 Globex to Tue 16 Jun 15:00" in block_text(synced["blocks"])
    assert "#1 Globex — Tue 16 Jun 15:00" in after
    assert "Wayne Enterprises" not in after  # cancelled with the calendar

    dispatcher = Dispatcher(sessions, coach, {"slack": slack.sender}, clock, worker="slack-test")
    clock.set(datetime(2026, 6, 16, 7, 45, tzinfo=UTC))  # 09:45 in Berlin: where the reminder was before the move
    await dispatcher.tick()
    assert not [c for c in slack_api.to("chat.postMessage") if "Globex" in (c.args.get("text") or "")]
    clock.set(datetime(2026, 6, 16, 12, 45, tzinfo=UTC))  # 14:45: before the moved call at 15:00
    await dispatcher.tick()
    assert [c for c in slack_api.to("chat.postMessage") if "#1 with Globex" in (c.args.get("text") or "")]


async def test_each_meeting_on_the_found_list_can_be_dismissed_on_its_own(slack, slack_api, calendar_now):
    slack_api.emails[USER] = "jane@acme.com"
    await send_file(slack, slack_api, "google.ics", feed("google.ics"))
    ts = next(ts for (channel, ts), m in slack_api.messages.items() if channel == DM and m["blocks"])
    nots = [b for b in buttons(slack_api.messages[(DM, ts)]["blocks"]) if b["text"]["text"] == "Not a negotiation"]
    first, second = nots[:2]

    await slack.interaction(slack.click_payload(first, ts, DM))
    await slack.settle()
    await slack.interaction(slack.click_payload(second, ts, DM))  # the message as updated after the first click
    await slack.settle()
    await slack.interaction(slack.click_payload(second, ts, DM))  # a double click: applied once
    await slack.settle()

    left = {b["value"] for b in buttons(slack_api.messages[(DM, ts)]["blocks"])}
    assert first["value"] not in left and second["value"] not in left
    assert len(left) == len(buttons(slack_api.to("chat.postMessage")[0].args["blocks"])) - 2
    listed = block_text((await slack.ask("list", channel_id=DM))["blocks"])
    assert f"#{first['value'].split()[-1]} " not in listed and f"#{second['value'].split()[-1]} " not in listed
