"""What every Slack listener is given (:class:`Deps`) and the few things they share: who sent a payload,
the coach's answer within Slack's deadline, a click's or a form's dedupe key, one run per event."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.slack import render, translate
from adapters.slack.files import Downloads
from adapters.slack.handlers.profiles import Profiles
from adapters.slack.inbox import SORRY, Inbox
from adapters.slack.store import Seen
from coaching.commands import Actor, Command
from coaching.messages import Message
from coaching.ports import Abandon

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[Any]]


class CoachPort(Protocol):
    async def handle(
        self, command: Command, *, also: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> Message: ...

    async def handle_text(
        self, actor: Actor, text: str, *, also: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> Message: ...

    async def upsert_user(self, actor: Actor, channel: str | None = None, conversation_ref: Any = None) -> Any: ...

    async def import_calendar(self, actor: Actor, data: bytes, *, filename: str) -> Message: ...

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


@dataclass(frozen=True)
class Deps:
    """What the listeners work with. ``inbox``: where slash commands and DMs are stored before the ack
    (the coach runs them after it). ``ack_deadline``: if the coach has not answered a click or a form
    within this many seconds (a locked database, a slow replica), Slack gets its acknowledgement anyway
    and the answer follows (the clicked message is updated, a form's answer comes as a DM), so Slack
    never sees a timeout. The coach's work is not cancelled. ``files``: downloads the calendar files sent to
    the app."""

    coach: CoachPort
    command: str
    seen: Seen
    profiles: Profiles
    background: Background
    inbox: Inbox
    on_uninstall: Callable[[str], Awaitable[None]] | None = None
    ack_deadline: float = 2.0
    files: Downloads | None = None


def bound(listener: Listener, deps: Deps) -> Listener:
    """``listener(deps, **what_bolt_passes)`` as Bolt wants it: Bolt passes what a listener asks for by
    the names of its arguments, which it reads from the partial (without ``deps``)."""
    call = functools.partial(listener, deps)
    call.__name__ = listener.__name__  # type: ignore[attr-defined]  # Bolt's logs name listeners
    return call


def once_per_event(listener: Listener, deps: Deps) -> Listener:
    """Ack, then run ``listener`` once per ``event_id``: Slack redelivers an event it thinks we missed
    (``X-Slack-Retry-Num``). A failure releases the id, so Slack's retry gets another go."""
    call = bound(listener, deps)

    @functools.wraps(call)  # Bolt reads the wrapped function's argument names
    async def wrapper(**kwargs: Any) -> None:
        await kwargs["ack"]()
        body = kwargs["body"]
        event_id = translate.event_id(body)
        key = f"event:{translate.team_of(body)}:{event_id}"
        if event_id and not await deps.seen.first(key):
            log.info("slack: ignored a redelivered event %s", event_id)
            return
        try:
            await call(**kwargs)
        except Exception:
            if event_id:
                await deps.seen.forget(key)
            raise

    return wrapper


async def who(deps: Deps, client: AsyncWebClient, body: Mapping[str, Any]) -> Actor:
    team = translate.team_of(body)
    user = translate.user_of(body)
    if user is None:
        raise translate.PayloadError("payload has no user")
    name = body.get("user_name")
    if name is None and isinstance(body.get("user"), Mapping):
        name = body["user"].get("name")
    return await deps.profiles.actor(client, team, user, display_name=name if isinstance(name, str) else None)


async def within_deadline(
    deps: Deps, call: Awaitable[Message], what: str, started: float
) -> tuple[Message | None, asyncio.Task[Message]]:
    """The coach's answer if it comes within ``ack_deadline`` of ``started`` (the request's arrival:
    a first-time ``users.info`` already spent part of Slack's 3 s); else None and the running task."""
    task = asyncio.ensure_future(_safe(call, what))
    left = deps.ack_deadline - (asyncio.get_running_loop().time() - started)
    try:
        return await asyncio.wait_for(asyncio.shield(task), max(left, 0.01)), task
    except TimeoutError:
        return None, task


async def dm(client: AsyncWebClient, user: str, message: Message) -> None:
    await client.chat_postMessage(channel=user, **render.message_payload(message))


class _Repeated(Abandon):
    pass


class Once:
    """A click's or a form's dedupe key, claimed inside the coach's transaction (``also=``); a key
    someone already claimed rolls the command back."""

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
        return SORRY  # not shown: the caller sees ``Once.repeated``
    except Exception:
        log.exception("slack: coach failed on %s", what)
        return SORRY
