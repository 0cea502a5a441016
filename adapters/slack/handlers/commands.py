"""Slash commands and direct messages to the app: one INSERT into the durable inbox before the ack; the
coach runs after it and the answer follows (``response_url``, the DM, or — for the app @mentioned in a
channel — ``chat.postEphemeral``). A file sent in the DM goes to :mod:`.files`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from adapters.slack import translate
from adapters.slack.handlers import files, forms
from adapters.slack.handlers.deps import Deps, bound, once_per_event
from adapters.slack.inbox import COMMAND, MENTION, MESSAGE

FILE_SHARE = "file_share"


async def on_command(deps: Deps, ack: Any, body: dict[str, Any], client: Any) -> None:
    text = translate.command_text(body.get("text"))
    if translate.wants_log_form(text):
        await ack()
        context = translate.FormContext(channel=body.get("channel_id"))
        opening = forms.open_form(client, body.get("trigger_id"), translate.LOG_FORM, context, None)
        deps.background.spawn(opening, "log form")
        return
    user = translate.user_of(body)
    if user is None:
        raise translate.PayloadError("payload has no user")
    name = body.get("user_name")
    # Stored (one INSERT, committed) before the ack; the answer follows through response_url.
    await deps.inbox.put(
        kind=COMMAND,
        team=translate.team_of(body),
        user=user,
        user_name=name if isinstance(name, str) else None,
        channel=body.get("channel_id"),
        text=text,
        response_url=body.get("response_url"),
    )
    await ack()


async def on_message(deps: Deps, ack: Any, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
    if event.get("channel_type") != "im" or event.get("bot_id"):
        return
    if event.get("subtype") == FILE_SHARE:  # a file sent in the DM: a calendar to import
        await files.on_files_message(deps, body, event, client)
        return
    if event.get("subtype"):
        return
    user = translate.user_of(body)
    if user is None or not event.get("channel"):
        raise translate.PayloadError("message event has no user or channel")
    await deps.inbox.put(
        kind=MESSAGE,
        team=translate.team_of(body),
        user=user,
        channel=event["channel"],
        text=translate.command_text(event.get("text")),
    )


async def on_mention(deps: Deps, ack: Any, body: dict[str, Any], event: dict[str, Any]) -> None:
    """``@DealCoach list`` in a channel: the words after the mention, answered so only the sender sees it."""
    user = translate.user_of(body)
    if user is None or not event.get("channel") or event.get("bot_id"):
        return
    text = translate.mentioned_text(event.get("text"))
    if text:
        await deps.inbox.put(kind=MENTION, team=translate.team_of(body), user=user, channel=event["channel"], text=text)


def register(app: AsyncApp, deps: Deps) -> None:
    app.command(deps.command)(bound(on_command, deps))
    app.event("message")(once_per_event(on_message, deps))
    app.event("app_mention")(once_per_event(on_mention, deps))
