"""`export` in Teams: a file-upload consent card, then (on Allow) a PUT to OneDrive and a file card.

Real coach, database and dispatcher; a fake connector and a fake OneDrive upload session on loopback.
"""

from __future__ import annotations

import json
import logging

from adapters.teams import files
from adapters.teams.invokes import EXPORT_DECLINED, NOT_YOURS, NOTHING_STORED, UPLOAD_FAILED
from coaching.messages import Attachment, Message, Section
from coaching.outbox import Dispatcher
from coaching.ports import Address

from .fakes import TENANT, activity

ANN = Address("teams", TENANT, "aad-user-1")
BOB = {"user": "aad-user-2", "name": "Bob Buyer", "conversation": "a:personal-conversation-2"}
CONSENT = "application/vnd.microsoft.teams.card.file.consent"
INFO = "application/vnd.microsoft.teams.card.file.info"
OURS = {"dealcoach": "export", "for": "aad-user-1"}  # the card was sent to Ann


async def say(client, connector, text, **kw):
    before = len(connector.calls)
    response = await client.post("/api/messages", json=activity(connector.url, text=text, **kw))
    assert response.status == 201, await response.text()
    return connector.calls[before:]


async def exported(make_app, coach, connector, sessions, clock):
    """Ann and Bob log negotiations, Ann types `export`, the dispatcher sends it: (client, calls)."""
    client, teams = await make_app(coach)
    await say(client, connector, "log Acme 2026-12-03 14:00")
    await say(client, connector, "log Zephyr Industries 2026-12-04 10:00", **BOB)
    [reply] = await say(client, connector, "export")
    assert "Preparing your export" in reply.visible
    before = len(connector.calls)
    report = await Dispatcher(sessions, coach, {"teams": teams.sender}, clock, worker="teams-test").tick()
    assert report.sent == 1
    return client, connector.calls[before:]


def consent_value(action, onedrive=None, *, context=OURS, name="dealcoach-export-aad-user-1.json"):
    value = {"type": "fileUpload", "action": action, "context": context}
    if onedrive is not None:
        value["uploadInfo"] = {
            "name": name,
            "uploadUrl": onedrive.upload_url(name),
            "contentUrl": f"https://contoso-my.sharepoint.com/personal/ann/Documents/Applications/{name}",
            "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C9D",
            "fileType": "json",
        }
    return value


def invoke(connector, value, name="fileConsent/invoke", **kw):
    """An invoke activity as Teams posts it (``activity``'s own ``name`` is the sender's display name)."""
    return {**activity(connector.url, type="invoke", value=value, **kw), "name": name}


async def answer(client, connector, value, reply_to=None, **kw):
    """Post a fileConsent/invoke; return (HTTP status, what the bot sent because of it)."""
    before = len(connector.calls)
    body = invoke(connector, value, **kw)
    if reply_to:
        body["replyToId"] = reply_to
    response = await client.post("/api/messages", json=body)
    return response.status, connector.calls[before:]


async def test_the_export_nudge_offers_the_file_with_a_consent_card(make_app, coach, connector, sessions, clock):
    _, calls = await exported(make_app, coach, connector, sessions, clock)
    export = await coach.export_file(ANN)

    summary, consent = calls
    assert "Your DealCoach data export" in summary.visible
    assert summary.path == consent.path == "/v3/conversations/a:personal-conversation-1/activities"
    [card] = consent.attachments_of(CONSENT)
    assert card["name"] == export.filename == "dealcoach-export-aad-user-1.json"
    assert card["content"]["sizeInBytes"] == len(export.data)
    assert card["content"]["acceptContext"] == card["content"]["declineContext"] == OURS
    assert card["content"]["description"]
    wire = json.dumps(summary.body) + json.dumps(consent.body)
    assert "Acme" in export.data.decode() and "Acme" not in wire  # no file bytes in the activities
    assert '"negotiations": [' not in wire and "base64" not in wire


async def test_accept_uploads_that_users_export_and_shows_the_file(
    make_app, coach, connector, sessions, clock, onedrive
):
    client, (_, consent) = await exported(make_app, coach, connector, sessions, clock)

    status, sent = await answer(client, connector, consent_value("accept", onedrive), reply_to=consent.id)

    assert status == 200
    export = await coach.export_file(ANN)
    [put] = onedrive.uploads
    assert put.body == export.data
    assert b"Acme" in put.body and b"Zephyr" not in put.body  # Ann's data only
    size = len(export.data)
    assert put.headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    assert put.headers["Content-Length"] == str(size)
    assert "Authorization" not in put.headers  # the upload URL is pre-authorised
    [shown] = sent
    assert shown.conversation_id == "a:personal-conversation-1"
    [card] = shown.attachments_of(INFO)
    assert card["name"] == "dealcoach-export-aad-user-1.json"
    assert card["contentUrl"].endswith("/Applications/dealcoach-export-aad-user-1.json")
    assert card["content"] == {"uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C9D", "fileType": "json"}


