"""Pure translation: activity → address, actor, words, card submissions; message → card."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from botbuilder.schema import Activity

from adapters.teams import render, sdk_config, submissions, translate
from adapters.teams.submissions import SubmissionError, TypedText
from bot.config import ConfigError, Settings
from coaching.commands import AddCommitment, RecordOutcome
from coaching.messages import Button, Message, Section

from .fakes import BOT, TENANT, activity

ROOT = Path(__file__).resolve().parents[2]


def parsed(**kw) -> Activity:
    return Activity().deserialize(activity("https://smba.trafficmanager.net/emea/", **kw))


def test_address_uses_tenant_aad_id_and_conversation():
    address = translate.address_of(parsed(text="hi"))

    assert (address.platform, address.workspace, address.user, address.channel) == (
        "teams",
        TENANT,
        "aad-user-1",
        "a:personal-conversation-1",
    )


def test_tenant_falls_back_to_channel_data_then_default():
    only_channel_data = parsed(text="hi")
    only_channel_data.conversation.additional_properties.pop("tenantId")
    nothing = parsed(text="hi", channelData={})
    nothing.conversation.additional_properties.pop("tenantId")

    assert translate.tenant_of(only_channel_data) == TENANT
    assert translate.tenant_of(nothing) == "default"


def test_user_falls_back_to_the_channel_id_without_aad():
    body = activity("https://x.test/", text="hi")
    body["from"] = {"id": "29:emulator-user"}

    assert translate.address_of(Activity().deserialize(body)).user == "29:emulator-user"


@pytest.mark.parametrize(
    ("client_info", "local", "expected"),
    [
        ("America/Chicago", "Europe/Paris", "America/Chicago"),
        ("Not/AZone", "Europe/Paris", "Europe/Paris"),
        (None, "Asia/Kolkata", "Asia/Kolkata"),
        (None, "garbage", None),
    ],
)
def test_time_zone_prefers_client_info_and_ignores_unknown_names(client_info, local, expected):
    body = activity("https://x.test/", text="hi", timezone=None)
    body["localTimezone"] = local
    if client_info:
        body["entities"] = [{"type": "clientInfo", "timezone": client_info}]

    assert translate.timezone_of(Activity().deserialize(body)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<at>DealCoach</at> list", "list"),
        ("list <at>DealCoach</at>", "list"),
        ("<at>DealCoach</at>&nbsp;log Acme &quot;big deal&quot; tomorrow", 'log Acme "big deal" tomorrow'),
        ("<p><at>DealCoach</at> help</p>", "help"),
        ("  /negotiation   commitments  ", "/negotiation commitments"),
        ("handoff 3 <at>Bob Lee</at>", "handoff 3 <@29:bob|Bob Lee>"),
        ("team add <at>Bob Lee</at> <at>DealCoach</at>", "team add <@29:bob|Bob Lee>"),
    ],
)
def test_text_strips_only_the_bots_mention_and_html(text, expected):
    mention = {"type": "mention", "text": "<at>DealCoach</at>", "mentioned": dict(BOT)}
    other = {"type": "mention", "text": "<at>Bob Lee</at>", "mentioned": {"id": "29:bob", "name": "Bob Lee"}}

    assert translate.text_of(parsed(text=text, entities=[mention, other])) == expected


def test_empty_text_is_nothing_to_do():
    assert translate.incoming(parsed(text="   ")) is None
    assert translate.incoming(parsed(value={"someone": "else's card"})) is None


def test_plain_buttons_become_their_text_command():
    result = translate.incoming(parsed(value={"dealcoach": "commitment.kept", "command": "kept 3"}))

    assert isinstance(result, TypedText) and result.text == "kept 3"


def test_outcome_form_with_only_some_fields():
    value = {"dealcoach": "form.outcome", "command": "done 12", "notes": "ok"}
    result = translate.incoming(parsed(value=value))

    assert result == RecordOutcome(actor=result.actor, negotiation=12, notes="ok")


def test_outcome_form_says_which_issues_were_settled():
    value = {"dealcoach": "form.outcome", "command": "done 12", "settled": "price, SLA ,", "given": "2"}
    result = translate.incoming(parsed(value=value))

    assert result == RecordOutcome(actor=result.actor, negotiation=12, settled=("price", "SLA"), concessions_given=2)


def test_commitment_form_defaults_the_side_from_the_button():
    value = {"dealcoach": "form.commitment", "command": "commit 5 theirs ", "what": "Call back", "due": ""}

    result = translate.incoming(parsed(value=value))

    expected = AddCommitment(actor=result.actor, negotiation=5, side="theirs", text="Call back", due=None)
    assert result == expected


@pytest.mark.parametrize(
    "value",
    [
        {"dealcoach": "form.outcome", "command": "done x"},
        {"dealcoach": "form.outcome", "command": "done 1", "outcome": "won-big"},
        {"dealcoach": "form.outcome", "command": "done 1", "given": "-1"},
        {"dealcoach": "form.outcome", "command": "done 1", "connection": "maybe"},
        {"dealcoach": "form.commitment", "command": "commit 1 ours ", "what": " "},
        {"dealcoach": "form.commitment", "command": "commit 1 ours ", "what": "x", "due_time": "5pm"},
        {"dealcoach": "form.commitment", "command": "commit 1 ours ", "what": "x", "due_time": "17:00"},
        {"dealcoach": "form.commitment", "command": "commit 1 ours ", "what": "x", "side": "mine"},
        {"dealcoach": "negotiation.prep"},
    ],
)
def test_bad_submissions_raise_a_readable_error(value):
    with pytest.raises(SubmissionError):
        translate.incoming(parsed(value=value))


# --- render ----------------------------------------------------------------------------------------


def test_plain_replies_and_errors_are_text():
    assert render.render(Message(text="Done.")).text == "Done."
    usage = (Section(lines=("usage: prep <id>",)),)
    error = Message(text="No such negotiation.", sections=usage, kind="error")
    rendered = render.render(error)
    assert rendered.attachments is None and "usage: prep <id>" in rendered.text


def test_card_has_sections_facts_and_styled_buttons():
    message = Message(
        text="Commitment due",
        sections=(Section(heading="Acme", lines=("Send the SLA",), facts=(("Due", "Tue 01 Dec"),)),),
        buttons=(
            Button("Kept", "commitment.kept", "kept 1", "primary"),
            Button("Missed", "x", "missed 1", "danger"),
        ),
    )

    activity_out = render.render(message)
    card = activity_out.attachments[0].content

    assert activity_out.summary == "Commitment due"
    assert activity_out.attachments[0].content_type == "application/vnd.microsoft.card.adaptive"
    assert [b["text"] for b in card["body"] if b["type"] == "TextBlock"] == [
        "Commitment due",
        "Acme",
        "Send the SLA",
    ]
    assert card["body"][-1] == {"type": "FactSet", "facts": [{"title": "Due", "value": "Tue 01 Dec"}]}
    assert [(a["style"], a["data"]["command"]) for a in card["actions"]] == [
        ("positive", "kept 1"),
        ("destructive", "missed 1"),
    ]
    json.dumps(card)


def test_form_buttons_open_inline_forms_whose_submit_carries_the_command():
    form = Button("Add commitment", "form.commitment", "commit 4 theirs ")
    card = render.adaptive_card(Message(text="How did it go?", buttons=(form,)))

    [action] = card["actions"]
    inputs = {i["id"]: i for i in action["card"]["body"]}
    assert action["type"] == "Action.ShowCard"
    assert inputs["side"]["value"] == "theirs"
    assert inputs["what"]["isRequired"] is True
    assert action["card"]["actions"][0]["data"] == {
        "dealcoach": "form.commitment",
        "command": "commit 4 theirs ",
    }  # a card with forms is not redrawn after a click: no summary to carry


def test_button_data_stays_small_however_long_the_card_text():
    long_text = "In 30 minutes: #4 with " + "Acme Widgets International " * 40
    buttons = (Button("Got it " * 30, "nudge.ok", "ok"),)
    card = render.adaptive_card(Message(text=long_text, buttons=buttons, kind="precall", ref="negotiation:4"))

    data = card["actions"][0]["data"]
    assert len(data["summary"]) <= submissions.MAX_SUMMARY and data["summary"].endswith("\u2026")
    assert len(data["label"]) <= submissions.MAX_LABEL
    assert len(json.dumps(data)) < 400


def test_a_click_names_the_card_and_the_button():
    value = {"dealcoach": "commitment.kept", "command": "kept 3", "summary": "Due today: SLA", "label": "Kept"}

    clicked = translate.card_click(parsed(value=value, replyToId="1:card"))

    assert clicked == submissions.CardClick(activity_id="1:card", summary="Due today: SLA", label="Kept")


@pytest.mark.parametrize(
    "kw",
    [
        {"text": "kept 3"},  # typed, not clicked
        {"value": {"dealcoach": "commitment.kept", "command": "kept 3", "summary": "S", "label": "Kept"}},  # no id
        {"value": {"dealcoach": "commitment.kept", "command": "kept 3"}, "replyToId": "1:card"},  # an older card
        {"value": {"command": "kept 3", "summary": "S", "label": "Kept"}, "replyToId": "1:card"},  # not ours
        {
            "value": {"dealcoach": "commitment.kept", "command": "kept 3", "summary": "S", "label": "Kept"},
            "replyToId": "1:card",
            "conversation": "19:x@thread.v2",
            "conversation_type": "groupChat",
        },
    ],
    ids=["typed", "no-reply-to", "older-card", "foreign-card", "group-chat"],
)
def test_only_a_personal_click_on_a_current_card_is_a_card_click(kw):
    assert translate.card_click(parsed(**kw)) is None


def test_after_click_keeps_the_text_shows_the_choice_and_drops_every_button():
    button = render.after_click(submissions.CardClick("1:card", "Due today: SLA", "Snooze to tomorrow"))

    card = button.attachments[0].content
    assert (button.type, button.id, button.summary) == ("message", "1:card", "Due today: SLA")
    assert [b["text"] for b in card["body"]] == ["Due today: SLA", "\u2713 Snooze to tomorrow"]
    assert "actions" not in card
    json.dumps(card)


# --- the app package -------------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_manifest_is_ready_to_package():
    manifest = json.loads((ROOT / "deploy" / "teams" / "manifest.json").read_text())

    assert manifest["id"] == manifest["bots"][0]["botId"] == "{{MICROSOFT_APP_ID}}"
    assert manifest["bots"][0]["scopes"] == ["personal", "team", "groupChat"]  # colleagues can be @mentioned
    assert manifest["bots"][0]["supportsFiles"] is True  # the export's file-upload consent card needs it
    personal, shared = manifest["bots"][0]["commandLists"]
    assert personal["scopes"] == ["personal"] and shared["scopes"] == ["team", "groupChat"]
    assert [c["title"] for c in personal["commands"]] == ["help", "log", "list", "commitments", "digest", "calendar"]
    assert [c["title"] for c in shared["commands"]] == ["help", "team add", "handoff", "list"]
    assert all(len(c["description"]) <= 128 for lst in (personal, shared) for c in lst["commands"])
    assert len(manifest["description"]["full"]) <= 4000
    assert png_size(ROOT / "deploy" / "teams" / manifest["icons"]["color"]) == (192, 192)
    assert png_size(ROOT / "deploy" / "teams" / manifest["icons"]["outline"]) == (32, 32)


# --- configuration ---------------------------------------------------------------------------------


def test_sdk_config_names_what_is_missing():
    app = {"microsoft_app_id": "app", "microsoft_app_password": "secret"}

    with pytest.raises(ConfigError, match="MicrosoftAppTenantId"):
        sdk_config(Settings(**app, microsoft_app_type="SingleTenant"))
    with pytest.raises(ConfigError, match="MicrosoftAppPassword"):
        sdk_config(Settings(microsoft_app_id="app"))
    with pytest.raises(ConfigError, match="MicrosoftAppType"):
        sdk_config(Settings(**app, microsoft_app_type="Sometimes"))
    single = sdk_config(Settings(**app, microsoft_app_type="SingleTenant", microsoft_app_tenant_id="t"))
    assert (single.APP_ID, single.APP_TYPE, single.APP_TENANTID) == ("app", "SingleTenant", "t")
    assert "secret" not in repr(single)
    assert not hasattr(sdk_config(Settings()), "APP_ID")  # emulator mode


def test_the_digest_chart_rides_inline_in_the_card_when_it_fits():
    from coaching.messages import Attachment, Message, Section

    chart = Attachment("digest-2026-W48.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"x" * 2000, "Last 8 weeks")
    digest = Message("Weekly digest 2026-W48", sections=(Section(facts=(("Held", "3"),)),), attachments=(chart,))
    card = render.adaptive_card(digest)
    [image] = [item for item in card["body"] if item["type"] == "Image"]
    assert image["url"].startswith("data:image/png;base64,iVBORw0KGg")
    assert image["altText"] == "Last 8 weeks"
    huge = Attachment("big.png", "image/png", b"x" * (render.MAX_INLINE_IMAGE + 1))
    text_only = render.adaptive_card(Message("Weekly digest", attachments=(huge,)))
    assert [item["type"] for item in text_only["body"]] == ["TextBlock"]
