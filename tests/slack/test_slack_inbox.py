"""The durable command inbox: a slash command is stored before Slack gets its (empty) ack, and the
coach's answer reaches the command's response_url exactly once after it, across a kill, a crashed
worker's lease and failing deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SLACK, InboxConfig, setup
from adapters.slack.store import slack_inbox
from coaching.models import Negotiation
from tests.slack.conftest import SlackHarness


class Clock:
    """The inbox's wall clock, moved by the test (leases and retry times)."""

    def __init__(self) -> None:
        self.current = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current


@contextlib.asynccontextmanager
async def running(settings, coach, sessions, api, **options) -> AsyncIterator[SlackHarness]:
    """DealCoach's Slack endpoint on its own loopback server, as one process of the service."""
    app = web.Application()
    sender = setup(app, settings, coach, sessions, min_interval=0, **options)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield SlackHarness(client, app[SLACK], sender, api)


async def rows(sessions) -> list[dict]:
    async with sessions() as session:
        result = await session.execute(sa.select(slack_inbox).order_by(slack_inbox.c.id))
        return [dict(row._mapping) for row in result]


async def negotiations(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(Negotiation))


class CountingCoach:
    def __init__(self, coach) -> None:
        self.coach = coach
        self.texts: list[str] = []

    def __getattr__(self, name):
        return getattr(self.coach, name)

    async def handle_text(self, actor, text, **kwargs):
        self.texts.append(text)
        return await self.coach.handle_text(actor, text, **kwargs)


async def test_the_command_is_stored_before_the_ack_and_answered_after_a_kill(settings, coach, sessions, slack_api):
    # a process whose worker never runs: killed right after the acknowledgement
    async with running(settings, coach, sessions, slack_api, start_inbox=False) as doomed:
        response = await doomed.command("log Acme 2026-12-01 14:00")
        assert response.status == 200 and await response.text() == ""
        hook = doomed.hook
    [row] = await rows(sessions)
    assert (row["status"], row["text"], row["response_url"]) == ("pending", "log Acme 2026-12-01 14:00", hook)
    assert slack_api.to("response_url") == [] and await negotiations(sessions) == 0

    # the next process on the same database answers it, once
    async with running(settings, coach, sessions, slack_api) as restarted:
        reply = await slack_api.reply_at(hook)
        await restarted.settle()
    assert "Acme" in reply["text"]
    assert len(slack_api.hook_calls(hook)) == 1
    assert await negotiations(sessions) == 1
    assert await rows(sessions) == []


async def test_a_row_held_by_a_crashed_worker_is_answered_once_its_lease_runs_out(settings, coach, sessions, slack_api):
    clock = Clock()
    config = InboxConfig(lease=timedelta(seconds=30), now=clock)
    async with running(settings, coach, sessions, slack_api, inbox=config, start_inbox=False) as crashed:
        await crashed.command("log Acme 2026-12-01 14:00")
        hook = crashed.hook
        [entry] = await crashed.adapter.inbox._claim()  # claimed, then the process died
    async with running(settings, coach, sessions, slack_api, inbox=config) as survivor:
        assert await survivor.adapter.inbox.work() == 0  # still leased: nobody touches it
        clock.current += timedelta(seconds=31)
        survivor.adapter.inbox.wake()
        reply = await slack_api.reply_at(hook)
        await survivor.settle()
    assert entry.attempts == 1
    assert "Acme" in reply["text"]
    assert len(slack_api.hook_calls(hook)) == 1
    assert await negotiations(sessions) == 1 and await rows(sessions) == []


async def test_a_worker_that_lost_its_claim_changes_nothing(settings, coach, sessions, slack_api):
    """A slow worker whose lease ran out while another took the row over: the coach's transaction
    (which also moves the row on) is rolled back, so the command is applied exactly once."""
    clock = Clock()
    config = InboxConfig(lease=timedelta(seconds=30), now=clock)
    async with running(settings, coach, sessions, slack_api, inbox=config, start_inbox=False) as slow:
        await slow.command("log Acme 2026-12-01 14:00")
        hook = slow.hook
        [late] = await slow.adapter.inbox._claim()
        clock.current += timedelta(seconds=31)
        async with running(settings, coach, sessions, slack_api, inbox=config, start_inbox=False) as other:
            [taken] = await other.adapter.inbox._claim()
            assert taken.id == late.id and taken.attempts == 2
            await slow.adapter.inbox._handle(late)  # the slow worker finally runs it
            assert await negotiations(sessions) == 0 and slack_api.to("response_url") == []
            await other.adapter.inbox.start()
            await other.adapter.inbox._handle(taken)
            reply = await slack_api.reply_at(hook)
    assert "Acme" in reply["text"]
    assert await negotiations(sessions) == 1
    assert len(slack_api.hook_calls(hook)) == 1


