"""Hostile and odd Slack input through POST /slack/events: broken headers are a 401, payloads of the
wrong shape a short 400 that changes nothing, text containing "payload" works, text people typed
never becomes a live mention in what the bot sends, form fields are read like typed commands, and
uninstalling acts on the installation's own workspace."""

from __future__ import annotations

import copy
import hashlib
import hmac
import io
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import logs
from bot.config import Settings
from coaching import parser
from coaching.models import Commitment, Counterpart, Negotiation, Touchpoint, User, Workspace
from coaching.outbox import Dispatcher
from tests.slack.fuzzing import fingerprint
from tests.slack.slackfakes import (
    SECRET,
    TEAM,
    USER,
    fixture,
    form_body,
    interaction_body,
    radio,
    submission,
    text,
)
from tests.slack.slackfakes import (
    select as pick,
)

FORM = "application/x-www-form-urlencoded"


def headers_for(body: str, *, timestamp: str, signature: str | None = None) -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + mac if signature is None else signature,
    }


def no_traceback(caplog) -> None:
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


# ---------------------------------------------------------------------------- headers


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "-1", " 1700000000", "１７００", "9" * 30, "1" * 5000])
async def test_a_timestamp_that_is_not_a_number_is_401_before_anything_runs(slack, engine, caplog, timestamp):
    caplog.set_level(logging.DEBUG)
    body = form_body(fixture("slash_command") | {"response_url": slack.api.new_response_url()})
    before = await fingerprint(engine)
    response = await slack.client.post("/slack/events", data=body, headers=headers_for(body, timestamp=timestamp))
    assert response.status == 401
    assert await response.json() == {"error": "invalid request"}
    await slack.settle()
    assert await fingerprint(engine) == before
    no_traceback(caplog)


@pytest.mark.parametrize("signature", ["v0=abc", "v1=" + "0" * 64, "V0=" + "A" * 64, "v0=" + "g" * 64, ""])
async def test_a_malformed_signature_header_is_401(slack, engine, signature):
    body = form_body(fixture("slash_command") | {"response_url": slack.api.new_response_url()})
    stamp = str(int(time.time()))
    before = await fingerprint(engine)
    response = await slack.client.post(
        "/slack/events", data=body, headers=headers_for(body, timestamp=stamp, signature=signature)
    )
    assert response.status == 401
    assert await fingerprint(engine) == before


async def test_two_signature_headers_are_401(slack):
    body = form_body(fixture("slash_command") | {"response_url": slack.api.new_response_url()})
    good = headers_for(body, timestamp=str(int(time.time())))
    headers = [(k, v) for k, v in good.items()] + [("X-Slack-Signature", "v0=" + "0" * 64)]
    response = await slack.client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401


async def test_slacks_certificate_check_is_answered_signed_or_not(slack, engine):
    before = await fingerprint(engine)
    body = "ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO"
    unsigned = await slack.client.post("/slack/events", data=body, headers={"Content-Type": FORM})
    assert (unsigned.status, await unsigned.text()) == (200, "")
    signed = await slack.post(body, FORM)
    assert (signed.status, await signed.text()) == (200, "")
    assert await fingerprint(engine) == before


# ---------------------------------------------------------------------------- shapes


def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"v": [value]}
    return value


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    payload = copy.deepcopy(payload)
    node = payload
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return payload


