"""Forms (Slack modals): opened from the slash command or a button, submitted back as a command. The coach
runs before the answer, so a field it rejects shows its error in the form."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.slack import render, translate
from adapters.slack.handlers.deps import Deps, Once, bound, dm, who, within_deadline
from coaching.messages import FIELD, Message

log = logging.getLogger(__name__)

# a form's coach-side error is shown next to this field
FORM_ERROR_BLOCK = {
    translate.LOG_FORM: "counterpart",
    translate.OUTCOME_FORM: "outcome",
    translate.COMMITMENT_FORM: "text",
    translate.SETTINGS_FORM: "timezone",
    translate.EDIT_FORM: "line",
}


async def open_form(
    client: AsyncWebClient,
    trigger_id: str | None,
    form: str,
    context: translate.FormContext,
    side: str | None,
    line: str = "",
) -> None:
    if not trigger_id:
        log.warning("slack: cannot open %s without a trigger_id", form)
        return
    await client.views_open(trigger_id=trigger_id, view=render.form_view(form, context, side, line))


async def on_submit(deps: Deps, ack: Any, body: dict[str, Any], client: Any) -> None:
    started = asyncio.get_running_loop().time()
    actor = await who(deps, client, body)
    try:
        submission = translate.command_from_view(body, actor)
    except translate.FormError as error:
        await ack(response_action="errors", errors={error.block_id: error.message})
        return
    key = f"view:{translate.team_of(body)}:{submission.view_id}"
    once = Once(deps.seen, key) if submission.view_id else None  # claimed with the command, as a click is
    form = body["view"]["callback_id"]
    context = submission.context
    answer = None  # a question's Edit answers it: its Yes can't be used after, nor the Edit after a Yes
    if form == translate.EDIT_FORM and context.channel and context.message_ts:
        answer = Once(deps.seen, translate.answered_key(context.channel, context.message_ts))
    also = _both(once, answer)
    asked = submission.command
    call = (
        deps.coach.handle_text(actor, asked.text, also=also)
        if isinstance(asked, translate.Typed)
        else deps.coach.handle(asked, also=also)
    )
    reply, task = await within_deadline(deps, call, form, started)
    if reply is None:  # too slow for the modal: close it, the answer follows as a DM
        await ack()
        deps.background.spawn(_dm_when_done(client, actor.address.user, task, once), "late form reply")
        return
    if once is not None and once.repeated:
        await ack()  # a replayed submission: the first one was handled
        return
    if answer is not None and answer.repeated:
        await ack(response_action="errors", errors={"line": "This question was answered already."})
        return
    if reply.is_error:
        if once is not None and once.claimed:
            await deps.seen.forget(key)
        if answer is not None and answer.claimed and context.channel and context.message_ts:
            await deps.seen.forget(translate.answered_key(context.channel, context.message_ts))
        await ack(response_action="errors", errors={_error_block(body, form, reply): reply.text[:300]})
        return
    await ack()
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
        deps.background.spawn(_refresh_message(client, click, reply), "update after form")
        if not (reply.sections or reply.buttons):
            return  # the one-line answer shows on the updated message
    deps.background.spawn(dm(client, actor.address.user, reply), "form reply")


async def _dm_when_done(client: AsyncWebClient, user: str, task: asyncio.Task[Message], once: Once | None) -> None:
    reply = await task
    if once is None or not once.repeated:  # a replayed submission's answer went out the first time
        await dm(client, user, reply)


async def _refresh_message(client: AsyncWebClient, click: translate.Click, reply: Message) -> None:
    """The message whose button opened the form shows what was saved."""
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


def _both(*onces: Once | None) -> Callable[[AsyncSession], Awaitable[None]] | None:
    """Claim every dedupe key given, inside the command's transaction."""
    claims = [once for once in onces if once is not None]
    if not claims:
        return None

    async def claim(session: AsyncSession) -> None:
        for once in claims:
            await once(session)

    return claim


def _error_block(body: dict[str, Any], form: str, reply: Message) -> str:
    """Where the coach's error shows: next to the field it is about when the form has it (its block ids are the
    command's field names), else the form's first field."""
    field = reply.extra.get(FIELD)
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return field if isinstance(field, str) and field in values else FORM_ERROR_BLOCK[form]


def _form_action(form: str) -> str:
    for action, callback in translate.FORM_ACTIONS.items():
        if callback == form:
            return action
    return form


def register(app: AsyncApp, deps: Deps) -> None:
    app.view(re.compile(r"^dealcoach\."))(bound(on_submit, deps))