async def test_a_command_applied_before_a_crash_is_not_applied_again(settings, coach, sessions, slack_api):
    """Killed after the coach committed but before the answer went out: the next worker says it was
    done and does not run the command a second time."""
    clock = Clock()
    counting = CountingCoach(coach)
    config = InboxConfig(lease=timedelta(seconds=30), now=clock)
    async with running(settings, counting, sessions, slack_api, inbox=config, start_inbox=False) as crashed:
        await crashed.command("log Acme 2026-12-01 14:00")
        hook = crashed.hook
        inbox = crashed.adapter.inbox
        [entry] = await inbox._claim()
        payload = await inbox._apply(entry)  # the coach ran; then the process died before delivering
    [row] = await rows(sessions)
    assert row["status"] == "replying" and "Acme" in payload["text"]
    assert await negotiations(sessions) == 1
    clock.current += timedelta(seconds=31)
    async with running(settings, counting, sessions, slack_api, inbox=config) as restarted:
        reply = await slack_api.reply_at(hook)
        await restarted.settle()
    assert reply["response_type"] == "ephemeral" and reply["text"] == "Done: `log Acme 2026-12-01 14:00`."
    assert counting.texts == ["log Acme 2026-12-01 14:00"]
    assert await negotiations(sessions) == 1 and await rows(sessions) == []


async def test_a_failing_response_url_is_retried_with_backoff(settings, coach, sessions, slack_api):
    counting = CountingCoach(coach)
    config = InboxConfig(first_delay=timedelta(milliseconds=10))
    slack_api.fail_hook(status=500, times=2)
    async with running(settings, counting, sessions, slack_api, inbox=config) as slack:
        await slack.command("log Acme 2026-12-01 14:00")
        await slack_api.wait_for(lambda: len(slack_api.hook_calls(slack.hook)) == 3)
        await slack.settle()
        assert slack.adapter.inbox.retried == 2 and slack.adapter.inbox.delivered == 1
    first, second, third = slack_api.hook_calls(slack.hook)
    assert first.args == second.args == third.args and "Acme" in third.args["text"]
    assert counting.texts == ["log Acme 2026-12-01 14:00"]  # the coach ran once; only delivery was retried
    assert await negotiations(sessions) == 1 and await rows(sessions) == []


async def test_delivery_gives_up_after_the_last_attempt_and_on_an_expired_url(settings, coach, sessions, slack_api):
    config = InboxConfig(first_delay=timedelta(milliseconds=5), max_attempts=3)
    slack_api.fail_hook(status=503, times=5)
    async with running(settings, coach, sessions, slack_api, inbox=config) as slack:
        await slack.command("help")
        await slack_api.wait_for(lambda: len(slack_api.hook_calls(slack.hook)) == 3)
        await slack.settle()
        assert slack.adapter.inbox.failed == 1
        assert len(slack_api.hook_calls(slack.hook)) == 3
        [row] = await rows(sessions)
        assert (row["status"], row["attempts"]) == ("failed", 3) and "503" in row["last_error"]

        slack_api._failures["response_url"].clear()
        slack_api.fail_hook(status=404)  # Slack: expired_url / used_url; retrying will not help
        await slack.command("help")
        await slack_api.wait_for(lambda: slack_api.hook_calls(slack.hook))
        await slack.settle()
        assert len(slack_api.hook_calls(slack.hook)) == 1
        assert [r["status"] for r in await rows(sessions)] == ["failed", "failed"]


async def test_one_persons_commands_are_answered_in_the_order_they_were_typed(slack, slack_api):
    hooks = []
    for text in ("log Acme 2026-12-01 14:00", "log Globex 2026-12-02 10:00", "list"):
        assert (await slack.command(text)).status == 200
        hooks.append(slack.hook)
    listed = await slack_api.reply_at(hooks[-1])
    text = str(listed["blocks"])
    assert "Acme" in text and "Globex" in text


