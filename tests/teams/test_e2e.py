"""Teams end to end with the real coach, database (migrated), dispatcher and fake clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.database import make_engine, make_sessions
from coaching.engine import Coach
from coaching.models import Nudge
from coaching.outbox import Dispatcher
from coaching.ports import Address

from .fakes import TENANT, activity

ANN = Address("teams", TENANT, "aad-user-1", "a:personal-conversation-1")


async def say(client, connector, text, **kw):
    """Post a message and return the reply the fake connector received for it."""
    before = len(connector.calls)
    response = await client.post("/api/messages", json=activity(connector.url, text=text, **kw))
    assert response.status == 201, await response.text()
    [reply] = connector.calls[before:]
    return reply


async def submit(client, connector, value):
    before = len(connector.calls)
    response = await client.post("/api/messages", json=activity(connector.url, value=value))
    assert response.status == 201, await response.text()
    [reply] = connector.calls[before:]
    return reply


def dispatcher_for(sessions, coach, teams, clock):
    return Dispatcher(sessions, coach, {"teams": teams.sender}, clock, worker="teams-test")


async def test_help_and_log_with_the_real_coach(make_app, coach, connector):
    client, _ = await make_app(coach)

    help_reply = await say(client, connector, "help")
    logged = await say(client, connector, "/negotiation log Acme in 2 hours via phone")

    assert "log" in help_reply.visible and "commitments" in help_reply.visible
    assert "Logged #1: Acme" in logged.visible
    assert logged.card is not None
    titles = [a["title"] for a in logged.card["actions"]]
    assert "Prep brief" in titles and "We'll deal again" in titles


async def test_unknown_words_get_a_short_error_as_text(make_app, coach, connector):
    client, _ = await make_app(coach)

    reply = await say(client, connector, "frobnicate 7")

    assert reply.card is None
    assert reply.text and "Traceback" not in reply.text


async def test_a_card_button_round_trip(make_app, coach, connector):
    client, _ = await make_app(coach)
    logged = await say(client, connector, "log Acme in 2 hours")
    repeat = next(a for a in logged.card["actions"] if a["title"] == "We'll deal again")

    answer = await submit(client, connector, repeat["data"])
    prep = await say(client, connector, "prep 1")

    assert repeat["data"]["command"] == "frame 1 repeat"
    assert "Framed #1 with Acme as a relationship." in answer.visible
    assert "negotiate collaboratively" in prep.visible


async def test_followup_nudge_and_its_forms_round_trip(make_app, coach, connector, sessions, clock):
    client, teams = await make_app(coach)
    await say(client, connector, "log Acme yesterday 16:30")
    connector.calls.clear()

    report = await dispatcher_for(sessions, coach, teams, clock).tick()

    assert report.sent == 1
    [nudge] = connector.calls
    assert nudge.path == "/v3/conversations/a:personal-conversation-1/activities"
    assert "How did #1 with Acme go?" in nudge.visible
    actions = {a["title"]: a for a in nudge.card["actions"]}
    outcome, commitment = actions["Outcome form"], actions["Add commitment"]
    assert outcome["type"] == commitment["type"] == "Action.ShowCard"
    assert actions["Log outcome"]["type"] == "Action.Execute"  # the outcome questions, one at a time

    saved = await submit(
        client,
        connector,
        {
            **outcome["card"]["actions"][0]["data"],
            "outcome": "agreed",
            "connection": "true",
            "sentiment": "2",
            "hard_win": "true",
            "given": "3",
            "received": "0",
            "observations": "Loves sailing",
        },
    )
    promised = await submit(
        client,
        connector,
        {
            **commitment["card"]["actions"][0]["data"],
            "side": "theirs",
            "what": "Send the SLA",
            "due": "2026-12-01",
        },
    )
    listed = await say(client, connector, "commitments")

    assert "Recorded the outcome of #1 with Acme: agreed" in saved.visible
    assert "A hard win can be a future loss" in saved.visible  # hard win + low sentiment reached the engine
    assert "Commitment #1 (theirs): Acme \u2192 Send the SLA by Tue 01 Dec." in promised.visible
    assert "Send the SLA" in listed.visible


async def test_a_precall_nudge_arrives_after_a_restart(make_app, coach, connector, database_url, clock):
    client, _ = await make_app(coach)
    await say(client, connector, "log Acme in 40 minutes")
    await client.close()  # the first process is gone
    connector.calls.clear()

    engine = make_engine(database_url)  # a second process: new engine, coach, adapter and connector pool
    try:
        sessions = make_sessions(engine)
        restarted = Coach(sessions, clock)
        _, teams = await make_app(restarted)
        clock.advance(minutes=10)  # the pre-call reminder is due 30 minutes before the start

        report = await dispatcher_for(sessions, restarted, teams, clock).tick()
    finally:
        await engine.dispose()

    assert report.sent == 1
    [nudge] = connector.calls
    assert nudge.path == "/v3/conversations/a:personal-conversation-1/activities"
    assert "#1 with Acme" in nudge.visible
    assert nudge.body["recipient"]["aadObjectId"] == "aad-user-1"


async def test_a_throttled_nudge_is_retried_through_the_outbox(make_app, coach, connector, sessions, clock):
    client, teams = await make_app(coach)
    await say(client, connector, "log Acme yesterday 16:30")
    connector.calls.clear()
    connector.fail_next.append((429, {"Retry-After": "30"}))
    dispatcher = dispatcher_for(sessions, coach, teams, clock)

    first = await dispatcher.tick()
    clock.advance(seconds=31)
    second = await dispatcher.tick()

    assert (first.retried, second.sent) == (1, 1)
    assert len(connector.calls) == 2


async def test_time_zone_from_teams_is_stored_and_kept_current(make_app, coach, connector):
    client, _ = await make_app(coach)

    first = await say(client, connector, "settings", timezone="America/New_York")
    second = await say(client, connector, "settings", timezone="Asia/Tokyo")

    assert "America/New_York" in first.visible
    assert "Asia/Tokyo" in second.visible


async def test_uninstall_deletes_the_user_and_pending_nudges(make_app, coach, connector, sessions, clock):
    client, teams = await make_app(coach)
    await say(client, connector, "log Acme in 3 hours")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Nudge)) > 0

    response = await client.post(
        "/api/messages", json=activity(connector.url, type="installationUpdate", action="remove")
    )

    assert response.status == 201
    assert await coach.conversation_ref(ANN) is None
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Nudge)) == 0
    connector.calls.clear()
    clock.advance(timedelta(hours=4))
    await dispatcher_for(sessions, coach, teams, clock).tick()
    assert connector.calls == []


async def click(client, connector, card_call, title, **inputs):
    """Click ``title`` on a card the fake connector received; return (answer, updates) it caused."""
    action = next(a for a in card_call.card["actions"] if a["title"] == title)
    if action["type"] == "Action.ShowCard":
        action = action["card"]["actions"][0]
    before = len(connector.calls)
    body = activity(connector.url, value={**action["data"], **inputs}, replyToId=card_call.id)
    response = await client.post("/api/messages", json=body)
    assert response.status == 201, await response.text()
    new = connector.calls[before:]
    [answer] = [call for call in new if call.method == "POST"]
    return answer, [call for call in new if call.method == "PUT"]


async def test_clicks_on_nudges_show_the_choice_on_the_nudge(make_app, coach, connector, sessions, clock):
    client, teams = await make_app(coach)
    await say(client, connector, "log Acme in 40 minutes")
    connector.calls.clear()
    clock.advance(minutes=10)
    await dispatcher_for(sessions, coach, teams, clock).tick()
    [precall] = connector.calls

    answer, [update] = await click(client, connector, precall, "Got it")

    assert not answer.text.startswith("Sorry")
    assert update.activity_id == precall.id
    assert update.path == f"/v3/conversations/a:personal-conversation-1/activities/{precall.id}"
    first_line = precall.card["body"][0]["text"]
    assert "#1 with Acme" in first_line
    assert [block["text"] for block in update.card["body"]] == [first_line, "\u2713 Got it"]
    assert "actions" not in update.card


async def test_the_followup_card_keeps_its_forms_after_the_outcome_is_saved(
    make_app, coach, connector, sessions, clock
):
    client, teams = await make_app(coach)
    await say(client, connector, "log Acme yesterday 16:30")
    connector.calls.clear()
    await dispatcher_for(sessions, coach, teams, clock).tick()
    [followup] = connector.calls

    bad, none = await click(client, connector, followup, "Outcome form", sentiment="7")
    saved, still_none = await click(client, connector, followup, "Outcome form", outcome="agreed", sentiment="4")

    assert "sentiment" in bad.text
    assert "Recorded the outcome of #1 with Acme: agreed · sentiment 4/5." in saved.visible
    assert none == still_none == []  # "Add commitment" and "Follow-up sent" are still wanted on it


async def test_a_click_on_a_reply_leaves_the_reply_as_it_is(make_app, coach, connector):
    """The "Logged #1" reply's buttons are next steps (frame, coffee, prep), not answers to it."""
    client, _ = await make_app(coach)
    logged = await say(client, connector, "log Acme 2026-12-03 14:00")

    answer, updates = await click(client, connector, logged, "Prep brief")

    assert "Prep brief #1" in answer.visible
    assert updates == []


async def test_nudges_still_reach_someone_who_said_forget_me_and_came_back(make_app, coach, connector, sessions, clock):
    client, teams = await make_app(coach)
    await say(client, connector, "help")  # the conversation reference is stored
    assert "forgotten" in (await say(client, connector, "forget-me confirm")).visible
    await say(client, connector, "log Acme in 40 minutes")  # back at once: a new start, reference and all
    connector.calls.clear()
    clock.advance(minutes=10)
    report = await dispatcher_for(sessions, coach, teams, clock).tick()
    assert report.sent == 1 and len(connector.calls) == 1  # the pre-call reminder reached them