async def test_a_redelivered_accept_uploads_once(make_app, coach, connector, sessions, clock, onedrive):
    client, _ = await exported(make_app, coach, connector, sessions, clock)
    body = invoke(connector, consent_value("accept", onedrive))

    first = await client.post("/api/messages", json=body)
    second = await client.post("/api/messages", json=body)

    assert (first.status, second.status) == (200, 200)
    assert len(onedrive.uploads) == 1


async def test_decline_uploads_nothing(make_app, coach, connector, sessions, clock, onedrive):
    client, _ = await exported(make_app, coach, connector, sessions, clock)

    status, [reply] = await answer(client, connector, consent_value("decline"))

    assert status == 200
    assert reply.text == EXPORT_DECLINED
    assert onedrive.uploads == []


async def test_a_failed_upload_gets_an_apology_and_the_invoke_still_200(
    make_app, coach, connector, sessions, clock, onedrive, caplog
):
    client, _ = await exported(make_app, coach, connector, sessions, clock)
    onedrive.fail_next.append(500)

    with caplog.at_level(logging.WARNING, logger="adapters.teams.bot"):
        status, [reply] = await answer(client, connector, consent_value("accept", onedrive))

    assert status == 200
    assert reply.text == UPLOAD_FAILED
    assert "Traceback" not in reply.visible and not reply.attachments_of(INFO)
    assert len(onedrive.uploads) == 1
    assert any("upload answered 500" in record.getMessage() for record in caplog.records)
    assert all(onedrive.upload_url("") not in record.getMessage() for record in caplog.records)


async def test_a_slow_upload_times_out_with_an_apology(
    make_app, coach, connector, sessions, clock, onedrive, monkeypatch
):
    client, _ = await exported(make_app, coach, connector, sessions, clock)
    monkeypatch.setattr(files, "UPLOAD_TIMEOUT", 0.2)
    onedrive.delay = 2.0

    status, [reply] = await answer(client, connector, consent_value("accept", onedrive))

    assert status == 200
    assert reply.text == UPLOAD_FAILED


async def test_an_invoke_about_someone_elses_card_is_ignored(make_app, coach, connector, sessions, clock, onedrive):
    client, _ = await exported(make_app, coach, connector, sessions, clock)

    status, sent = await answer(client, connector, consent_value("accept", onedrive, context={"other": "app"}))
    no_context, sent_too = await answer(client, connector, {"type": "fileUpload", "action": "accept"})
    garbage, sent_three = await answer(client, connector, {"action": "accept", "context": OURS, "uploadInfo": "x"})

    assert status == no_context == garbage == 200
    assert sent == sent_too == sent_three == []
    assert onedrive.uploads == []


async def test_accept_from_someone_with_no_data_says_nothing_is_stored(make_app, coach, connector, onedrive):
    client, _ = await make_app(coach)
    theirs = {"dealcoach": "export", "for": "aad-user-9"}

    status, [reply] = await answer(
        client,
        connector,
        consent_value("accept", onedrive, context=theirs),
        user="aad-user-9",
        conversation="a:personal-9",
    )

    assert status == 200
    assert reply.text == NOTHING_STORED
    assert reply.conversation_id == "a:personal-9"
    assert onedrive.uploads == []
    assert await coach.export_file(Address("teams", TENANT, "aad-user-9")) is None  # the invoke stored nobody


async def test_an_accept_from_someone_else_than_the_card_was_for_uploads_nothing(
    make_app, coach, connector, sessions, clock, onedrive
):
    client, _ = await exported(make_app, coach, connector, sessions, clock)  # Ann's card
    older_card = {"dealcoach": "export"}  # sent before cards named their person: expired

    bob_asks = {"user": BOB["user"], "conversation": BOB["conversation"]}
    bob, [told] = await answer(client, connector, consent_value("accept", onedrive), **bob_asks)
    old, [told_too] = await answer(client, connector, consent_value("accept", onedrive, context=older_card))

    assert bob == old == 200
    assert told.text == told_too.text == NOT_YOURS
    assert told.conversation_id == BOB["conversation"]
    assert onedrive.uploads == []


async def test_an_upload_url_must_be_https_with_an_app_id(make_app, coach, connector, issuer, onedrive):
    client, _ = await make_app(coach, authenticated=True)
    token = {"Authorization": f"Bearer {issuer.token(service_url=connector.url)}"}
    await client.post("/api/messages", json=activity(connector.url, text="log Acme 2026-12-03 14:00"), headers=token)
    before = len(connector.calls)

    body = invoke(connector, consent_value("accept", onedrive))  # onedrive is plain http on loopback
    response = await client.post("/api/messages", json=body, headers=token)

    assert response.status == 200
    assert onedrive.uploads == [] and connector.calls[before:] == []


async def test_images_stay_inline_and_get_no_consent_card(make_app, fake_coach, connector):
    client, teams = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="help"))
    connector.calls.clear()
    chart = Attachment("digest.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"x" * 100, "Last 8 weeks")
    digest = Message(text="Team digest", sections=(Section(lines=("3 deals",)),), kind="digest", attachments=(chart,))

    await teams.sender.send(ANN, digest)

    [call] = connector.calls
    assert any(item["type"] == "Image" for item in call.card["body"])
    assert not call.attachments_of(CONSENT)
