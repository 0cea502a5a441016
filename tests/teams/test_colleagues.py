"""Colleagues are real Teams users: `team add`, `team remove` and `handoff` resolve @mentions, names and
the people picker to real people (member lookups at the fake connector) before the coach sees them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from adapters.teams.private import SENT_PRIVATELY
from coaching.models import Nudge, User
from coaching.outbox import Dispatcher
from coaching.ports import Address

from .fakes import BOT, LEAD, LENA, OTHERS, SAM, TEAM, TENANT, activity, recorded

SAM_USER = Address("teams", TENANT, SAM["aadObjectId"])
LENA_CHAT = "a:lena-personal"


def in_team(connector, *, reachable=True):
    """Lena's team has Sam and four others; DealCoach is installed in the team (so its members can be
    written to in a 1:1 chat) unless ``reachable`` is False."""
    people = [LENA, SAM, *OTHERS]
    connector.rosters[TEAM] = people
    connector.directory = people
    connector.reachable = {p["id"] for p in people} if reachable else set()


def channel(connector, text, *mentioned):
    """Lena's message in the team's channel, @mentioning the bot and ``mentioned`` people."""
    body = recorded("channel_message_mentions", connector.url)
    body["text"] = f"<at>DealCoach</at> {text}"
    body["entities"] = [{"type": "mention", "text": "<at>DealCoach</at>", "mentioned": dict(BOT)}] + [
        {"type": "mention", "text": f"<at>{p['name']}</at>", "mentioned": {"id": p["id"], "name": p["name"]}}
        for p in mentioned
    ]
    return body


def lena(connector, text=None, **kw):
    """Lena in her personal chat with the bot."""
    return activity(connector.url, text=text, user=LEAD["user"], name=LEAD["name"], conversation=LENA_CHAT, **kw)


async def post(client, body):
    response = await client.post("/api/messages", json=body)
    assert response.status in (200, 201), await response.text()
    return response


async def names(sessions) -> list[str]:
    async with sessions() as session:
        users = (await session.scalars(select(User))).all()
    return sorted(user.display_name or user.external_id for user in users)


async def test_team_add_at_sam_in_a_channel_adds_the_real_sam_who_then_receives_nudges(
    make_app, coach, connector, sessions, clock
):
    in_team(connector)
    client, teams = await make_app(coach)
    await post(client, lena(connector, "log Acme yesterday 16:30"))  # Lena's personal chat, and a deal
    connector.calls.clear()

    await post(client, recorded("channel_message_mentions", connector.url))  # "@DealCoach team add @Sam Lee"

    [reply] = connector.sent
    assert reply.conversation_id.startswith(TEAM)  # answered in the thread: an invitation is not private
    assert "Invited Sam Lee to your team." in reply.visible
    assert f"/members/{SAM['id']}" in connector.lookups[0]  # the mention's id, looked up in the team
    [created] = connector.created  # Sam had never talked to the bot: their 1:1 chat was opened
    assert created["members"] == [{"id": SAM["id"]}] and created["tenantID"] == TENANT  # (the SDK spells it so)
    assert created["channelData"] == {"tenant": {"id": TENANT}}
    sam_chat = await coach.conversation_ref(SAM_USER)
    assert sam_chat["conversation"]["id"] == f"a:created-{SAM['aadObjectId']}"
    assert sam_chat["user"]["id"] == SAM["id"] and sam_chat["serviceUrl"] == connector.url
    assert await names(sessions) == ["Lena Lead", "Sam Lee"]  # no phantom "sam"

    # Sam is asked, in his own chat, and accepts there: only then is he on Lena's team
    dispatcher = Dispatcher(sessions, coach, {"teams": teams.sender}, clock, worker="t")
    await dispatcher.tick()
    sam_chat_id = f"a:created-{SAM['aadObjectId']}"
    [invitation] = [call for call in connector.sent if call.conversation_id == sam_chat_id]
    assert "Lena Lead invites you to their team" in invitation.visible and "team accept" in invitation.visible
    sam_says = activity(
        connector.url, text="team accept", user=SAM["aadObjectId"], name="Sam Lee", conversation=sam_chat_id
    )
    await post(client, sam_says)
    assert "You're on Lena Lead's team." in connector.sent[-1].visible
    await dispatcher.tick()
    assert any("Sam Lee accepted your invitation" in call.visible for call in connector.sent)

    connector.calls.clear()
    await post(client, channel(connector, "handoff 1 <at>Sam Lee</at> they were upset about the price", SAM))
    private, in_thread = connector.sent
    assert private.conversation_id == LENA_CHAT and "hand-off note" in private.visible  # about a deal
    assert in_thread.conversation_id.startswith(TEAM) and in_thread.text == SENT_PRIVATELY
    await dispatcher.tick()

    [note] = [call for call in connector.sent if call.conversation_id == sam_chat_id]
    assert "Acme" in note.visible and "Lena Lead" in note.visible
    assert "they were upset about the price" in note.visible  # exactly the note she sent


async def test_a_typed_name_is_matched_against_the_team_page_by_page(make_app, coach, connector, sessions):
    in_team(connector)
    client, _ = await make_app(coach)

    await post(client, channel(connector, "team add bert"))  # no mention: Bert Meyer, on the third page

    [reply] = connector.sent
    assert "Invited Bert Meyer to your team." in reply.visible
    assert sum("/pagedmembers" in path for path in connector.lookups) == 3
    assert await names(sessions) == ["Bert Meyer", "Lena Lead"]
    lena_chat = await coach.conversation_ref(Address("teams", TENANT, LEAD["user"]))
    assert lena_chat["conversation"]["id"] == f"a:created-{LEAD['user']}"  # the new lead's digest can reach her


async def test_a_name_that_is_nobody_or_several_people_gets_the_people_picker(make_app, coach, connector, sessions):
    in_team(connector)
    client, _ = await make_app(coach)

    await post(client, channel(connector, "team add zoe"))
    await post(client, channel(connector, "team add sam"))  # Sam Lee and Sam Meyer

    nobody, several = connector.sent
    for call, name in ((nobody, "zoe"), (several, "sam")):
        assert call.body["summary"] == f"I can't find {name} in this team — pick them here."
        picker = next(item for item in call.card["body"] if item["type"] == "Input.ChoiceSet")
        assert picker["choices.data"] == {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
        [action] = call.card["actions"]
        assert action["type"] == "Action.Execute" and action["fallback"]["type"] == "Action.Submit"
        assert action["data"] == {"dealcoach": "person.pick", "command": "team add", "for": LEAD["user"]}
    assert await names(sessions) == []  # nobody was stored, not even Lena: the coach never ran


def pick(connector, card_call, person, **kw):
    """The people picker's Action.Execute, as Teams invokes it, with ``person`` chosen."""
    [action] = card_call.card["actions"]
    data = {**action["data"], "person": person}
    value = {"action": {"type": "Action.Execute", "verb": action["verb"], "data": data}, "trigger": "manual"}
    return {**lena(connector, type="invoke", value=value, replyToId=card_call.id, **kw), "name": "adaptiveCard/action"}


