"""Two reps and a lead in one Slack workspace, through the real seams (signed slash commands and clicks to
``/slack/events``, DMs at the fake Web API): the lead sees a rep only after the rep clicked Join; nobody sees or
changes another's counterparts; a workspace admin (``users.info`` ``is_admin``) adds without asking; and the
follow-up's "Log outcome" walks the rep through the outcome with buttons, a hard win bringing the repair plan."""

from __future__ import annotations

from datetime import UTC, datetime

from coaching.outbox import Dispatcher
from tests.slack.slackfakes import block_text, buttons

ANNA, BOB, LENA = ("UANNA0001", "anna"), ("UBOB00001", "bob"), ("ULENA0001", "lena")


async def ask(slack, who: tuple[str, str], text: str) -> str:
    reply = await slack.ask(text, user_id=who[0], user_name=who[1])
    return reply["text"] + "\n" + block_text(reply.get("blocks") or [])


def dms_to(api, user: str) -> list:
    return [call for call in api.to("chat.postMessage") if call.args["channel"] in (user, "D" + user[1:])]


def click(slack, api, call, label: str, who: tuple[str, str]) -> dict:
    [found] = [b for b in buttons(call.args["blocks"]) if b["text"]["text"] == label]
    for (channel, ts), message in api.messages.items():
        if message["text"] == call.args["text"] and message["blocks"] == call.args["blocks"]:
            payload = slack.click_payload(found, ts, channel)
            payload["user"] = {"id": who[0], "username": who[1], "name": who[1], "team_id": "T0001"}
            return payload
    raise AssertionError("message not stored")


async def test_two_reps_and_a_lead_in_one_slack_workspace(slack, slack_api, sessions, coach, clock) -> None:
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    slack_api.names.update({ANNA[0]: "Anna", BOB[0]: "Bob", LENA[0]: "Lena"})
    dispatcher = Dispatcher(sessions, coach, {"slack": slack.sender}, clock)
    await ask(slack, ANNA, 'log "Zephyr Secret Holdings" 2026-11-17 10:00')  # last week, before any team
    await ask(slack, ANNA, "outcome 1 connection yes")
    await ask(slack, ANNA, 'counterpart "Zephyr Secret Holdings" long-term on')

    invited = await ask(slack, LENA, f"team add <@{ANNA[0]}|anna>")
    assert "Invited Anna to your team." in invited
    assert "Anna" not in (await ask(slack, LENA, "digest")).split("Waiting for an answer")[0]
    await dispatcher.tick()
    [invitation] = dms_to(slack_api, ANNA[0])
    assert "Lena invites you to their team" in invitation.args["text"]
    assert (await slack.interaction(click(slack, slack_api, invitation, "Join Lena's team", ANNA))).status == 200
    await slack.settle()
    digest = await ask(slack, LENA, "digest")  # a new lead's first digest: Anna's last week
    assert "Anna — 1 held (+1), connection 100%" in digest

    # Bob's words about the same company are his own: nothing of Anna's shows, nothing of hers changes
    off = await ask(slack, BOB, "counterpart zephyr secret holdings long-term off")
    assert "zephyr secret holdings is no longer marked long-term." in off and "Zephyr Secret Holdings" not in off
    listed = await ask(slack, BOB, "counterparts")
    assert "Zephyr Secret Holdings" not in listed
    mine = await ask(slack, ANNA, "counterparts")
    assert "Zephyr Secret Holdings — last contact 8 days ago · long-term" in mine
    for probe in ("prep 1", "kept 1", "snooze zephyr secret holdings", "later negotiation 1 30", "done 1"):
        assert "Zephyr Secret Holdings" not in await ask(slack, BOB, probe), probe

    # the follow-up's "Log outcome": one question at a time, answered with buttons; a hard win brings the plan
    await ask(slack, ANNA, "log Initech 2026-11-25 08:00 for 30 minutes")
    await dispatcher.tick()
    [followup] = [c for c in dms_to(slack_api, ANNA[0]) if "How did #2 with Initech go?" in c.args["text"]]
    await slack.interaction(click(slack, slack_api, followup, "Log outcome", ANNA))
    await slack.settle()
    for label in ("Agreed", "No", "4", "Yes"):  # result, connection, sentiment, hard win
        question = slack_api.to("chat.postMessage")[-1]
        await slack.interaction(click(slack, slack_api, question, label, ANNA))
        await slack.settle()
    after_hard_win = slack_api.to("chat.postMessage")[-1]
    text = block_text(after_hard_win.args["blocks"])
    assert "A hard win can be a future loss" in text and "how many concessions did you give?" in text
    await ask(slack, ANNA, "skip")
    listing = await ask(slack, ANNA, "list")
    assert "#2 Initech" in listing.split("Recent")[1]


async def test_a_slack_workspace_admin_adds_a_rep_without_asking_and_the_rep_is_told(
    slack, slack_api, sessions, coach, clock
) -> None:
    slack_api.admins.add(LENA[0])
    slack_api.names.update({BOB[0]: "Bob", LENA[0]: "Lena"})
    await ask(slack, BOB, "help")
    added = await ask(slack, LENA, f"team add <@{BOB[0]}>")
    assert "Added Bob to your team. As a workspace admin you need no consent; I've told them." in added
    assert "Your lead: Lena" in await ask(slack, BOB, "team")
    await Dispatcher(sessions, coach, {"slack": slack.sender}, clock).tick()
    [told] = dms_to(slack_api, BOB[0])
    assert told.args["text"].startswith("Lena added you to their team")
    # someone who is not an admin only invites
    slack_api.names[ANNA[0]] = "Anna"
    await ask(slack, ANNA, "help")
    invited = await ask(slack, BOB, f"team add <@{ANNA[0]}>")
    assert "Invited Anna to your team." in invited
