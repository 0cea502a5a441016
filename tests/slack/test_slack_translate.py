"""translate.py: Slack payloads (recorded fixtures) -> neutral commands. Pure, table-driven."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from adapters.slack import translate
from coaching.commands import AddCommitment, ChangeSettings, LogNegotiation, RecordOutcome
from coaching.ports import Address
from tests.slack.slackfakes import TEAM, USER, day, fixture, moment, number, radio, select, submission, text


def test_slash_command_actor_is_neutral():
    actor = translate.actor_from_command(fixture("slash_command"), timezone="Europe/Berlin")
    assert actor.address == Address("slack", TEAM, USER)
    assert (actor.display_name, actor.timezone) == ("steve", "Europe/Berlin")


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("  list ", "list"),
        ("handoff 3 <@U0OWNER|maria>", "handoff 3 <@U0OWNER>"),
        ("team add <@U0REP>", "team add <@U0REP>"),
        ("", ""),
        (None, ""),
    ],
)
def test_command_text_normalises_mentions(typed, parsed):
    assert translate.command_text(typed) == parsed


@pytest.mark.parametrize(("typed", "form"), [("log", True), (" LOG ", True), ("log Acme tomorrow", False), ("", False)])
def test_only_a_bare_log_opens_the_form(typed, form):
    assert translate.wants_log_form(typed) is form


def test_click_from_block_actions():
    click = translate.click_from_block_actions(fixture("block_actions"))
    assert (click.action_id, click.value, click.label) == ("commitment.kept", "kept 1", "Kept")
    assert (click.channel, click.message_ts, click.ephemeral) == ("D0123456", "1700000000.000100", False)
    assert click.form is None
    assert click.dedupe_key == "click:D0123456:1700000000.000100"  # a message without forms: one answer


def test_a_message_of_plain_buttons_takes_one_answer_one_with_forms_several():
    plain = fixture("block_actions")
    plain["message"]["blocks"] = [
        {
            "type": "actions",
            "block_id": "dealcoach.actions",
            "elements": [
                {"type": "button", "action_id": "commitment.kept#0", "value": "kept 1"},
                {"type": "button", "action_id": "commitment.missed#1", "value": "missed 1"},
            ],
        }
    ]
    kept = translate.click_from_block_actions(plain)
    plain["actions"][0].update(action_id="commitment.missed#1", value="missed 1")
    missed = translate.click_from_block_actions(plain)
    assert kept.final_choice and kept.dedupe_key == missed.dedupe_key
    with_form = fixture("block_actions")
    with_form["message"]["blocks"] = [
        {
            "type": "actions",
            "block_id": "dealcoach.actions",
            "elements": [
                {"type": "button", "action_id": "form.outcome#0", "value": "done 1"},
                {"type": "button", "action_id": "negotiation.followup#1", "value": "followup 1"},
            ],
        }
    ]
    with_form["actions"][0].update(action_id="negotiation.followup#1", value="followup 1")
    click = translate.click_from_block_actions(with_form)
    assert not click.final_choice and click.dedupe_key.endswith(":negotiation.followup:followup 1")


@pytest.mark.parametrize(
    ("action_id", "value", "form", "target"),
    [
        ("form.outcome#0", "done 4", translate.OUTCOME_FORM, (4, None)),
        ("form.commitment#1", "commit 4 ours ", translate.COMMITMENT_FORM, (4, "ours")),
        ("form.commitment", "commit 12 theirs", translate.COMMITMENT_FORM, (12, "theirs")),
        ("form.settings#1", "settings", translate.SETTINGS_FORM, (None, None)),
        ("negotiation.prep#2", "prep 4", None, (4, None)),
    ],
)
def test_form_buttons(action_id, value, form, target):
    payload = fixture("block_actions")
    payload["actions"][0].update(action_id=action_id, value=value)
    click = translate.click_from_block_actions(payload)
    assert click.form == form
    assert translate.form_target(click.value) == target


def actor():
    return translate.actor(TEAM, USER)


STARTS = int(datetime(2026, 12, 3, 13, 0, tzinfo=UTC).timestamp())
META_4 = json.dumps({"negotiation": 4, "channel": "D1", "message_ts": "1.2"})

FORMS = [
    (
        "dealcoach.log",
        {"counterpart": text("Globex"), "when": moment(STARTS), "channel": select("email"), "repeat": radio("no")},
        "",
        LogNegotiation(
            actor=actor(),
            counterpart="Globex",
            when=datetime(2026, 12, 3, 13, 0, tzinfo=UTC),
            channel="email",
            repeat=False,
        ),
    ),
    (
        "dealcoach.outcome",
        {
            "outcome": select("partial"),
            "sentiment": select("2"),
            "hard_win": radio("yes"),
            "concessions_given": number(3),
            "concessions_received": number(0),
            "settled": text("price, SLA"),
            "notes": text("  tough  "),
        },
        META_4,
        RecordOutcome(
            actor=actor(),
            negotiation=4,
            outcome="partial",
            sentiment=2,
            hard_win=True,
            concessions_given=3,
            concessions_received=0,
            notes="tough",
            settled=("price", "SLA"),
        ),
    ),
    (
        "dealcoach.commitment",
        {"side": radio("theirs"), "text": text("send the PO"), "due": day("2026-12-05")},
        META_4,
        AddCommitment(actor=actor(), negotiation=4, side="theirs", text="send the PO", due=date(2026, 12, 5)),
    ),
    (
        "dealcoach.settings",
        {"timezone": text("Asia/Tokyo"), "nudges": radio("off"), "quiet": text(None)},
        "",
        ChangeSettings(actor=actor(), timezone="Asia/Tokyo", nudges=False),
    ),
]


@pytest.mark.parametrize(("callback_id", "values", "meta", "command"), FORMS, ids=[f[0] for f in FORMS])
def test_forms_become_commands(callback_id, values, meta, command):
    result = translate.command_from_view(submission(callback_id, values, private_metadata=meta), actor())
    assert result.command == command
    assert result.view_id == "V0001"


@pytest.mark.parametrize(
    ("callback_id", "values", "meta", "block"),
    [
        ("dealcoach.log", {"when": moment(STARTS)}, "", "counterpart"),
        ("dealcoach.log", {"counterpart": text("Globex")}, "", "when"),
        ("dealcoach.log", {"counterpart": text("X"), "when": moment(STARTS), "channel": select("fax")}, "", "channel"),
        ("dealcoach.outcome", {"sentiment": select("9")}, META_4, "sentiment"),
        ("dealcoach.outcome", {"concessions_given": number("two")}, META_4, "concessions_given"),
        ("dealcoach.outcome", {}, "", "outcome"),  # lost its negotiation
        ("dealcoach.commitment", {"side": radio("ours")}, META_4, "text"),
        ("dealcoach.commitment", {"side": radio("ours"), "text": text("x"), "due": day("soon")}, META_4, "due"),
    ],
)
def test_form_errors_name_the_field(callback_id, values, meta, block):
    with pytest.raises(translate.FormError) as raised:
        translate.command_from_view(submission(callback_id, values, private_metadata=meta), actor())
    assert raised.value.block_id == block


def test_form_context_survives_private_metadata_and_garbage():
    context = translate.FormContext(negotiation=4, channel="D1", message_ts="1.2", label="Log outcome")
    assert translate.FormContext.load(context.dump()) == context
    assert translate.FormContext.load("not json") == translate.FormContext()
    assert translate.FormContext.load('["list"]') == translate.FormContext()


def test_profiles():
    user = fixture("event_user_change")["event"]["user"]
    assert translate.timezone_of_profile(user) == "America/New_York"
    assert translate.timezone_of_profile({"tz": None}) is None
    assert translate.display_name_of_profile(user) == "steve"
    assert translate.bot_tokens_revoked(fixture("event_tokens_revoked")["event"])
