"""Calendars from Teams: ``calendar <url>`` is refused in a group chat or channel (in that chat, the address
never repeated or logged) and subscribes in the personal chat; an .ics file sent in the personal chat is
downloaded from its ``downloadUrl`` and imported once; the member lookup's email tells the rep's own domain.

Real coach and database; the fake Bot Connector, and a fake file host on loopback for the ``downloadUrl``."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.teams.calendars import DOWNLOAD_INFO, IN_PERSONAL_CHAT
from coaching.calendars import shared_refusal
from coaching.engine import Coach
from tests.calendar_chats import COLLEAGUES_ONLY, feed, feeding_coach, provider_at

from .fakes import LEAD, activity, member, recorded

SECRET = "5ecretT0ken"
URL = f"https://outlook.office365.com/owa/calendar/abc@contoso.com/{SECRET}/calendar.ics"
NOW = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)  # the calendar fixtures are written around this Monday
PERSONAL = "a:personal-conversation-1"
ANN = member("29:aad-user-1", "Ann Rep", "aad-user-1", "jane@acme.com")


@pytest.fixture
def calendar_now(clock) -> None:
    clock.set(NOW)


@pytest.fixture
async def coach(sessions, clock) -> AsyncIterator[Coach]:
    async with feeding_coach(sessions, clock) as coach:
        yield coach


async def post(client, body: dict[str, Any]) -> None:
    response = await client.post("/api/messages", json=body)
    assert response.status in (200, 201), await response.text()


async def say(client, connector, text: str, **kw: Any) -> list:
    before = len(connector.calls)
    await post(client, activity(connector.url, text=text, **kw))
    return connector.calls[before:]


def in_group(connector, text: str) -> dict[str, Any]:
    body = recorded("group_chat_message", connector.url)
    body["text"] = f"<at>DealCoach</at> {text}"
    return body


def with_file(connector, name: str, url: str, file_type: str = "ics", **kw: Any) -> dict[str, Any]:
    body = activity(connector.url, text="", **kw)
    body["attachments"] = [
        {
            "contentType": DOWNLOAD_INFO,
            "contentUrl": f"https://contoso-my.sharepoint.com/personal/ann/Documents/{name}",
            "content": {"downloadUrl": url, "uniqueId": "1150d938-8870-4044-9f2c-5bbdeba70c9d", "fileType": file_type},
            "name": name,
        }
    ]
    return body


async def send_file(client, connector, onedrive, name: str = "google.ics", data: bytes | None = None, **kw: Any):
    onedrive.files[name] = feed("google.ics") if data is None else data
    before = len(connector.calls)
    await post(client, with_file(connector, name, onedrive.download_url(name), **kw))
    return connector.calls[before:]


def everything(connector) -> str:
    return json.dumps([call.body for call in connector.calls])


# ---------------------------------------------------------------------------- the secret address


async def test_calendar_url_in_a_group_chat_is_refused_there_and_never_echoed(make_app, coach, connector, caplog):
    caplog.set_level(logging.DEBUG)
    client, _ = await make_app(coach)
    lena = {"user": LEAD["user"], "name": LEAD["name"], "conversation": "a:lena-personal"}
    await say(client, connector, "help", **lena)  # Lena has a personal chat: DealCoach could answer privately
    before = len(connector.calls)

    await post(client, in_group(connector, f"calendar {URL}"))

    [refusal] = connector.calls[before:]
    assert refusal.conversation_id.startswith("19:meeting_")  # shown in that chat
    assert shared_refusal().text in refusal.visible and "Reset the secret address" in refusal.visible
    assert SECRET not in everything(connector) and SECRET not in caplog.text
    [status] = await say(client, connector, "calendar", **lena)
    assert "outlook.office365.com" not in status.visible  # nothing was subscribed


async def test_calendar_url_in_the_personal_chat_subscribes_and_the_status_shows_the_feed(
    make_app, coach, connector, calendar_now, caplog
):
    caplog.set_level(logging.DEBUG)
    connector.rosters[PERSONAL] = [ANN]
    client, _ = await make_app(coach)
    path = f"/owa/calendar/{SECRET}/calendar.ics"

    async with provider_at(path) as provider:
        [subscribed] = await say(client, connector, f"calendar {provider.url(path)}")
        [status] = await say(client, connector, "calendar")

    assert "Globex" in subscribed.visible  # the first sync's list of what was found
    assert len(provider.requests) == 1
    assert "127.0.0.1" in status.visible  # the feed, shown as scheme and host
    assert SECRET not in everything(connector) and SECRET not in caplog.text


async def test_calendar_status_asked_in_a_group_chat_is_answered_privately(make_app, coach, connector):
    client, _ = await make_app(coach)
    lena = {"user": LEAD["user"], "name": LEAD["name"], "conversation": "a:lena-personal"}
    await say(client, connector, "help", **lena)
    before = len(connector.calls)

    await post(client, in_group(connector, "calendar"))

    private, in_thread = connector.calls[before:]
    assert private.conversation_id == "a:lena-personal" and "calendar" in private.visible.lower()
    assert in_thread.conversation_id.startswith("19:meeting_")


# ---------------------------------------------------------------------------- files sent in the personal chat


async def test_an_ics_file_in_the_personal_chat_is_imported_with_buttons(
    make_app, coach, connector, onedrive, calendar_now
):
    connector.rosters[PERSONAL] = [ANN]
    client, _ = await make_app(coach)

    [answer] = await send_file(client, connector, onedrive)

    assert onedrive.downloads == ["google.ics"]
    assert "Globex" in answer.visible
    titles = {a["title"] for a in (answer.card or {}).get("actions", [])}
    assert {"Not a negotiation", "Never this series"} <= titles
    [listed] = await say(client, connector, "list")
    assert "Globex" in listed.visible


async def test_a_redelivered_file_activity_is_imported_once(make_app, coach, connector, onedrive, calendar_now):
    client, _ = await make_app(coach)
    onedrive.files["google.ics"] = feed("google.ics")
    body = with_file(connector, "google.ics", onedrive.download_url("google.ics"))

    await post(client, body)
    await post(client, body)  # the channel delivered it again

    assert onedrive.downloads == ["google.ics"]


async def test_never_this_series_runs_its_command(make_app, coach, connector, onedrive, calendar_now):
    connector.rosters[PERSONAL] = [ANN]
    client, _ = await make_app(coach)
    [answer] = await send_file(client, connector, onedrive)
    never = next(a for a in answer.card["actions"] if a["title"] == "Never this series")

    before = len(connector.calls)
    await post(client, activity(connector.url, value=never["data"], replyToId=answer.id))

    assert never["data"]["command"].startswith("calendar ignore ")
    reply = connector.calls[before]
    assert "went wrong" not in reply.visible.lower()


async def test_the_member_lookups_email_makes_colleagues_meetings_internal(
    make_app, coach, connector, onedrive, calendar_now
):
    connector.rosters[PERSONAL] = [ANN]
    client, _ = await make_app(coach)

    [found] = await send_file(client, connector, onedrive, "team.ics", COLLEAGUES_ONLY)

    assert "Initech contract call" in found.visible
    assert "Pricing review" not in found.visible  # a keyword, but only colleagues at acme.com
    assert any("/members/" in path for path in connector.lookups)


async def test_without_the_email_the_same_meeting_goes_by_its_title(make_app, coach, connector, onedrive, calendar_now):
    client, _ = await make_app(coach)  # nobody in the roster: the lookup finds no email

    [found] = await send_file(client, connector, onedrive, "team.ics", COLLEAGUES_ONLY)

    assert "Pricing review" in found.visible


async def test_a_file_that_is_no_calendar_gets_a_short_answer_and_is_not_downloaded(
    make_app, coach, connector, onedrive
):
    client, _ = await make_app(coach)

    [answer] = await send_file(client, connector, onedrive, "notes.txt", b"just notes", file_type="txt")

    assert "not a calendar file" in answer.visible
    assert onedrive.downloads == []


async def test_a_file_larger_than_5_mb_is_abandoned(make_app, coach, connector, onedrive):
    client, _ = await make_app(coach)

    [answer] = await send_file(client, connector, onedrive, "huge.ics", b"X" * (5 * 1024 * 1024 + 1))

    assert "larger than 5 MB" in answer.visible


async def test_a_plain_http_download_address_is_refused_outside_emulator_mode(
    make_app, coach, connector, onedrive, issuer
):
    client, _ = await make_app(coach, authenticated=True)
    onedrive.files["google.ics"] = feed("google.ics")
    body = with_file(connector, "google.ics", onedrive.download_url("google.ics"))
    token = issuer.token(service_url=connector.url)

    response = await client.post("/api/messages", json=body, headers={"Authorization": f"Bearer {token}"})

    assert response.status == 201
    assert onedrive.downloads == []
    assert "safe way to download" in connector.calls[-1].visible


async def test_a_file_in_a_group_chat_is_not_read(make_app, coach, connector, onedrive):
    client, _ = await make_app(coach)
    onedrive.files["google.ics"] = feed("google.ics")
    body = in_group(connector, "")
    body["attachments"] = with_file(connector, "google.ics", onedrive.download_url("google.ics"))["attachments"]

    await post(client, body)

    assert onedrive.downloads == []
    assert connector.calls[-1].text == IN_PERSONAL_CHAT


async def test_the_journey_subscribe_list_then_the_meeting_moves_and_sync_moves_it(
    make_app, coach, connector, calendar_now
):
    connector.rosters[PERSONAL] = [ANN]
    client, _ = await make_app(coach)
    path = f"/owa/calendar/{SECRET}/calendar.ics"

    async with provider_at(path) as provider:
        await say(client, connector, f"calendar {provider.url(path)}")
        [before] = await say(client, connector, "list")
        provider.publish(path, feed("google-edited.ics"), version=1)  # a call moved, one cancelled, one new
        [synced] = await say(client, connector, "calendar sync")
        [after] = await say(client, connector, "list")

    assert "#1 Globex — Tue 16 Jun 10:00" in before.visible and "Wayne Enterprises" in before.visible
    assert "Moved #1 Globex to Tue 16 Jun 15:00" in synced.visible
    assert "#1 Globex — Tue 16 Jun 15:00" in after.visible
    assert "Wayne Enterprises" not in after.visible  # cancelled with the calendar


async def test_each_meeting_on_the_found_list_can_be_dismissed_on_its_own(
    make_app, coach, connector, onedrive, calendar_now
):
    connector.rosters[PERSONAL] = [ANN]
    client, _ = await make_app(coach)
    [answer] = await send_file(client, connector, onedrive)
    first, second = [a for a in answer.card["actions"] if a["title"] == "Not a negotiation"][:2]

    for action in (first, second):
        await post(client, activity(connector.url, value=action["data"], replyToId=answer.id))

    assert connector.updates == []  # the card keeps its buttons: every meeting on it can still be dismissed
    [listed] = await say(client, connector, "list")
    for action in (first, second):
        assert f"#{action['data']['command'].split()[-1]} " not in listed.visible