class WatchedCoach(CountingCoach):
    """Lets a test wait until the coach has answered so many commands."""

    def __init__(self, coach) -> None:
        super().__init__(coach)
        self.answered = 0
        self._changed = asyncio.Event()

    async def handle_text(self, actor, text, **kwargs):
        message = await super().handle_text(actor, text, **kwargs)
        self.answered += 1
        self._changed.set()
        return message

    async def until(self, answered: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.answered < answered:
                self._changed.clear()
                await self._changed.wait()


async def test_the_next_command_runs_while_an_answer_is_on_its_way_and_answers_keep_their_order(
    settings, coach, sessions, slack_api
):
    """Slack takes its time over the first answer: the person's second command is run meanwhile, but its answer
    leaves only after the first one's, and the third waits its turn; then all three arrive in the order typed."""
    watched = WatchedCoach(coach)
    async with running(settings, watched, sessions, slack_api) as slack:
        slack_api.hold_hooks()
        hooks = []
        for text in ("log Acme 2026-12-01 14:00", "log Globex 2026-12-02 10:00", "log Initech 2026-12-03 09:00"):
            assert (await slack.command(text)).status == 200
            hooks.append(slack.hook.rsplit("/", 1)[-1])
        await watched.until(2)
        await slack_api.wait_for(lambda: slack_api.to("response_url"))
        assert [c.hook for c in slack_api.to("response_url")] == hooks[:1]  # the second waits for the first
        assert await negotiations(sessions) == 2  # ...but was run; the third waits for the second's answer
        slack_api.release_hooks()
        await slack_api.wait_for(lambda: len(slack_api.to("response_url")) == 3)
        await slack.settle()
    assert [c.hook for c in slack_api.to("response_url")] == hooks
    assert ["Acme" in c.args["text"] for c in slack_api.to("response_url")] == [True, False, False]
    assert await negotiations(sessions) == 3 and await rows(sessions) == []


async def test_uninstall_drops_the_workspaces_unanswered_commands(settings, coach, sessions, slack_api):
    from tests.slack.slackfakes import fixture

    async with running(settings, coach, sessions, slack_api, start_inbox=False) as slack:
        await slack.command("list")
        await slack.command("list", team_id="T0OTHER")
        assert (await slack.event(fixture("event_app_uninstalled"))).status == 200
    assert [r["team"] for r in await rows(sessions)] == ["T0OTHER"]


async def test_a_command_that_could_not_be_stored_is_answered_that_it_was_not_saved(slack, slack_api, sessions):
    import sqlalchemy as sa

    async def rename(old: str, new: str) -> None:
        async with sessions() as session, session.begin():
            await session.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))

    await slack.command("list")  # the writer's connection is open and warm
    await slack_api.wait_for(lambda: slack_api.to("response_url"))
    await slack.adapter.inbox.wait_quiet()  # ...and its row is deleted
    await rename("slack_inbox", "slack_inbox_away")  # the table is gone: every INSERT fails
    try:
        response = await slack.command("log Acme 2026-12-01 14:00")
        assert response.status == 200  # never a 500: the acknowledgement itself says so
        answer = await response.json()
        assert answer["response_type"] == "ephemeral" and "not saved" in answer["text"]
        assert "Traceback" not in answer["text"] and "slack_inbox" not in json.dumps(answer)
    finally:
        await rename("slack_inbox_away", "slack_inbox")
    assert await rows(sessions) == [] and len(slack_api.to("response_url")) == 1
    assert (await slack.command("list")).status == 200  # and it heals once the table is back


async def test_commands_that_arrive_together_are_stored_together_and_each_answered_once(slack, slack_api, sessions):
    import asyncio

    from tests.slack.slackfakes import form_body, signed_headers, slash_command

    async def one(i: int) -> str:
        hook = slack_api.new_response_url()
        fields = slash_command() | {"text": f"log Client{i} 2026-12-0{1 + i % 9} 1{i % 10}:00"}
        body = form_body(fields | {"response_url": hook, "user_id": f"U{i:04d}"})
        headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
        response = await slack.client.post("/slack/events", data=body.encode(), headers=headers)
        assert response.status == 200 and await response.text() == ""
        return hook

    hooks = await asyncio.gather(*(one(i) for i in range(12)))
    for i, hook in enumerate(hooks):
        reply = await slack_api.reply_at(hook)
        assert f"Client{i}" in reply["text"], (i, reply["text"])
    await slack.settle()
    assert all(len(slack_api.hook_calls(hook)) == 1 for hook in hooks)
    assert await negotiations(sessions) == 12 and await rows(sessions) == []


async def test_forget_me_takes_what_the_inbox_kept_of_that_person(settings, coach, sessions, slack_api):
    from tests.slack.slackfakes import USER

    config = InboxConfig(max_attempts=1)  # an answer that cannot be delivered is kept as "failed" at once
    async with running(settings, coach, sessions, slack_api, inbox=config) as slack:
        for user in (USER, "U0OTHER"):
            slack_api.fail_hook(status=503)
            await slack.command("log Acme 2026-12-01 14:00", user_id=user)
            await slack.settle()
        assert [(r["user"], r["status"]) for r in await rows(sessions)] == [(USER, "failed"), ("U0OTHER", "failed")]

        reply = await slack.ask("forget-me confirm")
        assert "forgotten" in reply["text"]
        await slack.settle()
    # their undeliverable answer (and what they typed) is gone; someone else's stays
    assert [(r["user"], r["status"]) for r in await rows(sessions)] == [("U0OTHER", "failed")]
    assert await negotiations(sessions) == 1