async def test_in_the_personal_chat_the_picker_finds_sam_by_opening_a_chat_with_them(make_app, coach, connector):
    in_team(connector)
    client, _ = await make_app(coach)
    await post(client, lena(connector, "team add @sam"))
    [picker] = connector.sent
    assert picker.body["summary"] == "I can't find sam here — pick them here."
    assert connector.lookups == []  # a personal chat has no roster to search

    response = await post(client, pick(connector, picker, SAM["aadObjectId"]))

    body = await response.json()
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert body["value"].startswith("Invited Sam Lee to your team.")
    assert connector.created[0]["members"] == [{"id": SAM["aadObjectId"]}]  # the picker gives the AAD id
    sam_chat = await coach.conversation_ref(SAM_USER)
    assert sam_chat["user"]["id"] == SAM["id"]  # the Teams id, from the new chat's member lookup


async def test_the_picker_only_works_for_the_person_it_was_shown_to(make_app, coach, connector, sessions):
    in_team(connector)
    client, _ = await make_app(coach)
    await post(client, lena(connector, "team add @sam"))
    [picker] = connector.sent
    someone_else = {"user": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Ada Meyer", "conversation": "a:ada"}

    ada = activity(
        connector.url, value={**picker.card["actions"][0]["data"], "person": SAM["aadObjectId"]}, **someone_else
    )
    await post(client, ada)

    assert "for someone else" in connector.sent[-1].text
    assert connector.created == [] and "Sam Lee" not in await names(sessions)


async def test_a_hand_off_to_someone_without_dealcoach_waits_until_they_install_it(
    make_app, coach, connector, sessions, clock
):
    in_team(connector, reachable=False)
    client, teams = await make_app(coach)
    await post(client, lena(connector, "log Acme yesterday 16:30"))
    await post(client, lena(connector, "handoff 1 @sam"))
    picker = connector.sent[-1]
    dispatcher = Dispatcher(sessions, coach, {"teams": teams.sender}, clock, worker="t")
    await dispatcher.tick()  # Lena's own follow-up prompt
    connector.calls.clear()

    response = await post(client, pick(connector, picker, SAM["aadObjectId"]))

    assert "hand-off note" in (await response.json())["value"]
    [told] = connector.sent  # the sender is told, in the chat
    assert "can't get messages from DealCoach yet" in told.visible and "the note waits" in told.visible
    for hours in (1, 2, 30):  # tried every hour, never given up
        clock.set(clock.now() + timedelta(hours=1, minutes=1))
        await dispatcher.tick()
        async with sessions() as session:
            [note] = (await session.scalars(select(Nudge).where(Nudge.kind == "handoff"))).all()
        assert (note.status, note.attempts) == ("pending", 0), hours
    assert [call.conversation_id for call in connector.sent] == [LENA_CHAT]  # nothing reached Sam yet

    sam_writes = activity(connector.url, text="help", user=SAM["aadObjectId"], name="Sam Lee", conversation="a:sam")
    await post(client, sam_writes)  # Sam installed DealCoach and said hello: their chat is stored
    clock.set(clock.now() + timedelta(hours=1, minutes=1))
    await dispatcher.tick()

    [delivered] = [call for call in connector.sent if call.conversation_id == "a:sam" and "Hand-off" in call.visible]
    assert "Acme" in delivered.visible and "Lena Lead" in delivered.visible


async def test_a_failed_member_lookup_changes_nothing_and_says_so(make_app, coach, connector, sessions):
    in_team(connector)
    client, _ = await make_app(coach)
    connector.fail_lookups.append(500)

    await post(client, recorded("channel_message_mentions", connector.url))

    [reply] = connector.sent
    assert reply.body["summary"] == "I couldn't look Sam Lee up in Teams just now. Please try again in a moment."
    assert await names(sessions) == []


async def test_team_remove_by_mention_removes_the_same_real_person(make_app, coach, connector):
    in_team(connector)
    client, _ = await make_app(coach)
    await post(client, recorded("channel_message_mentions", connector.url))
    await post(client, channel(connector, "team remove <at>Sam Lee</at>", SAM))
    assert "Withdrew your invitation to Sam Lee." in connector.sent[-1].visible  # he had not answered yet

    await post(client, recorded("channel_message_mentions", connector.url))
    sam_chat = f"a:created-{SAM['aadObjectId']}"
    await post(client, activity(connector.url, text="team accept lena", user=SAM["aadObjectId"], conversation=sam_chat))
    await post(client, channel(connector, "team remove <at>Sam Lee</at>", SAM))

    assert "Removed Sam Lee from your team" in connector.sent[-1].visible