def _with(payload: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    payload = copy.deepcopy(payload)
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return payload


CLICK = fixture("block_actions")
FORM_SUBMISSION = submission("dealcoach.log", {"counterpart": text("Acme"), "when": {"value": {"type": "x"}}})
MESSAGE = fixture("event_message_im")
USER_CHANGE = fixture("event_user_change")
HOME = fixture("event_app_home_opened")
COMMAND = fixture("slash_command")

# (what, encoding, payload): each is signed and must be refused with a 400
MALFORMED: list[tuple[str, str, Any]] = [
    ("view_submission without type", "interaction", _without(FORM_SUBMISSION, "type")),
    ("an event with text 5", "json", _with(MESSAGE, 5, "event", "text")),
    ("state.values a list", "interaction", _with(FORM_SUBMISSION, [], "view", "state", "values")),
    ("state.values a string", "interaction", _with(FORM_SUBMISSION, "x", "view", "state", "values")),
    ("a block of values a string", "interaction", _with(FORM_SUBMISSION, "x", "view", "state", "values", "when")),
    ("an input a number", "interaction", _with(FORM_SUBMISSION, {"value": 5}, "view", "state", "values", "when")),
    ("user_change with id []", "json", _with(USER_CHANGE, [], "event", "user", "id")),
    ("user_change with no id", "json", _without(USER_CHANGE, "event", "user", "id")),
    ("user_change with user a string", "json", _with(USER_CHANGE, "steve", "event", "user")),
    ("a click without user", "interaction", _without(CLICK, "user")),
    ("a click whose user is 5", "interaction", _with(CLICK, 5, "user")),
    ("a click whose user id is a list", "interaction", _with(CLICK, ["U1"], "user", "id")),
    ("a form without user", "interaction", _without(FORM_SUBMISSION, "user")),
    ("home opened without user", "json", _without(HOME, "event", "user")),
    ("a message whose user is a dict", "json", _with(MESSAGE, {"id": []}, "event", "user")),
    ("a message without channel", "json", _without(MESSAGE, "event", "channel")),
    ("team 5", "interaction", _with(CLICK, 5, "team")),
    ("team a list", "interaction", _with(CLICK, [], "team")),
    ("team id a list", "interaction", _with(CLICK, {"id": []}, "team")),
    ("team_id 5", "json", _with(MESSAGE, 5, "team_id")),
    ("channel a list", "interaction", _with(CLICK, [], "channel")),
    ("event channel an object with a numeric id", "json", _with(MESSAGE, {"id": 5}, "event", "channel")),
    ("actions an object", "interaction", _with(CLICK, {"action_id": "x"}, "actions")),
    ("actions a string", "interaction", _with(CLICK, "kept 1", "actions")),
    ("actions empty", "interaction", _with(CLICK, [], "actions")),
    ("actions of numbers", "interaction", _with(CLICK, [5], "actions")),
    ("an action id 5", "interaction", _with(CLICK, 5, "actions", 0, "action_id")),  # type: ignore[arg-type]
    ("message blocks a string", "interaction", _with(CLICK, "x", "message", "blocks")),
    ("block elements a number", "interaction", _with(CLICK, [{"type": "actions", "elements": 5}], "message", "blocks")),
    ("authorizations a string", "json", _with(HOME, "x", "authorizations")),
    ("authorizations of numbers", "json", _with(HOME, [5], "authorizations")),
    ("private_metadata a number", "interaction", _with(FORM_SUBMISSION, 5, "view", "private_metadata")),
    ("callback_id a list", "interaction", _with(FORM_SUBMISSION, [], "view", "callback_id")),
    ("a huge message", "json", _with(MESSAGE, "x" * 41_000, "event", "text")),
    ("deep nesting", "json", MESSAGE | {"extra": deep(40)}),
    ("a huge number", "json", _with(MESSAGE, 10**30, "event_time")),
    ("a payload type DealCoach has no use for", "interaction", _with(CLICK, "interactive_message", "type")),
    ("no type at all", "json", _without(MESSAGE, "type")),
    ("an event without its type", "json", _without(MESSAGE, "event", "type")),
    ("a JSON slash command with team 5", "json", COMMAND | {"team": 5}),
    ("a slash command with a lower-case user id", "form", COMMAND | {"user_id": "u2147483697"}),
    ("a slash command with a 33-character team id", "form", COMMAND | {"team_id": "T" * 33}),
    ("a slash command without user_id", "form", _without(COMMAND, "user_id")),
    ("a slash command with a huge text", "form", COMMAND | {"text": "log " + "x" * 41_000}),
    ("a response_url that is not http", "form", COMMAND | {"response_url": "javascript:alert(1)"}),
    ("is_enterprise_install maybe", "interaction", _with(CLICK, "maybe", "is_enterprise_install")),
    # what Bolt itself reads before any listener (found by bench/faults/fuzz_slack.py)
    ("a view without its type", "interaction", _without(FORM_SUBMISSION, "view", "type")),
    ("event null", "json", fixture("url_verification") | {"event": None}),
    ("view null", "json", fixture("url_verification") | {"view": None}),
    ("an authorization with a numeric team", "json", _with(HOME, [{"team_id": TEAM, "team": 5}], "authorizations")),
    ("an authorization with nested values", "json", _with(HOME, [{"team_id": TEAM, "x": {}}], "authorizations")),
    ("revoked tokens null", "json", _with(fixture("event_tokens_revoked"), None, "event", "tokens", "oauth")),
    ("response_urls null", "interaction", FORM_SUBMISSION | {"response_urls": None}),
    ("response_url null", "interaction", CLICK | {"response_url": None}),
    ("a NUL in a command (PostgreSQL refuses it)", "form", COMMAND | {"text": "log Acme\x00 tomorrow"}),
    ("a lone surrogate in a message", "json", _with(MESSAGE, "\ud800", "event", "text")),
]

RAW_MALFORMED = [
    ("NaN in JSON", '{"type": "event_callback", "event": {"type": "message"}, "x": NaN}', "application/json"),
    ("nesting deeper than the decoder", "[" * 100_000 + "]" * 100_000, "application/json"),
    ("a repeated form field", form_body(COMMAND) + "&user_id=U0OTHER", FORM),
    ("a form that is not a form", "a&&=b&=", FORM),
    ("payload= with a JSON list", "payload=%5B1%5D", FORM),
]


def encode(encoding: str, payload: Any) -> tuple[str, str]:
    if encoding == "form":
        return form_body(payload), FORM
    if encoding == "interaction":
        return interaction_body(payload), FORM
    return json.dumps(payload), "application/json"


async def test_a_payload_of_the_wrong_shape_is_a_short_400_that_changes_nothing(slack, engine, caplog):
    caplog.set_level(logging.DEBUG)
    await slack.ask("log Acme tomorrow 3pm")  # some data that must survive
    await slack.settle()
    before = await fingerprint(engine)
    for what, encoding, payload in MALFORMED:  # one server and database for all: each case changes nothing
        body, content_type = encode(encoding, payload)
        response = await slack.post(body, content_type)
        assert response.status == 400, what
        assert await response.json() == {"error": "malformed request"}, what
        await slack.settle()
        assert await fingerprint(engine) == before, what
    no_traceback(caplog)


@pytest.mark.parametrize(("what", "body", "content_type"), RAW_MALFORMED, ids=[m[0] for m in RAW_MALFORMED])
async def test_a_body_that_does_not_parse_is_400_when_signed_and_401_when_not(
    slack, engine, caplog, what, body, content_type
):
    caplog.set_level(logging.DEBUG)
    before = await fingerprint(engine)
    assert (await slack.post(body, content_type)).status == 400
    unsigned = await slack.client.post("/slack/events", data=body, headers={"Content-Type": content_type})
    assert unsigned.status == 401
    assert await fingerprint(engine) == before
    no_traceback(caplog)


async def test_user_change_with_an_odd_id_stores_no_user(slack, sessions):
    await slack.event(_with(USER_CHANGE, [], "event", "user", "id"))
    await slack.event(_with(USER_CHANGE, "Ev0USERCH02", "event_id") | {"event": {"type": "user_change", "user": {}}})
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize(
    "name", ["slash_command", "block_actions", "view_submission", "event_app_home_opened", "url_verification"]
)
async def test_recorded_payloads_pass_the_checks(slack, name):
    payload = fixture(name)
    if "response_url" in payload:
        payload["response_url"] = slack.api.new_response_url()
    encoding = {"slash_command": "form", "block_actions": "interaction", "view_submission": "interaction"}
    body, content_type = encode(encoding.get(name, "json"), payload)
    response = await slack.post(body, content_type)
    assert response.status == 200, await response.text()


# ---------------------------------------------------------------------------- "payload" in the text


async def test_text_containing_payload_is_a_slash_command_like_any_other(slack, sessions):
    reply = await slack.ask("note Acme: sent the payload spec")
    assert not reply["blocks"][0]["text"]["text"].startswith(":warning:"), reply["text"]
    reply = await slack.ask("log payload=Systems tomorrow 3pm")
    assert "payload=Systems" in reply["text"]
    async with sessions() as session:
        assert await session.scalar(select(Touchpoint.note)) == "sent the payload spec"
        assert set(await session.scalars(select(Counterpart.name))) == {"Acme", "payload=Systems"}


# ---------------------------------------------------------------------------- no live mentions

_LIVE = re.compile(r"<[!@#]|(?<![\w\u2060])@(here|channel|everyone)\b", re.IGNORECASE)


def mrkdwn_texts(payload: Any) -> list[str]:
    """Every mrkdwn text object (each must be verbatim) and the top-level notification text."""
    found: list[str] = []
    stack = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                assert node.get("verbatim") is True, node
                found.append(node["text"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    if isinstance(payload, dict) and isinstance(payload.get("text"), str):
        found.append(payload["text"])
    return found


def sent_texts(api) -> str:
    methods = ("response_url", "chat.postMessage", "chat.update", "views.publish")
    texts = [t for call in api.calls if call.method in methods for t in mrkdwn_texts(call.args)]
    live = [t for t in texts if _LIVE.search(t)]
    assert not live, live[:3]
    return "\n".join(texts)


async def test_text_people_typed_never_becomes_a_live_mention(slack, slack_api, sessions, coach, clock):
    # what Slack sends for a typed @here (escaped as <!here>), a literal "<!channel>" (as entities), a
    # user and a channel mention, and a plain "@everyone"
    await slack.ask("log <!here> Corp 2026-12-01 14:00")
    await slack.ask("note <!here> Corp: loves &lt;!channel&gt; and @everyone")
    await slack.ask("commit 1 ours send <@U0BOSS|boss> the <#C0GENERAL|general> deck")
    values = {"outcome": pick("agreed"), "observations": text("<!everyone> golf"), "notes": text("@channel ok")}
    response = await slack.interaction(
        submission("dealcoach.outcome", values, private_metadata=json.dumps({"negotiation": 1}), view_id="V0OUT")
    )
    assert response.status == 200
    await slack.ask("log <!here> Corp 2026-12-03 14:00")  # #2: its brief and reminder recall all of the above
    await slack.ask("prep 2")
    await slack.ask("counterparts")
    await slack.event(HOME)  # App Home lists them too
    clock.set(datetime(2026, 12, 3, 12, 30, tzinfo=UTC))  # the pre-call reminder of #2
    await Dispatcher(sessions, coach, {"slack": slack.sender}, clock).tick()
    await slack.settle()

    shown = sent_texts(slack_api)  # fails on any live mention, and on any mrkdwn object not verbatim
    assert "&lt;!here&gt; Corp" in shown
    assert "&lt;!channel&gt;" in shown and "@\u2060everyone" in shown
    assert "&lt;@U0BOSS&gt;" in shown and "&lt;#C0GENERAL&gt;" in shown
    assert "&lt;!everyone&gt; golf" in shown and "@\u2060channel ok" in shown
    assert slack_api.to("chat.postMessage") and slack_api.to("views.publish")
    # stored as typed: Slack's entities undone on the way in, done again on the way out
    async with sessions() as session:
        assert await session.scalar(select(Counterpart.name)) == "<!here> Corp"
        assert await session.scalar(select(Touchpoint.note)) == "loves <!channel> and @everyone"
        assert await session.scalar(select(Commitment.text)) == "send <@U0BOSS> the <#C0GENERAL> deck"


async def test_ampersands_show_as_typed(slack, sessions):
    reply = await slack.ask("log AT&amp;T tomorrow 3pm")
    assert "AT&amp;T" in reply["text"] and "&amp;amp;" not in json.dumps(reply)
    async with sessions() as session:
        assert await session.scalar(select(Counterpart.name)) == "AT&T"


# ---------------------------------------------------------------------------- form fields


async def settings_form(slack, **values: Any):
    return await slack.interaction(submission("dealcoach.settings", values, view_id=f"V{time.monotonic_ns()}"))


@pytest.mark.parametrize("quiet", ["19:00-08:00", "22:30-6:00", "off", "7pm-8am", "25:00-08:00", "banana", "9-5"])
async def test_the_settings_form_reads_quiet_hours_as_the_settings_command_does(slack, sessions, engine, quiet):
    await slack.ask("settings")  # the user exists
    await slack.settle()
    before = await fingerprint(engine)
    response = await settings_form(slack, quiet=text(quiet))
    try:
        expected = parser.quiet_hours(quiet)
    except ValueError:
        body = await response.json()
        assert body["response_action"] == "errors" and "quiet" in body["errors"]
        assert await fingerprint(engine) == before
        return
    assert response.status == 200 and await response.text() == ""
    async with sessions() as session:
        user = await session.scalar(select(User))
    assert (user.quiet_start, user.quiet_end) == (expected or (None, None))


async def test_the_settings_form_takes_only_the_roles_there_are(slack, sessions, engine):
    await slack.ask("log Acme tomorrow 3pm")
    await slack.settle()
    before = await fingerprint(engine)
    for field, value in (("role", "ceo"), ("nudges", "maybe")):
        body = await (await settings_form(slack, **{field: radio(value)})).json()
        assert body["response_action"] == "errors" and field in body["errors"]
    assert await fingerprint(engine) == before
    prep = await slack.ask("prep 1")  # today's bug: a stored "ceo" broke every prep
    assert not prep["blocks"][0]["text"]["text"].startswith(":warning:")
    assert (await settings_form(slack, role=radio("procurement"))).status == 200
    async with sessions() as session:
        assert await session.scalar(select(User.role)) == "procurement"


async def test_form_texts_longer_than_the_typed_commands_allow_are_field_errors(slack, engine):
    await slack.ask("settings")
    await slack.settle()
    before = await fingerprint(engine)
    long_name = submission("dealcoach.log", {"counterpart": text("x" * 201), "when": {"value": {"type": "x"}}})
    body = await (await slack.interaction(long_name)).json()
    assert body["response_action"] == "errors" and "counterpart" in body["errors"]
    assert await fingerprint(engine) == before


# ---------------------------------------------------------------------------- whose workspace


def shared_channel(name: str, event_id: str) -> dict[str, Any]:
    """An event that reached DealCoach (installed in TEAM) from another organisation's workspace."""
    return fixture(name) | {
        "team_id": "T0OTHER",
        "event_id": event_id,
        "is_ext_shared_channel": True,
        "authorizations": [
            {"enterprise_id": None, "team_id": TEAM, "user_id": "UBOT", "is_bot": True, "is_enterprise_install": False}
        ],
    }


async def workspaces(sessions) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(select(Workspace.external_id)))


@pytest.mark.parametrize("name", ["event_app_uninstalled", "event_tokens_revoked"])
async def test_uninstall_through_a_shared_channel_deletes_the_installations_data_only(slack, sessions, name):
    await slack.ask("log Acme tomorrow 3pm")
    await slack.ask("log Globex tomorrow 3pm", team_id="T0OTHER", user_id="U0OTHER")
    assert await workspaces(sessions) == {TEAM, "T0OTHER"}
    response = await slack.event(shared_channel(name, "Ev0SHARED01"))
    assert response.status == 200
    await slack.settle()
    assert await workspaces(sessions) == {"T0OTHER"}
    async with sessions() as session:
        assert [n.counterpart.name for n in await session.scalars(select(Negotiation))] == ["Globex"]
    assert USER  # the installation's own user is gone with its workspace


async def test_each_request_is_logged_with_its_own_request_id(slack, restore_logging):
    stream = io.StringIO()
    logs.configure(Settings(log_format="json", log_level="INFO"), stream=stream)
    for _ in range(2):
        await slack.client.post("/slack/events", data="x", headers={"Content-Type": FORM})
    rejected = [json.loads(line) for line in stream.getvalue().splitlines() if "rejected" in line]
    assert len(rejected) == 2 and len({line["request_id"] for line in rejected}) == 2
