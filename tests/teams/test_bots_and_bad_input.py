"""No loops, no bots; and whatever odd thing a client posts, the answer is a short 4xx (or the normal
acknowledgement), never a 5xx or a library's exception text, and nothing is stored."""

from __future__ import annotations

import json
import random

import pytest

from adapters.teams import inbound

from .fakes import APP_ID, BOT, TEAM, activity, recorded

FIXED = {
    inbound.NOT_JSON,
    inbound.NOT_AN_ACTIVITY,
    inbound.TOO_DEEP,
    inbound.TOO_LONG,
    "serviceUrl not allowed",
    "the activity could not be handled",
    "Content-Type must be application/json",
}


async def test_a_relayed_reply_of_the_bot_is_ignored_so_nothing_loops(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="help"))
    [reply] = connector.calls
    relayed = {**reply.body, "id": "relayed-1", "serviceUrl": connector.url}  # from = the bot, without a role

    for hop in range(20):
        response = await client.post("/api/messages", json={**relayed, "id": f"relayed-{hop}"})
        assert response.status == 201

    assert len(connector.calls) == 1 and len(fake_coach.texts) == 1


@pytest.mark.parametrize(
    "sender",
    [
        {"id": BOT["id"], "name": "DealCoach"},
        {"id": "28:another-bot", "name": "Standup Bot"},
        {"id": "29:looks-like-a-user", "name": "Relay", "role": "bot"},
    ],
    ids=["own-id", "another-teams-bot", "role-bot"],
)
async def test_messages_and_invokes_from_bots_are_acknowledged_and_ignored(make_app, fake_coach, connector, sender):
    client, _ = await make_app(fake_coach)

    message = await client.post("/api/messages", json=activity(connector.url, text="list", **{"from": sender}))
    invoke = {**activity(connector.url, type="invoke", value={}, **{"from": sender}), "name": "task/fetch"}
    invoked = await client.post("/api/messages", json=invoke)

    assert (message.status, invoked.status) == (201, 200)
    assert connector.calls == [] and fake_coach.texts == [] and fake_coach.upserts == 0


async def test_with_an_app_id_its_own_app_id_is_a_bot_too(make_app, fake_coach, connector, issuer):
    client, _ = await make_app(fake_coach, authenticated=True)
    token = issuer.token(service_url=connector.url)

    for own in (APP_ID, f"28:{APP_ID}"):
        body = activity(connector.url, text="help", **{"from": {"id": own}})
        response = await client.post("/api/messages", json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status == 201

    assert connector.calls == [] and fake_coach.texts == []


async def post_raw(client, data: str | bytes):
    response = await client.post("/api/messages", data=data, headers={"Content-Type": "application/json"})
    return response.status, await response.text()


def shapes(url: str) -> list[dict]:
    good = activity(url, text="help")
    bad = []
    for key, junk in [
        ("timestamp", 5),
        ("timestamp", "yesterday-ish"),
        ("text", 12),
        ("text", "x" * (inbound.MAX_TEXT + 1)),
        ("from", "Ann"),
        ("from", {"id": 7}),
        ("recipient", []),
        ("conversation", {"id": "a:1", "isGroup": "yes"}),
        ("conversation", {"id": None}),
        ("channelData", {"tenant": "t"}),
        ("channelData", {"team": {"id": ["19:x"]}}),
        ("entities", {"type": "mention"}),
        ("entities", [{"type": "mention", "mentioned": {"id": {"$ne": 1}}, "text": "<at>x</at>"}]),
        ("entities", [{"type": "clientInfo", "timezone": 5}]),
        ("membersAdded", [{"id": 1}]),
        ("attachments", "file"),
        ("serviceUrl", "ftp://example.com/"),
        ("serviceUrl", 443),
        ("type", ""),
        ("type", None),
        ("localTimezone", {"zone": "x"}),
        ("replyToId", 3),
        ("value", json.loads("[" * 30 + "]" * 30)),
    ]:
        bad.append({**good, key: junk})
    return bad


async def test_odd_activities_get_400_with_a_short_fixed_message(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    for body in shapes(connector.url):
        status, text = await post_raw(client, json.dumps(body))
        assert status == 400, body
        assert json.loads(text)["error"] in FIXED, text

    assert connector.calls == [] and fake_coach.texts == [] and fake_coach.upserts == 0


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"type": "message", "value": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"type": "message", "serviceUrl": "http://127.0.0.1/", "value": 1e309}',
        '{"type": "message", ',
        "\udcff",
        "null",
        '"message"',
    ],
    ids=["deep-array", "deep-value", "infinity", "truncated", "not-utf8", "null", "string"],
)
async def test_bodies_that_are_not_activities_are_400(make_app, fake_coach, connector, raw):
    client, _ = await make_app(fake_coach)

    status, text = await post_raw(client, raw.encode("utf-8", "surrogateescape"))

    assert status == 400
    assert json.loads(text)["error"] in FIXED
    assert "Traceback" not in text and "Error" not in text


def mutate(value, rng: random.Random, depth=0):
    """A copy of ``value`` with some leaves and branches replaced by junk of other types."""
    junk = [None, 0, -1, 1e300, True, "", "x" * 300, [], {}, [1, "a"], {"id": 5}, "<at>", "\u202e", "2026-13-45"]
    if depth > 6 or rng.random() < 0.15:
        return rng.choice(junk)
    if isinstance(value, dict):
        return {key: mutate(item, rng, depth + 1) if rng.random() < 0.3 else item for key, item in value.items()}
    if isinstance(value, list):
        return [mutate(item, rng, depth + 1) for item in value]
    return value


RECORDED = [
    "channel_message_mentions",
    "channel_message_legacy",
    "group_chat_message",
    "conversation_update_bot_added_to_team",
    "installation_update_add",
    "message_reaction",
    "file_only_message",
    "invoke_adaptive_card_action",
    "invoke_task_fetch",
    "invoke_compose_extension_query",
    "invoke_file_consent",
    "invoke_nameless",
]


async def test_fuzzed_recorded_activities_never_get_a_5xx_or_library_text(make_app, fake_coach, connector, caplog):
    client, _ = await make_app(fake_coach)
    connector.rosters[TEAM] = []
    rng = random.Random(1234)

    statuses = set()
    for round_ in range(300):
        body = mutate(recorded(RECORDED[round_ % len(RECORDED)], connector.url, uploadUrl=connector.url), rng)
        response = await client.post("/api/messages", json=body)
        statuses.add(response.status)
        assert response.status < 500, body
        if response.status >= 400:
            assert (await response.json())["error"] in FIXED, body

    assert 400 in statuses and statuses & {200, 201}  # some were refused, some were fine
    unforeseen = [r for r in caplog.records if r.name == "aiohttp.server" or r.levelname == "ERROR"]
    assert not unforeseen, [r.getMessage() for r in unforeseen]  # no exception went unhandled
