"""Moments in Teams, with the real coach: the activity's locale sets the day/month order, a question's card has
Yes and Edit and is answered once however often it is clicked, and the commitment form's due is read with the
time language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from coaching.models import Commitment, Negotiation

from .test_e2e import say, submit
from .test_invokes import execute, invoke

EVENING = datetime(2026, 12, 1, 19, 38, tzinfo=UTC)  # Tue 01 Dec 20:38 in Berlin, the fake activity's zone


async def count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("locale", "read_as"), [("en-US", "Sun 06 Dec 10:00"), ("de-DE", "Fri 12 Jun 10:00")])
async def test_the_activitys_locale_sets_how_slashed_dates_read(make_app, coach, connector, clock, locale, read_as):
    clock.set(EVENING)
    client, _ = await make_app(coach)
    reply = await say(client, connector, "log Acme 12/6 10am", locale=locale, entities=[])
    assert f"Logged #1: Acme, {read_as}" in reply.visible


async def test_a_question_card_has_yes_and_edit_and_is_answered_once(make_app, coach, connector, clock, sessions):
    clock.set(EVENING)
    client, _ = await make_app(coach)
    asked = await say(client, connector, "log Acme Sun 3pm")
    assert "is that right?" in asked.visible
    yes, edit = asked.card["actions"]
    assert (yes["type"], yes["title"], yes["data"]["command"]) == (
        "Action.Execute",
        "Yes",
        'log "Acme" 2026-12-06T15:00+01:00',
    )
    assert (edit["type"], edit["title"]) == ("Action.ShowCard", "Edit")
    [line] = edit["card"]["body"]
    assert (line["type"], line["id"], line["value"]) == ("Input.Text", "line", "log Acme Sun 3pm")
    first = await invoke(client, execute(connector, asked, "Yes"))
    second = await invoke(client, execute(connector, asked, "Yes"))  # a double click: a second invoke
    for status, body in (first, second):
        assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        assert [b["text"] for b in body["value"]["body"]][-1] == "\u2713 Yes"  # the card shows the answer
        assert "actions" not in body["value"]
    assert await count(sessions, Negotiation) == 1


async def test_the_edit_form_sends_the_corrected_line(make_app, coach, connector, clock, sessions):
    clock.set(EVENING)
    client, _ = await make_app(coach)
    asked = await say(client, connector, "log Acme Sun 3pm")
    status, body = await invoke(client, execute(connector, asked, "Edit", line="log Acme sunday 4pm"))
    assert status == 200
    assert await count(sessions, Negotiation) == 1
    listed = await say(client, connector, "list")
    assert "#1 Acme — Sun 06 Dec 16:00" in listed.visible
    empty = await invoke(client, execute(connector, asked, "Edit", line="  "))
    assert empty == (200, {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": (
        "Type the line as you meant it.")})  # fmt: skip


async def test_the_commitment_forms_due_is_read_with_the_time_language(make_app, coach, connector, clock, sessions):
    clock.set(EVENING)
    client, teams = await make_app(coach)
    await say(client, connector, "log Acme yesterday 16:30")
    card = await say(client, connector, "outcome 1 result agreed connection yes")  # the whole outcome at once
    [form] = [a for a in card.card["actions"] if a["title"] == "Add commitment"]
    inputs = {i["id"]: i["type"] for i in form["card"]["body"]}
    assert inputs["due"] == "Input.Date" and inputs["due_time"] == "Input.Time"
    data = {**form["card"]["actions"][0]["data"], "side": "ours"}
    typed = await submit(client, connector, {**data, "what": "send the deck", "due": "friday"})  # a text box
    assert "Commitment #1 (ours): You \u2192 send the deck by Fri 04 Dec." in typed.visible
    timed = await submit(client, connector, {**data, "what": "call back", "due": "2026-12-02", "due_time": "17:00"})
    assert "Commitment #2 (ours): You \u2192 call back by Wed 02 Dec 17:00." in timed.visible
    vague = await submit(client, connector, {**data, "what": "x", "due": "soon"})
    assert "I couldn't read \u201csoon\u201d as a due date." in vague.visible
    far = await submit(client, connector, {**data, "what": "x", "due": "9999-12-31"})
    assert "ten years" in far.visible and "went wrong" not in far.visible
    assert await count(sessions, Commitment) == 2
    async with sessions() as session:
        due_at = await session.scalar(select(Commitment.due_at).where(Commitment.number == 2))
    assert due_at == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
