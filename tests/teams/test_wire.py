"""Bot Framework activities posted to /api/messages; replies checked at a fake connector."""

from __future__ import annotations

import asyncio
import gc
import json
import logging

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.teams.answers import SORRY
from adapters.teams.bot import NOTHING_TO_READ
from adapters.teams.private import PRIVATE_ONLY, SENT_PRIVATELY
from coaching.commands import AddCommitment, RecordOutcome

from .fakes import APP_ID, BOT, TENANT, activity


async def post(client, body, **headers):
    return await client.post("/api/messages", json=body, headers=headers)


# --- personal chat ---------------------------------------------------------------------------------


async def test_help_is_answered_in_the_same_conversation(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    body = activity(connector.url, text="help")

    response = await post(client, body)

    assert response.status == 201
    [call] = connector.calls
    assert call.conversation_id == "a:personal-conversation-1"
    assert call.reply_to == body["id"]
    assert "log <counterpart> <when>" in call.visible
    assert call.body["recipient"]["id"] == "29:aad-user-1"  # to the user, from the bot
    assert call.body["from"]["id"] == BOT["id"]
    [(actor, text)] = fake_coach.texts
    assert text == "help"
    assert actor.address.platform == "teams"
    assert actor.address.workspace == TENANT
    assert actor.address.user == "aad-user-1"
    assert actor.address.channel == "a:personal-conversation-1"
    assert actor.display_name == "Ann Rep"


async def test_log_passes_the_words_and_the_slash_prefix_through(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, activity(connector.url, text="/negotiation log Acme tomorrow 3pm for 45m via phone"))

    assert fake_coach.texts[0][1] == "/negotiation log Acme tomorrow 3pm for 45m via phone"
    assert connector.calls[0].text.startswith("ok: log Acme tomorrow 3pm")


async def test_list_comes_back_as_an_adaptive_card_with_buttons(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, activity(connector.url, text="list"))

    card = connector.calls[0].card
    assert card is not None and card["type"] == "AdaptiveCard"
    titles = [a["title"] for a in card["actions"]]
    assert titles == ["Prep", "Log outcome", "Add commitment"]
    assert card["actions"][0]["data"] == {
        "dealcoach": "negotiation.prep",
        "command": "prep 4",
    }  # a list (several things, and forms) is not redrawn after a click: nothing more to carry
    assert card["actions"][1]["type"] == "Action.ShowCard"


async def test_time_zone_comes_from_the_client_info_entity(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, activity(connector.url, text="help", timezone="America/Chicago"))

    assert fake_coach.texts[0][0].timezone == "America/Chicago"
    assert fake_coach.users[("teams", TENANT, "aad-user-1")]["timezone"] == "America/Chicago"


async def test_time_zone_is_kept_current(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, activity(connector.url, text="help", timezone="Europe/Berlin"))
    await post(client, activity(connector.url, text="help", timezone="Asia/Tokyo"))

    assert fake_coach.users[("teams", TENANT, "aad-user-1")]["timezone"] == "Asia/Tokyo"


async def test_unchanged_reference_is_not_rewritten_on_every_message(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    for _ in range(5):
        await post(client, activity(connector.url, text="help"))

    assert fake_coach.upserts == 1
    assert len(connector.calls) == 5


async def test_conversation_reference_is_stored_for_proactive_messages(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, activity(connector.url, text="help"))

    ref = fake_coach.users[("teams", TENANT, "aad-user-1")]["conversation_ref"]
    assert ref["serviceUrl"] == connector.url
    assert ref["conversation"]["id"] == "a:personal-conversation-1"
    assert ref["bot"]["id"] == BOT["id"]
    assert ref["user"]["aadObjectId"] == "aad-user-1"
    assert "activityId" not in ref
    json.dumps(ref)  # JSON column


async def test_a_coach_failure_gets_an_apology_not_a_stack_trace(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    response = await post(client, activity(connector.url, text="boom"))

    assert response.status == 201
    assert connector.calls[0].text == SORRY


async def test_a_redelivered_message_runs_once(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    body = activity(connector.url, text="log Acme tomorrow 3pm")

    first, again = await post(client, body), await post(client, body)

    assert (first.status, again.status) == (201, 201)
    assert len(fake_coach.texts) == 1 and len(connector.calls) == 1


async def test_an_undeliverable_reply_still_acknowledges_the_command(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    connector.fail_next.append((403, {}))

    response = await post(client, activity(connector.url, text="help"))

    assert response.status == 201  # not 5xx: a redelivery would run the command twice
    assert len(fake_coach.texts) == 1


async def test_a_throttled_reply_is_retried(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    connector.fail_next.append((429, {"Retry-After": "0"}))

    response = await post(client, activity(connector.url, text="help"))

    assert response.status == 201
    assert len(connector.calls) == 2  # throttled once, then delivered


async def test_a_message_without_text_gets_a_hint(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    response = await post(client, activity(connector.url, attachments=[{"contentType": "image/png"}]))

    assert response.status == 201
    assert fake_coach.texts == []
    assert connector.calls[0].text == NOTHING_TO_READ


# --- cards ---------------------------------------------------------------------------------------


async def test_a_card_button_comes_back_as_its_text_command(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await post(client, activity(connector.url, text="list"))
    prep = connector.calls[0].card["actions"][0]

    await post(client, activity(connector.url, value=prep["data"]))

    assert fake_coach.texts[-1][1] == "prep 4"
    assert connector.calls[-1].text == "ok: prep 4"


async def test_outcome_form_round_trip(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await post(client, activity(connector.url, text="list"))
    form = connector.calls[0].card["actions"][1]
    inputs = {item["id"] for item in form["card"]["body"]}
    assert {"outcome", "connection", "sentiment", "hard_win", "given", "received", "observations"} <= inputs
    # Teams merges the inputs into the Action.Submit data, as strings.
    submitted = {
        **form["card"]["actions"][0]["data"],
        "outcome": "agreed",
        "connection": "true",
        "sentiment": "2",
        "hard_win": "true",
        "given": "3",
        "received": "1",
        "observations": "Has a new puppy",
        "notes": "",
    }

    response = await post(client, activity(connector.url, value=submitted))

    assert response.status == 201
    [command] = fake_coach.commands
    assert command == RecordOutcome(
        actor=command.actor,
        negotiation=4,
        outcome="agreed",
        opened_with_connection=True,
        sentiment=2,
        hard_win=True,
        concessions_given=3,
        concessions_received=1,
        observations="Has a new puppy",
    )
    assert command.actor.address.user == "aad-user-1"
    assert connector.calls[-1].text == "Recorded RecordOutcome"


async def test_commitment_form_round_trip(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await post(client, activity(connector.url, text="list"))
    form = connector.calls[0].card["actions"][2]
    submitted = {**form["card"]["actions"][0]["data"], "side": "theirs", "what": "Send the SLA draft"}
    submitted["due"] = "2026-12-01"

    await post(client, activity(connector.url, value=submitted))

    [command] = fake_coach.commands
    assert isinstance(command, AddCommitment)
    assert (command.negotiation, command.side, command.text, str(command.due)) == (
        4,
        "theirs",
        "Send the SLA draft",
        "2026-12-01",
    )


async def test_a_bad_form_value_gets_a_specific_error_and_changes_nothing(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    submitted = {"dealcoach": "form.outcome", "command": "done 4", "sentiment": "9"}

    await post(client, activity(connector.url, value=submitted))

    assert fake_coach.commands == []
    assert "sentiment" in connector.calls[0].text


# --- a click shows its choice on the card ---------------------------------------------------------


async def card_with_buttons(client, connector, text="reminder"):
    """Ask for a card; return its recorded call (``.id`` is what a click's ``replyToId`` names)."""
    await post(client, activity(connector.url, text=text))
    card = connector.calls[-1]
    assert card.card is not None and card.id
    return card


def click(connector, card, title, **inputs):
    """The activity Teams posts when ``title`` (a button, or a form's Save) is clicked on ``card``."""
    action = next(a for a in card.card["actions"] if a["title"] == title)
    if action["type"] == "Action.ShowCard":
        action = action["card"]["actions"][0]
    return activity(connector.url, value={**action["data"], **inputs}, replyToId=card.id)


def buttons_in(card: dict) -> list:
    found = list(card.get("actions") or ())
    for item in card.get("body") or ():
        if item.get("type") == "ActionSet":
            found.extend(item.get("actions") or ())
    return found


async def test_a_click_shows_the_choice_on_its_card_once_and_removes_the_buttons(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    card = await card_with_buttons(client, connector)
    connector.calls.clear()
    body = click(connector, card, "Got it")

    first, again = await post(client, body), await post(client, body)  # Teams may deliver it twice

    assert (first.status, again.status) == (201, 201)
    assert fake_coach.texts[-1][1] == "ok"
    [answer] = connector.sent
    assert answer.text == "ok: ok"
    [update] = connector.updates
    assert update.path == f"/v3/conversations/a:personal-conversation-1/activities/{card.id}"
    assert update.body["id"] == card.id and update.body["type"] == "message"
    assert update.body["summary"] == "In 30 minutes: #4 with Acme (15:00, video)."
    texts = [block["text"] for block in update.card["body"]]
    assert texts == ["In 30 minutes: #4 with Acme (15:00, video).", "\u2713 Got it"]
    assert buttons_in(update.card) == []


async def test_each_button_names_itself_on_the_updated_card(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    card = await card_with_buttons(client, connector)

    await post(client, click(connector, card, "Snooze 10 min"))

    [update] = connector.updates
    assert "\u2713 Snooze 10 min" in update.visible and "Got it" not in update.visible


async def test_an_error_answer_leaves_the_card_clickable(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    card = await card_with_buttons(client, connector)
    connector.calls.clear()

    response = await post(client, click(connector, card, "Prep brief"))  # the coach answers an error

    assert response.status == 201
    assert connector.updates == []
    [answer] = connector.sent
    assert answer.text == "There is no negotiation #99."


async def test_a_coach_failure_on_a_click_leaves_the_card_and_apologises(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    card = await card_with_buttons(client, connector)
    connector.calls.clear()
    body = click(connector, card, "Got it")
    body["value"]["command"] = "boom"

    response = await post(client, body)

    assert response.status == 201
    assert connector.updates == []
    assert [call.text for call in connector.sent] == [SORRY]


async def test_a_list_with_forms_stays_as_it_is_after_a_click_or_a_save(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    card = await card_with_buttons(client, connector, "list")
    connector.calls.clear()

    await post(client, click(connector, card, "Log outcome", outcome="agreed", sentiment="9"))
    assert "sentiment" in connector.sent[-1].text  # the form stays, so the field can be corrected
    response = await post(client, click(connector, card, "Log outcome", outcome="agreed", sentiment="4"))
    await post(client, click(connector, card, "Prep"))

    assert response.status == 201
    [command] = fake_coach.commands
    assert isinstance(command, RecordOutcome) and command.sentiment == 4
    assert connector.updates == []  # the other rows' buttons and forms are still wanted


@pytest.mark.parametrize(
    "failure",
    [(500, {}), (429, {"Retry-After": "1"}), (404, {}), (403, {})],
    ids=["5xx", "throttled", "gone", "forbidden"],
)
async def test_a_failing_update_still_delivers_the_answer(make_app, fake_coach, connector, caplog, failure):
    client, _ = await make_app(fake_coach)
    card = await card_with_buttons(client, connector)
    connector.calls.clear()
    connector.fail_updates.append(failure)
    caplog.set_level(logging.INFO)

    response = await post(client, click(connector, card, "Got it"))

    assert response.status == 201
    assert [call.text for call in connector.sent] == ["ok: ok"]
    assert len(connector.updates) == 1  # tried once, then left alone
    warnings = [r for r in caplog.records if r.name == "adapters.teams.replies" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and card.id in warnings[0].getMessage()
    assert str(failure[0]) in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_with_an_app_id_the_update_is_authenticated_and_pooled(make_app, fake_coach, connector, issuer):
    client, teams = await make_app(fake_coach, authenticated=True)

    def auth():
        return {"Authorization": f"Bearer {issuer.token(service_url=connector.url)}"}

    await post(client, activity(connector.url, text="reminder"), **auth())
    card = connector.calls[-1]
    response = await post(client, click(connector, card, "Got it"), **auth())

    assert response.status == 201
    [update] = connector.updates
    assert update.authorization == f"Bearer outbound-token-for-{APP_ID}"
    assert (teams.pool.built, teams.pool.requests) == (1, 3)  # card, answer, update: one client, one session


async def test_a_card_sent_before_clicks_carried_its_text_is_left_alone(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    card = await card_with_buttons(client, connector)
    connector.calls.clear()
    old = activity(connector.url, value={"dealcoach": "nudge.ok", "command": "ok"}, replyToId=card.id)

    response = await post(client, old)

    assert response.status == 201
    assert [call.text for call in connector.sent] == ["ok: ok"]
    assert connector.updates == []


# --- group chats -----------------------------------------------------------------------------------


def group(connector, **kw):
    return activity(
        connector.url,
        conversation="19:group-chat@thread.v2",
        conversation_type="groupChat",
        entities=[
            {
                "type": "mention",
                "text": "<at>DealCoach</at>",
                "mentioned": {"id": BOT["id"], "name": BOT["name"]},
            }
        ],
        **kw,
    )


async def test_group_chat_mention_is_stripped_and_answered_privately(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await post(client, activity(connector.url, text="help"))  # the personal chat exists
    connector.calls.clear()

    await post(client, group(connector, text="<at>DealCoach</at> list"))

    assert fake_coach.texts[-1][1] == "list"
    personal, in_group = connector.calls
    assert personal.conversation_id == "a:personal-conversation-1"
    assert personal.card is not None and "Acme" in personal.visible
    assert in_group.conversation_id == "19:group-chat@thread.v2"
    assert in_group.text == SENT_PRIVATELY
    # a group chat never replaces the personal reference
    ref = fake_coach.users[("teams", TENANT, "aad-user-1")]["conversation_ref"]
    assert ref["conversation"]["id"] == "a:personal-conversation-1"


async def test_group_chat_without_a_personal_chat_reveals_nothing(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, group(connector, text="<at>DealCoach</at> list"))

    assert fake_coach.texts == []
    [call] = connector.calls
    assert call.text == PRIVATE_ONLY


async def test_a_click_in_a_group_chat_is_answered_privately_and_updates_nothing(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await post(client, activity(connector.url, text="help"))  # the personal chat exists
    connector.calls.clear()
    value = {"dealcoach": "negotiation.prep", "command": "prep 4", "summary": "A card", "label": "Prep"}

    response = await post(client, group(connector, value=value, replyToId="activity-1"))

    assert response.status == 201
    assert fake_coach.texts[-1][1] == "prep 4"
    assert connector.updates == []
    assert [call.conversation_id for call in connector.sent] == [
        "a:personal-conversation-1",
        "19:group-chat@thread.v2",
    ]


# --- install / uninstall ---------------------------------------------------------------------------


async def test_install_stores_the_reference_and_welcomes(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    body = activity(connector.url, type="conversationUpdate", membersAdded=[dict(BOT)])

    response = await post(client, body)

    assert response.status == 201
    assert fake_coach.users[("teams", TENANT, "aad-user-1")]["conversation_ref"]
    [call] = connector.calls
    assert "DealCoach commands" in call.visible


async def test_uninstall_forgets_the_user(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await post(client, activity(connector.url, text="help"))

    response = await post(client, activity(connector.url, type="installationUpdate", action="remove"))

    assert response.status == 201
    assert [a.user for a in fake_coach.forgotten] == ["aad-user-1"]
    assert ("teams", TENANT, "aad-user-1") not in fake_coach.users
    # and a later message stores the reference again (the memo was cleared)
    await post(client, activity(connector.url, text="help"))
    assert ("teams", TENANT, "aad-user-1") in fake_coach.users


# --- bad requests ----------------------------------------------------------------------------------


async def test_wrong_content_type_is_415(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    response = await client.post("/api/messages", data="type=message", headers={"Content-Type": "text/plain"})
    no_type = await client.post("/api/messages", data=b"{}", skip_auto_headers=["Content-Type"])

    assert response.status == 415
    assert no_type.status == 415
    assert connector.calls == []


async def test_malformed_json_is_400(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    response = await client.post(
        "/api/messages", data=b'{"type": "message", ', headers={"Content-Type": "application/json"}
    )

    assert response.status == 400


async def test_activity_without_type_or_service_url_is_400(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    no_type = activity(connector.url, text="help")
    del no_type["type"]
    no_url = activity(connector.url, text="help")
    del no_url["serviceUrl"]

    no_sender = activity(connector.url, text="help")
    del no_sender["from"]

    for body in (
        no_type,
        no_url,
        no_sender,
        [1, 2],
        "message",
        {**activity(connector.url), "conversation": "x"},
    ):
        response = await post(client, body)
        assert response.status == 400, body
    assert fake_coach.texts == [] and connector.calls == []


# --- authentication --------------------------------------------------------------------------------


async def test_with_an_app_id_a_missing_token_is_401(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach, authenticated=True)

    response = await post(client, activity(connector.url, text="help"))

    assert response.status == 401
    assert fake_coach.texts == [] and connector.calls == []


async def test_with_an_app_id_malformed_tokens_are_401_never_500(make_app, fake_coach, connector, issuer):
    client, _ = await make_app(fake_coach, authenticated=True)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = [
        "Bearer not.a.jwt",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer " + issuer.token(service_url=connector.url, key=other_key),  # wrong signature
        "Bearer " + issuer.token(service_url=connector.url, audience="someone-else"),
        "Bearer " + issuer.token(service_url="https://evil.example/"),  # serviceurl claim mismatch
        "Bearer " + issuer.token(service_url=connector.url, exp=1_000_000_000),  # expired
        "Bearer " + issuer.token(service_url=connector.url, iss="https://other-issuer.example"),
    ]

    for header in bad:
        response = await post(client, activity(connector.url, text="help"), Authorization=header)
        assert response.status == 401, header

    assert fake_coach.texts == [] and connector.calls == []


async def test_with_an_app_id_a_valid_token_is_accepted_and_replies_are_authenticated(
    make_app, fake_coach, connector, issuer
):
    client, _ = await make_app(fake_coach, authenticated=True)
    token = issuer.token(service_url=connector.url)

    response = await post(client, activity(connector.url, text="help"), Authorization=f"Bearer {token}")

    assert response.status == 201
    [call] = connector.calls
    assert call.authorization == f"Bearer outbound-token-for-{APP_ID}"


async def help_while_the_issuer_is_slow(client, connector, issuer) -> tuple[int, float]:
    """``help`` with a fresh token while the issuer takes 0.25 s an answer: the status, and the longest the event
    loop went without running anything else (a heartbeat every 10 ms stands for Slack acks, other turns). Keys
    fetched on the loop would hold it for both answers at once, 0.5 s: callers allow 0.4 s, as a collection of the
    whole test run's garbage can pause this process for a quarter of a second (seen once in a full PostgreSQL run)."""
    gc.collect()
    loop = asyncio.get_running_loop()
    beats: list[float] = []

    async def heartbeat() -> None:
        while True:
            beats.append(loop.time())
            await asyncio.sleep(0.01)

    issuer.delay = 0.25
    beating = asyncio.create_task(heartbeat())
    try:
        token = issuer.token(service_url=connector.url)
        response = await post(client, activity(connector.url, text="help"), Authorization=f"Bearer {token}")
    finally:
        beating.cancel()
        issuer.delay = 0.0
    assert len(beats) > 10
    return response.status, max(b - a for a, b in zip(beats, beats[1:], strict=False))


async def test_fetching_signing_keys_does_not_stall_the_server(make_app, fake_coach, connector, issuer):
    client, _ = await make_app(fake_coach, authenticated=True)
    status, longest_gap = await help_while_the_issuer_is_slow(client, connector, issuer)  # metadata and keys: 0.5 s
    assert status == 201
    assert longest_gap < 0.4


async def test_a_token_signed_with_a_rotated_key_is_accepted_and_its_keys_fetched_off_the_loop(
    make_app, fake_coach, connector, issuer
):
    """Microsoft rotated its signing keys: the first token with the new ``kid`` makes the bot fetch the keys again
    (the SDK alone would fail on it for up to an hour, then fetch on the event loop), and the server keeps
    serving meanwhile; a made-up ``kid`` is refused, and fetches nothing more."""
    client, _ = await make_app(fake_coach, authenticated=True)
    first = issuer.token(service_url=connector.url)
    assert (await post(client, activity(connector.url, text="help"), Authorization=f"Bearer {first}")).status == 201
    hits = issuer.hits
    issuer.rotate("test-key-rotated")
    status, longest_gap = await help_while_the_issuer_is_slow(client, connector, issuer)
    assert status == 201
    assert issuer.hits == hits + 2  # the metadata and the keys, once
    assert longest_gap < 0.4
    assert len(connector.calls) == 2

    forged = jwt.encode({"aud": APP_ID}, issuer.key, algorithm="RS256", headers={"kid": "made-up"})
    response = await post(client, activity(connector.url, text="help"), Authorization=f"Bearer {forged}")
    assert response.status == 401
    again = await post(client, activity(connector.url, text="help"), Authorization=f"Bearer {forged}")
    assert again.status == 401 and issuer.hits == hits + 2  # keys looked for a moment ago: no fetch per request
    assert len(connector.calls) == 2


async def test_unreachable_signing_keys_are_503_not_401(make_app, fake_coach, connector, issuer):
    client, _ = await make_app(
        fake_coach,
        authenticated=True,
        overrides={"TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": "http://127.0.0.1:9/openid-configuration"},
    )
    token = issuer.token(service_url=connector.url)

    response = await post(client, activity(connector.url, text="help"), Authorization=f"Bearer {token}")

    assert response.status == 503
    assert fake_coach.texts == []


async def test_emulator_mode_needs_no_token_and_sends_none(make_app, fake_coach, connector):
    client, teams = await make_app(fake_coach)

    response = await post(client, activity(connector.url, text="help"))

    assert teams.mode == "emulator"
    assert response.status == 201
    assert connector.calls[0].authorization is None


# --- speed: clients are reused --------------------------------------------------------------------


async def test_connector_clients_are_reused_across_turns(make_app, fake_coach, connector, issuer):
    client, teams = await make_app(fake_coach, authenticated=True)

    for _ in range(10):
        token = issuer.token(service_url=connector.url)
        await post(client, activity(connector.url, text="help"), Authorization=f"Bearer {token}")

    assert len(connector.calls) == 10
    assert teams.pool.built == 1
    assert teams.pool.requests == 10  # every reply went through the pooled aiohttp session


# --- the reply's JSON ------------------------------------------------------------------------------


async def test_replies_go_out_exactly_as_the_stock_sdk_writes_them(make_app, coach, connector):
    """The pooled connector writes a reply's JSON itself, not through msrest's serializer: the same
    conversation through the stock CloudAdapter (its own ConnectorClient and msrest) gets the same bodies."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from adapters.teams import build
    from bot.config import Settings
    from coaching.commands import Actor
    from coaching.ports import Address

    teams_actor = Actor(Address("teams", TENANT, "aad-user-1"), "Ann Rep")
    await coach.handle_text(teams_actor, "log Acme tomorrow 3pm")
    await coach.handle_text(teams_actor, "commit 1 ours send the deck by friday")

    stock = build(Settings(teams_emulator=True), coach, pooled=False)

    async def stock_messages(request: web.Request) -> web.StreamResponse:
        return await stock.adapter.process(request, stock.bot)

    stock_app = web.Application()
    stock_app.router.add_post("/api/messages", stock_messages)
    pooled, _ = await make_app(coach)
    async with TestClient(TestServer(stock_app, host="127.0.0.1")) as stock_client:
        for text in ("help", "list", "prep 1", "commitments", "settings", "gibberish words"):
            incoming = activity(connector.url, text=text)
            assert (await post(stock_client, incoming)).status in (200, 201)
            assert (await post(pooled, incoming)).status in (200, 201)
            by_stock, by_pool = connector.calls[-2:]
            assert by_pool.body == by_stock.body, text
            assert json.dumps(by_pool.body, sort_keys=True) == json.dumps(by_stock.body, sort_keys=True)
    assert len(connector.calls) == 12
    assert any(call.body.get("attachments") for call in connector.calls)  # cards were among them
