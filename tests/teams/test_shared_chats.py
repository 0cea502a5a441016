"""Team chats and channels: the bot reacts only when @mentioned, reads the conversation's kind from
every hint Teams gives (shared when in doubt), and answers anything personal in the personal chat."""

from __future__ import annotations

import pytest
from botbuilder.schema import Activity

from adapters.teams import translate
from adapters.teams.bot import HELLO_SHARED
from adapters.teams.private import PRIVATE_ONLY, SENT_PRIVATELY
from coaching.commands import Actor
from coaching.ports import Address

from .fakes import LEAD, LENA, TEAM, TENANT, activity, recorded

LENA_USER = Address("teams", TENANT, LEAD["user"])


async def post(client, body):
    response = await client.post("/api/messages", json=body)
    assert response.status in (200, 201), await response.text()


def kind(body) -> str:
    return translate.conversation_type(Activity().deserialize(body))


def test_the_conversation_kind_comes_from_every_hint_and_is_shared_when_in_doubt():
    url = "https://smba.trafficmanager.net/emea/"
    legacy = recorded("channel_message_legacy", url)  # 19:…;messageid=…, no conversationType
    assert kind(legacy) == "channel"
    assert kind(recorded("channel_message_mentions", url)) == "channel"
    assert kind(recorded("group_chat_message", url)) == "groupChat"
    assert kind(recorded("file_only_message", url)) == "personal"
    claims_personal = recorded("channel_message_mentions", url)
    claims_personal["conversation"]["conversationType"] = "personal"  # but channelData names a team
    assert kind(claims_personal) == "channel"
    no_type = recorded("file_only_message", url)
    del no_type["conversation"]["conversationType"]
    assert kind(no_type) == "personal"  # a Teams 1:1 id ("a:…")
    no_type["conversation"]["id"] = "19:abc@thread.v2"
    assert kind(no_type) == "groupChat"
    no_type["conversation"]["id"] = "mystery-id"
    assert kind(no_type) == "groupChat"  # in doubt: shared
    emulator = activity("http://127.0.0.1:1/", text="hi", channelId="emulator", conversation="5f8b|livechat")
    del emulator["conversation"]["conversationType"]
    assert kind(emulator) == "personal"  # the emulator and Web Chat are 1:1 and send no type


async def test_list_in_a_legacy_channel_message_is_answered_privately_in_a_chat_opened_for_it(
    make_app, coach, connector
):
    connector.directory, connector.reachable = [LENA], {LENA["id"], LENA["aadObjectId"]}
    client, _ = await make_app(coach)

    await post(client, recorded("channel_message_legacy", connector.url))  # "<at>DealCoach</at> list"

    private, in_thread = connector.sent
    assert private.conversation_id == f"a:created-{LEAD['user']}"  # created proactively: none was stored
    assert "negotiations" in private.visible.lower()
    assert in_thread.conversation_id.startswith("19:8d1f2e3a") and in_thread.text == SENT_PRIVATELY
    assert (await coach.conversation_ref(LENA_USER))["conversation"]["id"] == private.conversation_id


async def test_a_personal_command_is_not_run_when_no_personal_chat_can_be_opened(make_app, coach, connector):
    client, _ = await make_app(coach)  # Lena is not reachable: DealCoach is not installed for her
    body = recorded("channel_message_legacy", connector.url)
    body["text"] = "<at>DealCoach</at> log Acme tomorrow 3pm"

    await post(client, body)

    [reply] = connector.sent
    assert reply.text == PRIVATE_ONLY and "Acme" not in reply.visible
    assert await coach.conversation_ref(LENA_USER) is None
    client2, _ = await make_app(coach)
    await post(client2, activity(connector.url, text="list", user=LEAD["user"], conversation="a:lena"))
    assert "No negotiations yet" in connector.sent[-1].visible  # nothing was logged


async def test_a_mention_whose_entity_text_differs_from_the_tag_is_still_understood(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, recorded("group_chat_message", connector.url))  # "<at>DealCoach Bot</at> help"

    assert fake_coach.texts[-1][1] == "help"
    [reply] = connector.sent  # help is not personal: answered in the group chat
    assert reply.conversation_id.startswith("19:meeting_") and "DealCoach commands" in reply.visible


async def test_a_shared_chat_message_not_for_the_bot_is_ignored(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    body = recorded("group_chat_message", connector.url)
    body["text"], body["entities"] = "lunch at noon?", []

    await post(client, body)

    assert fake_coach.texts == [] and connector.calls == [] and fake_coach.upserts == 0


async def test_the_bot_added_to_a_team_says_hello_in_the_channel_and_stores_nothing(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, recorded("conversation_update_bot_added_to_team", connector.url))

    [hello] = connector.sent
    assert hello.conversation_id == TEAM and hello.text == HELLO_SHARED
    assert fake_coach.users == {}


async def test_installed_in_a_personal_chat_it_welcomes_and_remembers(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await post(client, recorded("installation_update_add", connector.url))
    await post(client, recorded("conversation_update_personal_install", connector.url))

    [welcome] = connector.sent
    assert "DealCoach commands" in welcome.visible
    assert fake_coach.users[("teams", TENANT, LEAD["user"])]["conversation_ref"]["conversation"]["id"].startswith("a:")


async def test_removed_from_a_team_deletes_nobody(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await post(client, recorded("installation_update_add", connector.url))
    removed = recorded("conversation_update_bot_added_to_team", connector.url)
    removed.update(type="installationUpdate", action="remove")
    removed.pop("membersAdded")

    await post(client, removed)
    await post(client, recorded("installation_update_remove", connector.url))  # then from her personal scope

    assert [a.user for a in fake_coach.forgotten] == [LEAD["user"]]


@pytest.mark.parametrize(
    ("text", "private"),
    [
        ("help", False),
        ("hi", False),
        ("team add @x", False),
        ("team", True),
        ("team list", True),
        ("ls", True),
        ("prep 4", True),
        ("counterparts", True),
        ("blorp", False),
    ],
)
async def test_the_coach_marks_what_is_personal_and_the_adapter_only_reads_it(coach, text, private):
    reply = await coach.handle_text(Actor(Address("teams", TENANT, "29:someone")), text)
    assert reply.personal is private
