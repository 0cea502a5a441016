"""Bolt listeners, registered once at start-up by :func:`register`.

Bolt runs with ``process_before_response=True``: the HTTP response leaves when the listener
returns, so a listener does only what the answer needs. A slash command or a DM to the app is one
INSERT into the durable inbox (:mod:`adapters.slack.inbox`) and an empty acknowledgement; the coach
runs after the ack and the answer follows through ``response_url``. Buttons and forms run the coach
before they answer (a click is one short transaction; a form may show field errors), unless it takes
longer than ``ack_deadline``: then Slack gets its acknowledgement and the answer follows. Web API
calls that merely *show* something (``views.open``, ``chat.update``, ``views.publish``) go to
:class:`Background`. Nudges go through the coach's outbox, never through tasks.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.slack import render, translate
from adapters.slack.inbox import COMMAND, MESSAGE, SORRY, Inbox
from adapters.slack.store import Seen
from coaching.commands import Actor, Command
from coaching.messages import Message
from coaching.ports import Abandon
from coaching.privacy import FORGOTTEN

log = logging.getLogger(__name__)


# a form's coach-side error is shown next to this field
FORM_ERROR_BLOCK = {
    translate.LOG_FORM: "counterpart",
    translate.OUTCOME_FORM: "outcome",
    translate.COMMITMENT_FORM: "text",
    translate.SETTINGS_FORM: "timezone",
}


class CoachPort(Protocol):
    async def handle(
        self, command: Command, *, also: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> Message: ...

    async def handle_text(
        self, actor: Actor, text: str, *, also: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> Message: ...

    async def upsert_user(self, actor: Actor, channel: str | None = None, conversation_ref: Any = None) -> Any: ...

    async def forget_workspace(self, platform: str, workspace: str) -> None: ...


class Background:
    """Tasks that only display something after the acknowledgement; awaited on shutdown.

    Losing one (process killed) loses a screen refresh, never data: the data was stored first.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(self._run(coro, name), name=f"slack:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(coro: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await coro
        except Exception:
            log.exception("slack: %s failed", name)

    async def drain(self) -> None:
        """Wait for everything spawned so far (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass
class _Profile:
    timezone: str | None
    display_name: str | None
    fetched: float


class Profiles:
    """Time zones from ``users.info``, cached per (team, user); refreshed by ``user_change``.

    The first request of a person waits for one ``users.info`` (bounded by ``timeout``) because
    "tomorrow 3pm" must be read in their zone; every later request is a dict lookup.
    """

    def __init__(
        self,
        coach: CoachPort,
        *,
        ttl: float = 12 * 3600,
        retry_after_failure: float = 60.0,
        timeout: float = 1.5,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._coach = coach
        self._ttl = ttl
        self._retry_after_failure = retry_after_failure
        self._timeout = timeout
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], _Profile] = {}

    async def actor(self, client: AsyncWebClient, team: str, user: str, display_name: str | None = None) -> Actor:
        profile = self._cache.get((team, user))
        if profile is None or self._monotonic() - profile.fetched > self._ttl:
            profile = await self._fetch(client, team, user, display_name, stale=profile)
        return translate.actor(team, user, display_name=profile.display_name or display_name, timezone=profile.timezone)

    async def _fetch(
        self, client: AsyncWebClient, team: str, user: str, display_name: str | None, stale: _Profile | None
    ) -> _Profile:
        try:
            response = await asyncio.wait_for(client.users_info(user=user), self._timeout)
            info = response.get("user") or {}
        except Exception as error:  # noqa: BLE001 - a missing time zone must not fail the request
            log.warning("slack: users.info for %s/%s failed: %s", team, user, error)
            profile = stale or _Profile(None, display_name, 0.0)
            # try again in a minute, not on every request
            profile = _Profile(
                profile.timezone,
                profile.display_name,
                self._monotonic() - self._ttl + self._retry_after_failure,
            )
            self._cache[(team, user)] = profile
            return profile
        return await self.update(team, info)

    async def update(self, team: str, info: Mapping[str, Any], channel: str | None = None) -> _Profile:
        """Store what Slack told us about a user (``users.info`` or a ``user_change`` event)."""
        user = str(info.get("id", ""))
        profile = _Profile(
            translate.timezone_of_profile(info), translate.display_name_of_profile(info), self._monotonic()
        )
        previous = self._cache.get((team, user))
        self._cache[(team, user)] = profile
        if user and (
            previous is None or (previous.timezone, previous.display_name) != (profile.timezone, profile.display_name)
        ):
            actor = translate.actor(team, user, display_name=profile.display_name, timezone=profile.timezone)
            await self._coach.upsert_user(actor, channel=channel)
        return profile

    def forget_team(self, team: str) -> None:
        for key in [k for k in self._cache if k[0] == team]:
            del self._cache[key]


class _Repeated(Abandon):
    pass


class _Once:
    """A click's dedupe key, claimed inside the coach's transaction (``also=``); a key someone already
    claimed rolls the command back."""

    def __init__(self, seen: Seen, key: str) -> None:
        self._seen, self._key = seen, key
        self.claimed = self.repeated = False

    async def __call__(self, session: AsyncSession) -> None:
        if not await self._seen.claim(session, self._key):
            self.repeated = True
            raise _Repeated(self._key)
        self.claimed = True


async def _safe(call: Awaitable[Message], what: str) -> Message:
    """The coach's answer; an unexpected failure becomes a short apology, never a stack trace."""
    try:
        return await call
    except _Repeated:
        return SORRY  # not shown: the caller sees ``_Once.repeated``
    except Exception:
        log.exception("slack: coach failed on %s", what)
        return SORRY


def register(
    app: AsyncApp,
    coach: CoachPort,
    *,
    command: str,
    seen: Seen,
    profiles: Profiles,
    background: Background,
    inbox: Inbox,
    on_uninstall: Callable[[str], Awaitable[None]] | None = None,
    ack_deadline: float = 2.0,
) -> None:
    """Attach every DealCoach listener to ``app``. Call once, at start-up.

    ``inbox``: where slash commands and DMs are stored before the ack (the coach runs them after it).
    ``ack_deadline``: if the coach has not answered a click or a form within this many seconds (a
    locked database, a slow replica), Slack gets its acknowledgement anyway and the answer follows
    (the clicked message is updated, a form's answer comes as a DM), so Slack never sees a timeout.
    The coach's work is not cancelled.
    """

    async def within_deadline(
        call: Awaitable[Message], what: str, started: float
    ) -> tuple[Message | None, asyncio.Task[Message]]:
        """The coach's answer if it comes within ``ack_deadline`` of ``started`` (the request's arrival:
        a first-time ``users.info`` already spent part of Slack's 3 s); else None and the running task."""
        task = asyncio.ensure_future(_safe(call, what))
        left = ack_deadline - (asyncio.get_running_loop().time() - started)
        try:
            return await asyncio.wait_for(asyncio.shield(task), max(left, 0.01)), task
        except TimeoutError:
            return None, task

    async def who(client: AsyncWebClient, body: Mapping[str, Any]) -> Actor:
        team = translate.team_of(body)
        user = translate.user_of(body)
        if user is None:
            raise translate.PayloadError("payload has no user")
        name = body.get("user_name")
        if name is None and isinstance(body.get("user"), Mapping):
            name = body["user"].get("name")
        return await profiles.actor(client, team, user, display_name=name if isinstance(name, str) else None)

    async def open_form(
        client: AsyncWebClient,
        trigger_id: str | None,
        form: str,
        context: translate.FormContext,
        side: str | None,
    ) -> None:
        if not trigger_id:
            log.warning("slack: cannot open %s without a trigger_id", form)
            return
        await client.views_open(trigger_id=trigger_id, view=render.form_view(form, context, side))

    async def dm(client: AsyncWebClient, user: str, message: Message) -> None:
        await client.chat_postMessage(channel=user, **render.message_payload(message))

    async def show_choice(
        client: AsyncWebClient,
        click: translate.Click,
        reply: Message,
        actor: Actor,
        blocks: tuple[dict[str, Any], ...],
    ) -> None:
        """Update the clicked message so the choice shows; a longer answer follows as its own message."""
        if click.ephemeral:
            # Ephemeral replies cannot be chat.update'd; Slack lets response_url replace them.
            if click.response_url:
                webhook = AsyncWebhookClient(click.response_url, timeout=10)
                await webhook.send_dict({"replace_original": True, **render.chosen_reply(click, reply)})
            return
        if click.channel and click.message_ts:
            await client.chat_update(
                channel=click.channel,
                ts=click.message_ts,
                text=render.first_text(blocks),
                blocks=render.after_click(blocks, click, reply),
            )
            if reply.sections or reply.buttons:
                await client.chat_postMessage(channel=click.channel, **render.message_payload(reply))
        else:
            await dm(client, actor.address.user, reply)

    async def publish_home(client: AsyncWebClient, actor: Actor) -> None:
        parts: list[Message]
        home = getattr(coach, "home", None)
        if home is not None:
            result = await home(actor)
            parts = list(result) if isinstance(result, list | tuple) else [result]
        else:
            parts = [await coach.handle_text(actor, "list"), await coach.handle_text(actor, "commitments")]
        await client.views_publish(user_id=actor.address.user, view=render.home_view(parts))

    # ------------------------------------------------------------------ the slash command

    async def on_command(ack, body, client):
        text = translate.command_text(body.get("text"))
        if translate.wants_log_form(text):
            await ack()
            context = translate.FormContext(channel=body.get("channel_id"))
            background.spawn(open_form(client, body.get("trigger_id"), translate.LOG_FORM, context, None), "log form")
            return
        user = translate.user_of(body)
        if user is None:
            raise translate.PayloadError("payload has no user")
        name = body.get("user_name")
        # Stored (one INSERT, committed) before the ack; the answer follows through response_url.
        await inbox.put(
            kind=COMMAND,
            team=translate.team_of(body),
            user=user,
            user_name=name if isinstance(name, str) else None,
            channel=body.get("channel_id"),
            text=text,
            response_url=body.get("response_url"),
        )
        await ack()

    app.command(command)(on_command)

    # ------------------------------------------------------------------ buttons

    async def on_click(ack, body, client):
        started = asyncio.get_running_loop().time()
        await ack()
        click = translate.click_from_block_actions(body)
        if click.form:
            number, side = translate.form_target(click.value)
            context = translate.FormContext(
                negotiation=number, channel=click.channel, message_ts=click.message_ts, label=click.label
            )
            background.spawn(open_form(client, click.trigger_id, click.form, context, side), click.form)
            return
        actor = await who(client, body)
        # The click's key is stored by the command's own transaction: a click is applied once, and one
        # whose command never committed (the process died) can be clicked again.
        once = _Once(seen, click.dedupe_key)
        call = coach.handle_text(actor, click.value, also=once)
        reply, task = await within_deadline(call, click.action_id, started)
        if reply is None:  # too slow for Slack's 3 s: acknowledge now, show the choice once it is applied

            async def late() -> None:
                await clicked(client, click, actor, await task, once)

            background.spawn(late(), "late click")
            return
        await clicked(client, click, actor, reply, once)

    async def clicked(
        client: AsyncWebClient, click: translate.Click, actor: Actor, reply: Message, once: _Once
    ) -> None:
        """The click is applied: show the choice (a failed one may be clicked again)."""
        if once.repeated:
            log.info("slack: ignored a repeated click on %s", click.action_id)
            return
        if reply.is_error and once.claimed:  # stored with an error answer: let the person try again
            await seen.forget(click.dedupe_key)
        if reply.kind == FORGOTTEN:  # off the request path: a locked database must not delay the ack
            background.spawn(inbox.forget_person(actor.address.workspace, actor.address.user), "forget inbox rows")
        background.spawn(show_choice(client, click, reply, actor, click.message_blocks), "show choice")
        if click.view_id and not click.message_ts:
            background.spawn(publish_home(client, actor), "home")

    app.action(re.compile(r".+"))(on_click)

    # ------------------------------------------------------------------ forms

    async def on_submit(ack, body, client):
        started = asyncio.get_running_loop().time()
        actor = await who(client, body)
        try:
            submission = translate.command_from_view(body, actor)
        except translate.FormError as error:
            await ack(response_action="errors", errors={error.block_id: error.message})
            return
        key = f"view:{translate.team_of(body)}:{submission.view_id}"
        once = _Once(seen, key) if submission.view_id else None  # claimed with the command, as a click is
        form = body["view"]["callback_id"]
        reply, task = await within_deadline(coach.handle(submission.command, also=once), form, started)
        if reply is None:  # too slow for the modal: close it, the answer follows as a DM
            await ack()
            background.spawn(_dm_when_done(client, actor.address.user, task, once), "late form reply")
            return
        if once is not None and once.repeated:
            await ack()  # a replayed submission: the first one was handled
            return
        if reply.is_error:
            if once is not None and once.claimed:
                await seen.forget(key)
            await ack(response_action="errors", errors={FORM_ERROR_BLOCK[form]: reply.text[:300]})
            return
        await ack()
        context = submission.context
        if context.channel and context.message_ts:
            click = translate.Click(
                action_id=_form_action(form),
                value="",
                label=context.label or "Saved",
                trigger_id=None,
                channel=context.channel,
                message_ts=context.message_ts,
                view_id=None,
                view_hash=None,
                message_blocks=(),
            )
            background.spawn(_refresh_message(client, click, reply), "update after form")
            if not (reply.sections or reply.buttons):
                return  # the one-line answer shows on the updated message
        background.spawn(dm(client, actor.address.user, reply), "form reply")

    async def _dm_when_done(client: AsyncWebClient, user: str, task: asyncio.Task[Message], once: _Once | None) -> None:
        reply = await task
        if once is None or not once.repeated:  # a replayed submission's answer went out the first time
            await dm(client, user, reply)

    async def _refresh_message(client: AsyncWebClient, click: translate.Click, reply: Message) -> None:
        history = await client.conversations_history(
            channel=click.channel, latest=click.message_ts, inclusive=True, limit=1
        )
        messages = history.get("messages") or []
        blocks = tuple(messages[0].get("blocks") or ()) if messages else ()
        if blocks:
            await client.chat_update(
                channel=click.channel,
                ts=click.message_ts,
                text=render.first_text(blocks),
                blocks=render.after_click(blocks, click, reply),
            )

    app.view(re.compile(r"^dealcoach\."))(on_submit)

    # ------------------------------------------------------------------ events

    def once(listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """Ack, then run ``listener`` once per ``event_id``: Slack redelivers an event it thinks we
        missed (``X-Slack-Retry-Num``). A failure releases the id, so Slack's retry gets another go."""

        @functools.wraps(listener)  # Bolt reads the wrapped function's argument names
        async def wrapper(**kwargs: Any) -> None:
            await kwargs["ack"]()
            body = kwargs["body"]
            event_id = translate.event_id(body)
            key = f"event:{translate.team_of(body)}:{event_id}"
            if event_id and not await seen.first(key):
                log.info("slack: ignored a redelivered event %s", event_id)
                return
            try:
                await listener(**kwargs)
            except Exception:
                if event_id:
                    await seen.forget(key)
                raise

        return wrapper

    @once
    async def on_home_opened(ack, body, event, client):
        if event.get("tab") != "home":
            return
        actor = await who(client, body)
        if event.get("channel"):
            await coach.upsert_user(actor, channel=event["channel"])
        background.spawn(publish_home(client, actor), "home")

    @once
    async def on_user_change(ack, body, event):
        user = event.get("user")
        if isinstance(user, Mapping):
            await profiles.update(translate.team_of(body), user)

    async def forget(team: str) -> None:
        log.warning("slack: app removed from workspace %s; deleting its data", team)
        await coach.forget_workspace("slack", team)
        profiles.forget_team(team)
        if on_uninstall is not None:
            await on_uninstall(team)

    @once
    async def on_uninstalled(ack, body):
        await forget(translate.installation_of(body))

    @once
    async def on_tokens_revoked(ack, body, event):
        if translate.bot_tokens_revoked(event):
            await forget(translate.installation_of(body))

    @once
    async def on_message(ack, body, event):
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        user = translate.user_of(body)
        if user is None or not event.get("channel"):
            raise translate.PayloadError("message event has no user or channel")
        await inbox.put(
            kind=MESSAGE,
            team=translate.team_of(body),
            user=user,
            channel=event["channel"],
            text=translate.command_text(event.get("text")),
        )

    app.event("app_home_opened")(on_home_opened)
    app.event("user_change")(on_user_change)
    app.event("app_uninstalled")(on_uninstalled)
    app.event("tokens_revoked")(on_tokens_revoked)
    app.event("message")(on_message)

    async def on_error(error, body, logger):
        if isinstance(error, translate.PayloadError):
            logger.info("slack: rejected a payload: %s", error)
            return BoltResponse(status=400, body='{"error": "malformed request"}')
        logger.error("slack: listener failed: %s: %s", type(error).__name__, error, exc_info=error)
        return None

    app.error(on_error)


def _form_action(form: str) -> str:
    for action, callback in translate.FORM_ACTIONS.items():
        if callback == form:
            return action
    return form
