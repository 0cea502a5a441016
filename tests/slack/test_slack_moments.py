"""Moments in Slack: the locale from users.info sets the day/month order, a question's Yes and Edit buttons (each
answers it once), and form moments out of range are errors next to their field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from adapters.slack import render
from adapters.slack.translate import FormContext
from coaching.models import Commitment, Negotiation, User
from tests.slack.slackfakes import USER, block_text, buttons, day, moment, number, radio, submission, text
from tests.slack.slackfakes import select as select_

EVENING = datetime(2026, 12, 1, 19, 38, tzinfo=UTC)  # Tue 01 Dec 20:38 in Berlin, the fake profile's zone


async def count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_the_locale_from_users_info_sets_how_slashed_dates_read(slack, slack_api, clock, sessions):
    clock.set(EVENING)
    slack_api.locales[USER] = "en-US"  # a Berlin profile with Slack in US English: month first
    reply = await slack.ask("log Acme 12/6 10am")
    assert "Logged #1: Acme, Sun 06 Dec 10:00" in reply["text"]
    [info] = slack_api.to("users.info")
    assert info.args["include_locale"] in ("1", "true", True)
    async with sessions() as session:
        assert await session.scalar(select(User.locale)) == "en-US"
    shown = block_text((await slack.ask("settings"))["blocks"])
    assert "mdy, month first: 6/12 is 12 June (from your language)" in shown


async def test_a_question_shows_yes_and_edit_and_the_edit_form_sends_the_corrected_line(
    slack, slack_api, clock, sessions
):
    clock.set(EVENING)
    reply = await slack.ask("log Acme Sun 3pm")
    assert "is that right?" in reply["text"]
    yes, edit = buttons(reply["blocks"])
    assert (yes["text"]["text"], yes["value"], yes.get("style")) == (
        "Yes",
        'log "Acme" 2026-12-06T15:00+01:00',
        "primary",
    )
    assert (edit["text"]["text"], edit["value"]) == ("Edit", "log Acme Sun 3pm")
    payload, _ = slack.ephemeral_click_payload(edit)
    assert (await slack.interaction(payload)).status == 200
    await slack.settle()
    [opened] = slack_api.to("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "dealcoach.edit"
    [line] = view["blocks"]
    assert line["element"]["initial_value"] == "log Acme Sun 3pm"
    assert await count(sessions, Negotiation) == 0
    form = submission(
        "dealcoach.edit", {"line": text("log Acme sunday 4pm")}, private_metadata=view["private_metadata"]
    )
    response = await slack.interaction(form)
    assert response.status == 200 and await response.text() == ""
    await slack.settle()
    assert "Logged #1: Acme, Sun 06 Dec 16:00" in slack_api.to("chat.postMessage")[-1].args["text"]
    # the question is answered: its Yes does nothing now, and the form sent again does nothing either
    payload, _ = slack.ephemeral_click_payload(yes)
    await slack.interaction(payload)
    await slack.interaction(form)
    await slack.settle()
    assert await count(sessions, Negotiation) == 1


async def test_an_edit_after_yes_is_refused_on_the_form(slack, slack_api, clock, sessions):
    clock.set(EVENING)
    reply = await slack.ask("log Acme Sun 3pm")
    yes, edit = buttons(reply["blocks"])
    payload, hook = slack.ephemeral_click_payload(yes)
    await slack.interaction(payload)
    await slack.interaction(payload)  # a double click
    await slack.settle()
    assert "Logged #1: Acme, Sun 06 Dec 15:00" in slack_api.hook_calls(hook)[0].args["text"]
    payload, _ = slack.ephemeral_click_payload(edit)
    await slack.interaction(payload)
    await slack.settle()
    view = slack_api.to("views.open")[-1].args["view"]
    form = submission(
        "dealcoach.edit", {"line": text("log Acme sunday 4pm")}, private_metadata=view["private_metadata"]
    )
    body = await (await slack.interaction(form)).json()
    assert body == {"response_action": "errors", "errors": {"line": "This question was answered already."}}
    assert await count(sessions, Negotiation) == 1


async def test_form_moments_out_of_range_are_errors_next_to_their_field(slack, slack_api, clock, sessions):
    clock.set(EVENING)
    far = int(datetime(9000, 1, 1, 10, 0, tzinfo=UTC).timestamp())
    body = await (
        await slack.interaction(submission("dealcoach.log", {"counterpart": text("Acme"), "when": moment(far)}))
    ).json()
    assert body["response_action"] == "errors" and "ten years" in body["errors"]["when"]
    assert "went wrong" not in json.dumps(body)
    await slack.ask("log Acme yesterday 10am")
    meta = json.dumps({"negotiation": 1})
    values = {"side": radio("ours"), "text": text("send it"), "due": day("9999-12-31")}
    body = await (await slack.interaction(submission("dealcoach.commitment", values, private_metadata=meta))).json()
    assert body["response_action"] == "errors" and "ten years" in body["errors"]["due"]
    assert await count(sessions, Commitment) == 0
    # a due time, read in the person's zone
    timed = {
        **values,
        "due": day("2026-12-02"),
        "due_time": {"value": {"type": "timepicker", "selected_time": "17:00"}},
    }
    form = submission("dealcoach.commitment", timed, private_metadata=meta, view_id="V0TIME")
    assert (await slack.interaction(form)).status == 200
    await slack.settle()
    async with sessions() as session:
        stored = await session.scalar(select(Commitment))
    assert stored.due_at == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    untimed = {**values, "due": day(None), "due_time": {"value": {"type": "timepicker", "selected_time": "17:00"}}}
    body = await (await slack.interaction(submission("dealcoach.commitment", untimed, private_metadata=meta))).json()
    assert body == {"response_action": "errors", "errors": {"due": "Pick the day it is due, too."}}


async def test_the_settings_form_sets_the_day_month_order(slack, slack_api, clock, sessions):
    clock.set(EVENING)
    await slack.ask("settings")
    await slack.settle()
    view = render.settings_modal(FormContext()).to_dict()
    [dates] = [b for b in view["blocks"] if b["block_id"] == "dates"]
    assert [o["value"] for o in dates["element"]["options"]] == ["dmy", "mdy", "ymd"]
    body = await (await slack.interaction(submission("dealcoach.settings", {"dates": radio("dym")}))).json()
    assert body["response_action"] == "errors" and "dates" in body["errors"]
    form = submission("dealcoach.settings", {"dates": radio("mdy")}, view_id="V0DATES")
    assert (await slack.interaction(form)).status == 200
    await slack.settle()
    async with sessions() as session:
        assert await session.scalar(select(User.date_order)) == "mdy"
    assert "Logged #1: Acme, Sun 06 Dec 10:00" in (await slack.ask("log Acme 12/6 10am"))["text"]


async def test_a_form_value_the_coach_refuses_is_shown_next_to_its_field(slack, clock, sessions):
    clock.set(EVENING)
    await slack.ask("log Acme yesterday 10am")
    meta = json.dumps({"negotiation": 1})
    values = {"outcome": select_("agreed"), "concessions_given": number(500)}
    body = await (await slack.interaction(submission("dealcoach.outcome", values, private_metadata=meta))).json()
    assert body == {"response_action": "errors", "errors": {"concessions_given": "Concessions are counted 0 to 100."}}
