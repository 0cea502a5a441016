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
    outcome, commitment = actions["Log outcome"], actions["Add commitment"]
    assert outcome["type"] == commitment["type"] == "Action.ShowCard"

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

    assert "Recorded the outcome of #1 with Acme." in saved.visible
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
