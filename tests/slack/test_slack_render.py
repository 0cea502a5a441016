"""render.py: neutral messages -> Block Kit that slack_sdk's models accept (they validate limits)."""

from __future__ import annotations

from adapters.slack import render, translate
from coaching.messages import Button, Message, Section
from tests.slack.slackfakes import block_text, buttons, fixture

FOLLOWUP = Message(
    "How did #1 with Acme go?",
    sections=(Section(lines=("A personal note beats an automated email.",)),),
    buttons=(
        Button("Log outcome", "form.outcome", "done 1", "primary"),
        Button("Add commitment", "form.commitment", "commit 1 ours "),
        Button("Follow-up sent", "negotiation.followup", "followup 1"),
    ),
    kind="followup",
)


def test_buttons_keep_their_text_command_and_get_unique_action_ids():
    blocks = render.blocks_json(render.message_blocks(FOLLOWUP))
    found = buttons(blocks)
    assert [b["value"] for b in found] == ["done 1", "commit 1 ours ", "followup 1"]
    assert len({b["action_id"] for b in found}) == 3
    assert [translate.neutral_action_id(b["action_id"]) for b in found] == [
        "form.outcome",
        "form.commitment",
        "negotiation.followup",
    ]
    assert found[0]["style"] == "primary" and "style" not in found[1]


def test_text_is_escaped_and_no_mention_stays_live():
    # the coach writes no mentions of its own: everything in its text came from someone's typing
    message = Message("Deal with <Acme & Sons> for <@U0OWNER>", sections=(Section(facts=(("Owner", "<!here>"),)),))
    blocks = render.blocks_json(render.message_blocks(message))
    text = block_text(blocks)
    assert "&lt;Acme &amp; Sons&gt; for &lt;@U0OWNER&gt;" in text
    assert "&lt;!here&gt;" in text and "<" not in text
    assert render.fallback_text(message) == "Deal with &lt;Acme &amp; Sons&gt; for &lt;@U0OWNER&gt;"


def test_errors_are_marked():
    blocks = render.blocks_json(render.message_blocks(Message("Unknown command", kind="error")))
    assert blocks[0]["text"]["text"].startswith(":warning:")


def test_long_messages_fit_slack_limits():
    lines = tuple(f"line {i} " + "x" * 200 for i in range(400))
    many = Message("Big", sections=(Section(lines=lines, facts=tuple((f"k{i}", "v") for i in range(25))),))
    blocks = render.blocks_json(render.message_blocks(many))  # to_dict() validates every limit
    assert len(blocks) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    assert all(len(b.get("fields", [])) <= 10 for b in blocks)


def test_ephemeral_response_shape():
    response = render.ephemeral_response(FOLLOWUP)
    assert response["response_type"] == "ephemeral"
    assert response["text"] == FOLLOWUP.text and response["blocks"]


def click(label, action_id, value):
    payload = fixture("block_actions")
    payload["actions"][0].update(action_id=action_id, value=value, text={"type": "plain_text", "text": label})
    return translate.click_from_block_actions(payload)


def test_a_final_choice_removes_all_buttons():
    reminder = Message(
        "Due today",
        buttons=(Button("Kept", "commitment.kept", "kept 1"), Button("Missed", "commitment.missed", "missed 1")),
    )
    blocks = render.blocks_json(render.message_blocks(reminder))
    after = render.after_click(blocks, click("Kept", "commitment.kept#0", "kept 1"), Message("Marked kept."))
    assert buttons(after) == []
    assert "Kept" in block_text(after) and "Marked kept." in block_text(after)


def test_on_a_message_with_forms_only_the_clicked_button_goes_and_add_commitment_stays():
    blocks = render.blocks_json(render.message_blocks(FOLLOWUP))
    after = render.after_click(blocks, click("Follow-up sent", "negotiation.followup#2", "followup 1"), Message("ok"))
    assert [b["value"] for b in buttons(after)] == ["done 1", "commit 1 ours "]
    again = render.after_click(after, click("Add commitment", "form.commitment#1", "commit 1 ours "), Message("ok"))
    assert [b["value"] for b in buttons(again)] == ["done 1", "commit 1 ours "]
    ids = [b["block_id"] for b in again if "block_id" in b]
    assert len(ids) == len(set(ids)) == 3  # the two choice lines and the buttons; ids stay unique


def test_a_failed_click_keeps_every_button():
    blocks = render.blocks_json(render.message_blocks(FOLLOWUP))
    after = render.after_click(
        blocks, click("Follow-up sent", "negotiation.followup#2", "followup 1"), Message("No", kind="error")
    )
    assert len(buttons(after)) == 3
    assert ":warning:" in block_text(after)


def test_modals_are_valid_views():
    context = translate.FormContext(negotiation=3, channel="D1", message_ts="1.2")
    for form in translate.FORMS:
        view = render.form_view(form, context, "theirs").to_dict()  # validates
        assert view["type"] == "modal" and view["callback_id"] == form
        assert translate.FormContext.load(view["private_metadata"]) == context
    commitment = render.commitment_modal(context, side="theirs").to_dict()
    side = [b for b in commitment["blocks"] if b["block_id"] == "side"][0]
    assert side["element"]["initial_option"]["value"] == "theirs"


def test_home_view_has_unique_block_ids():
    home = render.home_view([FOLLOWUP, FOLLOWUP]).to_dict()
    ids = [b["block_id"] for b in home["blocks"] if "block_id" in b]
    assert len(ids) == len(set(ids))
    assert home["type"] == "home"


def test_manifest_asks_for_exactly_the_scopes_and_events_we_use():
    from pathlib import Path

    from adapters.slack import BOT_SCOPES

    manifest = (Path(__file__).parents[2] / "deploy" / "slack" / "manifest.yaml").read_text()
    scopes = manifest.split("bot:\n", 1)[1].split("settings:", 1)[0]
    assert sorted(line.strip("- ").strip() for line in scopes.splitlines() if line.strip()) == sorted(BOT_SCOPES)
    events = manifest.split("bot_events:\n", 1)[1].split("interactivity:", 1)[0]
    wanted = ["app_home_opened", "app_uninstalled", "tokens_revoked", "user_change", "message.im", "app_mention"]
    assert sorted(line.strip("- ").strip() for line in events.splitlines() if line.strip()) == sorted(
        [*wanted, "file_shared"]
    )
    assert manifest.count("https://YOUR-HOST/slack/events") == 3  # command, events, interactivity
    assert "should_escape: true" in manifest  # mentions arrive as <@U123|name>