async def test_undeliverable_answers_are_kept_a_week_then_deleted(settings, coach, sessions, slack_api):
    clock = Clock()
    config = InboxConfig(max_attempts=1, now=clock)
    async with running(settings, coach, sessions, slack_api, inbox=config) as slack:
        slack_api.fail_hook(status=503)
        await slack.command("help")
        await slack.settle()
        clock.current += timedelta(days=6)
        await slack.ask("help")  # a pass of the worker: nothing is old enough yet
        await slack.settle()
        assert [r["status"] for r in await rows(sessions)] == ["failed"]

        clock.current += timedelta(days=1, hours=1)
        await slack.ask("help")
        await slack.settle()
    assert await rows(sessions) == []


async def test_the_delete_my_data_button_takes_what_the_inbox_kept_too(settings, coach, sessions, slack_api):
    from tests.slack.slackfakes import buttons

    async with running(settings, coach, sessions, slack_api, inbox=InboxConfig(max_attempts=1)) as slack:
        slack_api.fail_hook(status=503)
        await slack.command("log Acme 2026-12-01 14:00")
        await slack.settle()
        prompt = await slack.ask("forget-me")
        [delete] = [b for b in buttons(prompt["blocks"]) if b["text"]["text"] == "Delete my data"]
        payload, hook = slack.ephemeral_click_payload(delete)
        assert (await slack.interaction(payload)).status == 200
        await slack.settle()
        assert "forgotten" in str(slack_api.hook_calls(hook)[0].args)
    assert await rows(sessions) == [] and await negotiations(sessions) == 0


async def kept_click_on_a_commitment_reminder(slack, slack_api, sessions, coach, clock) -> dict:
    """Log, promise, let the outbox send the reminder DM; the block_actions payload of its "Kept" button."""
    from coaching.outbox import Dispatcher
    from tests.slack.slackfakes import buttons

    await slack.ask("log Acme 2026-12-01 14:00")
    await slack.ask("commit 1 theirs send the NDA by 2026-12-02")
    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # the day before, 09:00 Berlin
    await Dispatcher(sessions, coach, {"slack": slack.sender}, clock).tick()
    [reminder] = [call for call in slack_api.to("chat.postMessage") if "NDA" in call.args["text"]]
    sent = slack_api.messages.items()
    [(channel, ts)] = [key for key, message in sent if message["text"] == reminder.args["text"]]
    [kept] = [b for b in buttons(reminder.args["blocks"]) if b["text"]["text"] == "Kept"]
    return slack.click_payload(kept, ts, channel)


async def test_a_double_click_arriving_at_once_is_applied_once(slack, slack_api, sessions, coach, clock):
    import asyncio

    from coaching.models import Commitment

    click = await kept_click_on_a_commitment_reminder(slack, slack_api, sessions, coach, clock)
    first, second = await asyncio.gather(slack.interaction(click), slack.interaction(click))
    await slack.settle()
    assert first.status == second.status == 200
    assert len(slack_api.to("chat.update")) == 1  # the choice shows once; the other click rolled back
    async with sessions() as session:
        assert await session.scalar(sa.select(Commitment.status)) == "kept"


async def test_a_click_whose_command_never_committed_can_be_clicked_again(settings, coach, sessions, slack_api, clock):
    """Process A takes a click and dies before the command commits; the same click on process B is applied
    (the click's dedupe key commits with the command, never before it)."""
    import asyncio

    from coaching.models import Commitment

    entered, released = asyncio.Event(), asyncio.Event()

    class DyingCoach:
        def __getattr__(self, name):
            return getattr(coach, name)

        async def handle_text(self, actor, text, **kwargs):
            entered.set()
            await released.wait()  # the process "dies" here: nothing of the click is committed
            raise RuntimeError("process A is gone")

    async with running(settings, coach, sessions, slack_api) as slack:
        click = await kept_click_on_a_commitment_reminder(slack, slack_api, sessions, coach, clock)

    async with running(settings, DyingCoach(), sessions, slack_api, ack_deadline=30) as process_a:
        pending = asyncio.ensure_future(process_a.interaction(click))
        await entered.wait()
        async with running(settings, coach, sessions, slack_api) as process_b:
            assert (await process_b.interaction(click)).status == 200
            await process_b.settle()
        async with sessions() as session:
            assert await session.scalar(sa.select(Commitment.status)) == "kept"
        released.set()
        await pending
        await process_a.settle()
    # process A's failure did not free the key process B stored: a replay is still ignored
    async with running(settings, coach, sessions, slack_api) as again:
        updates = len(slack_api.to("chat.update"))
        await again.interaction(click)
        await again.settle()
        assert len(slack_api.to("chat.update")) == updates
