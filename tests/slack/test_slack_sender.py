"""The Slack sender against the fake Web API: DMs with buttons, rate limits, failures for the outbox."""

from __future__ import annotations

import pytest
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from adapters.slack import sender as slack_sender
from coaching.messages import Attachment, Button, Message, Section
from coaching.ports import Address, DeliveryError
from tests.slack.slackfakes import TEAM, USER, FakeSlackAPI, buttons

NUDGE = Message(
    "Commitment #3 is due today: send the revised price sheet",
    sections=(Section(heading="Acme · #2", lines=("Ours: send the revised price sheet",)),),
    buttons=(
        Button("Kept", "commitment.kept", "kept 3", "primary"),
        Button("Missed", "commitment.missed", "missed 3", "danger"),
    ),
    kind="commitment_due",
)
ADDRESS = Address("slack", TEAM, USER)


def make_sender(api: FakeSlackAPI, *, sleeps: list[float] | None = None, now: list[float] | None = None):
    client = slack_sender.make_client(api.url)
    clock = now if now is not None else [100.0]

    async def fake_sleep(seconds: float) -> None:
        (sleeps if sleeps is not None else []).append(seconds)
        clock[0] += seconds

    return slack_sender.SlackSender(
        client, slack_sender.StaticToken("xoxb-test"), monotonic=lambda: clock[0], sleep=fake_sleep
    )


async def test_send_posts_a_dm_with_blocks_and_buttons(slack_api):
    await make_sender(slack_api).send(ADDRESS, NUDGE)
    [call] = slack_api.to("chat.postMessage")
    assert call.token == "xoxb-test"
    assert call.args["channel"] == USER  # Slack opens the app's DM for a user id
    assert call.args["text"] == NUDGE.text
    assert [(b["text"]["text"], b["value"]) for b in buttons(call.args["blocks"])] == [
        ("Kept", "kept 3"),
        ("Missed", "missed 3"),
    ]
    assert [b.get("style") for b in buttons(call.args["blocks"])] == ["primary", "danger"]


async def test_send_uses_the_dm_channel_when_known(slack_api):
    await make_sender(slack_api).send(Address("slack", TEAM, USER, channel="D777"), NUDGE)
    assert slack_api.to("chat.postMessage")[0].args["channel"] == "D777"


async def test_long_retry_after_becomes_a_delivery_error_for_the_outbox(slack_api):
    slack_api.rate_limit("chat.postMessage", retry_after=30)
    with pytest.raises(DeliveryError) as raised:
        await make_sender(slack_api).send(ADDRESS, NUDGE)
    assert raised.value.retry_after == 30
    assert not raised.value.permanent
    assert len(slack_api.to("chat.postMessage")) == 1  # not retried inline


async def test_short_429_is_retried_once_then_delivered(slack_api):
    slack_api.rate_limit("chat.postMessage", retry_after=0)
    await make_sender(slack_api).send(ADDRESS, NUDGE)
    assert len(slack_api.to("chat.postMessage")) == 2
    assert len(slack_api.messages) == 1


@pytest.mark.parametrize("error", ["channel_not_found", "account_inactive", "token_revoked", "user_disabled"])
async def test_gone_users_and_tokens_are_permanent_failures(slack_api, error):
    slack_api.fail("chat.postMessage", error=error)
    with pytest.raises(DeliveryError) as raised:
        await make_sender(slack_api).send(ADDRESS, NUDGE)
    assert raised.value.permanent


async def test_server_trouble_is_a_retryable_failure(slack_api):
    slack_api.fail("chat.postMessage", error="internal_error", status=500)
    with pytest.raises(DeliveryError) as raised:
        await make_sender(slack_api).send(ADDRESS, NUDGE)
    assert not raised.value.permanent


async def test_unreachable_slack_is_a_retryable_failure():
    api = FakeSlackAPI()
    await api.start()
    url = api.url
    await api.stop()  # nothing listens there any more
    no_wait = FixedValueRetryIntervalCalculator(0)
    client = slack_sender.make_client(url, handlers=slack_sender.retry_handlers(interval=no_wait))
    sender = slack_sender.SlackSender(client, slack_sender.StaticToken("xoxb-test"))
    with pytest.raises(DeliveryError) as raised:
        await sender.send(ADDRESS, NUDGE)
    assert not raised.value.permanent


async def test_not_installed_workspace_is_permanent(slack_api):
    class NoTokens:
        async def bot_token(self, team):
            return None

    sender = slack_sender.SlackSender(slack_sender.make_client(slack_api.url), NoTokens())
    with pytest.raises(DeliveryError) as raised:
        await sender.send(ADDRESS, NUDGE)
    assert raised.value.permanent
    assert slack_api.calls == []


async def test_sends_to_one_channel_are_spaced_a_second_apart(slack_api):
    sleeps: list[float] = []
    sender = make_sender(slack_api, sleeps=sleeps)
    for _ in range(3):
        await sender.send(ADDRESS, NUDGE)
    await sender.send(Address("slack", TEAM, "U0OTHER"), NUDGE)
    assert sleeps == [1.0, 1.0]  # the third waits behind the second; another user does not wait
    assert len(slack_api.to("chat.postMessage")) == 4


def test_retry_after_header_is_read_case_insensitively():
    assert slack_sender.retry_after({"retry-after": ["12"]}) == 12
    assert slack_sender.retry_after({"Retry-After": "3"}) == 3
    assert slack_sender.retry_after({}, default=5) == 5


def test_api_url_gets_its_trailing_slash():
    assert slack_sender.api_url("http://127.0.0.1:9/api") == "http://127.0.0.1:9/api/"
    assert slack_sender.api_url(None) == "https://slack.com/api/"


async def test_a_digest_chart_is_uploaded_into_the_same_dm_and_its_failure_loses_nothing(slack_api):
    chart = Attachment("digest-2026-W48.png", "image/png", b"\x89PNG\r\n\x1a\nchart", "Last 8 weeks")
    digest = Message("Weekly digest 2026-W48", kind="digest", attachments=(chart,))
    await make_sender(slack_api).send(ADDRESS, digest)
    [posted] = slack_api.to("chat.postMessage")
    [complete] = slack_api.to("files.completeUploadExternal")
    assert list(slack_api.uploads.values()) == [chart.data]
    assert complete.args["channel_id"] == "D" + posted.args["channel"][1:]  # the DM channel Slack answered with
    slack_api.fail("files.getUploadURLExternal", error="missing_scope")
    await make_sender(slack_api).send(ADDRESS, digest)  # the text still goes; no DeliveryError
    assert len(slack_api.to("chat.postMessage")) == 2 and len(slack_api.uploads) == 1
