"""Every invoke Teams sends gets HTTP 200 with a body its sender understands; card clicks through
Universal Actions (Action.Execute) answer with the updated card."""

from __future__ import annotations

import pytest

from adapters.teams.invokes import NOT_SUPPORTED

from .fakes import LEAD, activity, recorded

MESSAGE = "application/vnd.microsoft.activity.message"


async def invoke(client, body):
    response = await client.post("/api/messages", json=body)
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("invoke_signin_verify_state", None),
        ("invoke_task_fetch", {"task": {"type": "message", "value": NOT_SUPPORTED}}),
        ("invoke_task_submit", {"task": {"type": "message", "value": NOT_SUPPORTED}}),
        ("invoke_compose_extension_query", {"composeExtension": {"type": "message", "text": NOT_SUPPORTED}}),
        (
            "invoke_compose_extension_query_link",
            {"composeExtension": {"type": "result", "attachmentLayout": "list", "attachments": []}},
        ),
        ("invoke_compose_extension_fetch_task", {"task": {"type": "message", "value": NOT_SUPPORTED}}),
        ("invoke_compose_extension_submit_action", {"task": {"type": "message", "value": NOT_SUPPORTED}}),
        ("invoke_nameless", {"message": NOT_SUPPORTED}),
    ],
)
async def test_each_invoke_gets_200_and_the_body_its_sender_expects(make_app, fake_coach, connector, name, expected):
    client, _ = await make_app(fake_coach)

    status, body = await invoke(client, recorded(name, connector.url))

    assert status == 200
    assert body == expected
    assert connector.calls == [] and fake_coach.texts == []


async def test_an_unknown_invoke_is_200_not_supported(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    body = {**recorded("invoke_nameless", connector.url), "name": "message/fetchTask"}

    assert await invoke(client, body) == (200, {"message": NOT_SUPPORTED})


async def test_every_button_is_an_action_execute_with_a_submit_fallback(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    await client.post("/api/messages", json=activity(connector.url, text="reminder"))

    card = connector.calls[0].card
    assert card["version"] == "1.5"
    for action in card["actions"]:
        assert action["type"] == "Action.Execute" and action["verb"] == action["data"]["dealcoach"]
        assert action["fallback"] == {"type": "Action.Submit", "title": action["title"], "data": action["data"]} | (
            {"style": action["style"]} if "style" in action else {}
        )


def execute(connector, card_call, title, **inputs):
    """The adaptiveCard/action invoke Teams posts when ``title`` is clicked on ``card_call``'s card."""
    action = next(a for a in card_call.card["actions"] if a["title"] == title)
    if action["type"] == "Action.ShowCard":
        action = action["card"]["actions"][0]
    value = {"action": {"type": "Action.Execute", "verb": action["verb"], "data": {**action["data"], **inputs}}}
    return {
        **activity(connector.url, type="invoke", value=value, replyToId=card_call.id),
        "name": "adaptiveCard/action",
    }


async def test_a_click_on_a_nudge_answers_with_the_updated_card(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="reminder"))
    card = connector.calls[-1]
    connector.calls.clear()

    status, body = await invoke(client, execute(connector, card, "Got it"))

    assert status == 200
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    texts = [block["text"] for block in body["value"]["body"]]
    assert texts == ["In 30 minutes: #4 with Acme (15:00, video).", "\u2713 Got it"]
    assert "actions" not in body["value"]
    assert fake_coach.texts[-1][1] == "ok"
    [answer] = connector.sent
    assert answer.text == "ok: ok"
    [update] = connector.updates  # and the message itself, for the person's other devices
    assert update.activity_id == card.id


async def test_the_recorded_execute_invoke_runs_its_command(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    body = recorded("invoke_adaptive_card_action", connector.url)

    status, answer = await invoke(client, body)

    assert status == 200 and answer["value"]["body"][1]["text"] == "\u2713 Got it"
    assert fake_coach.texts[-1][1] == "ok"
    assert fake_coach.texts[-1][0].address.user == LEAD["user"]


async def test_an_error_answer_leaves_the_card_as_it_was(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="reminder"))
    card = connector.calls[-1]

    status, body = await invoke(client, execute(connector, card, "Prep brief"))

    assert status == 200 and body == {"statusCode": 200, "type": MESSAGE, "value": "There is no negotiation #99."}
    assert connector.updates == []


@pytest.mark.parametrize("sentiment", ["nan", "inf", 1e308 * 10, "1e309", True, [], {"a": 1}, "9", 2.5])
async def test_a_form_value_that_is_not_a_number_gets_a_friendly_error(make_app, fake_coach, connector, sentiment):
    client, _ = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="list"))
    card = connector.calls[-1]
    body = execute(connector, card, "Log outcome", outcome="agreed")
    body["value"]["action"]["data"]["sentiment"] = sentiment
    raw = body if sentiment != 1e308 * 10 else None

    if raw is None:  # JSON's 1e309 is infinity, which json.dumps writes as Infinity: send the text
        import json

        text = json.dumps(body).replace('"sentiment": Infinity', '"sentiment": 1e309')
        response = await client.post("/api/messages", data=text, headers={"Content-Type": "application/json"})
        assert response.status == 400  # a number JSON can only spell as infinity: not an activity
        assert fake_coach.commands == []
        return
    status, answer = await invoke(client, raw)

    assert status == 200
    assert answer["value"] == "sentiment must be a whole number from 1 to 5."
    assert fake_coach.commands == []


async def test_a_form_saved_through_execute_records_the_outcome(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    await client.post("/api/messages", json=activity(connector.url, text="list"))
    card = connector.calls[-1]

    status, body = await invoke(client, execute(connector, card, "Log outcome", outcome="agreed", sentiment="4"))

    assert status == 200 and body["value"] == "Recorded RecordOutcome"
    [command] = fake_coach.commands
    assert command.sentiment == 4 and command.negotiation == 4
    assert connector.updates == []  # a card with forms stays as it is


async def test_a_message_reaction_and_a_file_only_message(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)

    reaction = await client.post("/api/messages", json=recorded("message_reaction", connector.url))
    file_only = await client.post("/api/messages", json=recorded("file_only_message", connector.url))

    assert (reaction.status, file_only.status) == (201, 201)
    [hint] = connector.sent
    assert "“notes.txt” is not a calendar file" in hint.text  # a file is read only when it is an .ics
    assert fake_coach.texts == []
