"""The Slack inbox under the faults every deployment meets: database trouble after the ack, the same slash
command delivered twice, and one person's burst of commands next to someone else's one."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import sqlalchemy as sa

from adapters.slack import InboxConfig
from bot.database import make_sessions
from coaching.engine import Coach
from coaching.metrics import REGISTRY
from tests.slack.slackfakes import form_body, signed_headers, slash_command
from tests.slack.test_slack_inbox import negotiations, rows, running
from tests.trouble import impatient_engine, locked


def transient_errors() -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == "dealcoach_transient_db_errors_total"
    )


QUICK_RETRIES = InboxConfig(
    transient_first_delay=timedelta(milliseconds=20), transient_max_delay=timedelta(milliseconds=100)
)


async def test_acknowledged_commands_that_meet_database_trouble_are_applied_once_and_answered_once(
    settings, database_url, clock, slack_api
):
    engine = impatient_engine(database_url)
    sessions = make_sessions(engine)
    coach = Coach(sessions, clock)
    before = transient_errors()
    try:
        async with running(settings, coach, sessions, slack_api, inbox=QUICK_RETRIES, start_inbox=False) as slack:
            hooks = []
            for i in range(3):
                response = await slack.command(f"log Client{i} 2026-12-0{i + 1} 14:00", user_id=f"U000{i}")
                assert response.status == 200 and await response.text() == ""  # acknowledged: stored
                hooks.append(slack.hook)
            async with locked(database_url, "users", "negotiations"):
                await slack.adapter.inbox.start()
                await asyncio.sleep(0.3)  # every attempt meets the lock, and is tried again
                assert slack_api.to("response_url") == []  # nobody is told anything untrue meanwhile
                assert transient_errors() - before >= 2  # tried, and tried again
            for i, hook in enumerate(hooks):  # the lock is gone: each applied, and answered, once
                reply = await slack_api.reply_at(hook)
                assert f"Client{i}" in reply["text"] and "not saved" not in reply["text"]
            await slack.settle()
        assert all(len(slack_api.hook_calls(hook)) == 1 for hook in hooks)
        assert await negotiations(sessions) == 3
        assert await rows(sessions) == []
    finally:
        await engine.dispose()


async def test_the_same_slash_command_delivered_twice_is_applied_and_answered_once(slack, slack_api, sessions):
    fields = slash_command() | {"text": "log Acme 2026-12-01 14:00", "response_url": slack_api.new_response_url()}
    body = form_body(fields)
    headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
    first, again = await asyncio.gather(
        *(slack.client.post("/slack/events", data=body.encode(), headers=headers) for _ in range(2))
    )
    assert (first.status, again.status) == (200, 200)
    later = signed_headers(body, content_type="application/x-www-form-urlencoded", timestamp=int(time.time()) - 30)
    assert (await slack.client.post("/slack/events", data=body.encode(), headers=later)).status == 200  # same trigger
    await slack_api.reply_at(fields["response_url"])
    await slack.settle()
    assert len(slack_api.hook_calls(fields["response_url"])) == 1
    assert await negotiations(sessions) == 1
    # a new invocation (its own trigger_id) is a new command
    reply = await slack.ask("log Acme 2026-12-02 14:00")
    assert "Acme" in reply["text"] and await negotiations(sessions) == 2


async def test_a_signed_body_without_trigger_id_is_also_applied_once(slack, slack_api, sessions):
    fields = slash_command() | {"text": "log Acme 2026-12-01 14:00", "response_url": slack_api.new_response_url()}
    del fields["trigger_id"]
    body = form_body(fields)
    headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
    for _ in range(2):
        assert (await slack.client.post("/slack/events", data=body.encode(), headers=headers)).status == 200
    await slack_api.reply_at(fields["response_url"])
    await slack.settle()
    assert len(slack_api.hook_calls(fields["response_url"])) == 1 and await negotiations(sessions) == 1


async def test_one_persons_burst_does_not_hold_back_someone_elses_answer(settings, coach, sessions, slack_api):
    async with running(settings, coach, sessions, slack_api, start_inbox=False) as slack:
        for _ in range(60):  # stored while no worker runs: all of them wait in the database
            await slack.command("list", user_id="U0BURST")
        await slack.command("help", user_id="U0OTHER")
        other = slack.hook
        await slack.adapter.inbox.start()
        await slack_api.reply_at(other, timeout=10)
        answered_before = [c.hook for c in slack_api.to("response_url")].index(other.rsplit("/", 1)[-1])
        await slack_api.wait_for(lambda: len(slack_api.to("response_url")) == 61, timeout=30)
        await slack.settle()
    assert answered_before <= 2  # its turn comes after at most one or two of the burst's, not after 60
    async with sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(sa.table("slack_inbox"))) == 0


async def test_a_command_typed_while_someone_else_holds_the_lock_is_stored_when_it_goes(
    settings, coach, sessions, database_url, slack_api
):
    """The inbox writer never waits for a lock on the event loop: the acknowledgement waits (off the loop, which
    goes on serving) until the row is stored, then the command is answered once."""
    async with running(settings, coach, sessions, slack_api) as slack:
        await slack.ask("help")  # the writer's connection is open and warm
        async with locked(database_url, "slack_inbox", "slack_seen"):
            acked = asyncio.create_task(slack.command("log Acme 2026-12-01 14:00"))
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.sleep(0.3)
            assert loop.time() - started < 1.5  # the loop was not held waiting for the lock
            assert not acked.done()  # nothing is acknowledged before it is stored
            hook = slack.hook
        response = await asyncio.wait_for(acked, 10)
        assert response.status == 200 and await response.text() == ""
        reply = await slack_api.reply_at(hook)
        await slack.settle()
    assert "Acme" in reply["text"] and len(slack_api.hook_calls(hook)) == 1
    assert await negotiations(sessions) == 1 and await rows(sessions) == []
