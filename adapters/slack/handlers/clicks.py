"""Button clicks: each runs its text command once (its dedupe key commits with the command), then the
clicked message shows the choice. A button of a form opens the form instead."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import render, translate
from adapters.slack.handlers.deps import Deps, Once, bound, dm, who, within_deadline
from adapters.slack.handlers.forms import open_form
from adapters.slack.handlers.home import publish_home
from coaching.commands import Actor
from coaching.messages import Message
from coaching.privacy import FORGOTTEN

log = logging.getLogger(__name__)


async def on_click(deps: Deps, ack: Any, body: dict[str, Any], client: Any) -> None:
    started = asyncio.get_running_loop().time()
    await ack()
    click = translate.click_from_block_actions(body)
    if click.form:
        number, side = translate.form_target(click.value)
        context = translate.FormContext(
            negotiation=number, channel=click.channel, message_ts=click.message_ts, label=click.label
        )
        opening = open_form(client, click.trigger_id, click.form, context, side, line=click.value)
        deps.background.spawn(opening, click.form)
        return
    actor = await who(deps, client, body)
    # The click's key is stored by the command's own transaction: a click is applied once, and one
    # whose command never committed (the process died) can be clicked again.
    once = Once(deps.seen, click.dedupe_key)
    call = deps.coach.handle_text(actor, click.value, also=once)
    reply, task = await within_deadline(deps, call, click.action_id, started)
    if reply is None:  # too slow for Slack's 3 s: acknowledge now, show the choice once it is applied

        async def late() -> None:
            await clicked(deps, client, click, actor, await task, once)

        deps.background.spawn(late(), "late click")
        return
    await clicked(deps, client, click, actor, reply, once)


async def clicked(
    deps: Deps, client: AsyncWebClient, click: translate.Click, actor: Actor, reply: Message, once: Once
) -> None:
    """The click is applied: show the choice (a failed one may be clicked again)."""
    if once.repeated:
        log.info("slack: ignored a repeated click on %s", click.action_id)
        return
    if reply.is_error and once.claimed:  # stored with an error answer: let the person try again
        await deps.seen.forget(click.dedupe_key)
    if reply.kind == FORGOTTEN:  # off the request path: a locked database must not delay the ack
        forgetting = deps.inbox.forget_person(actor.address.workspace, actor.address.user)
        deps.background.spawn(forgetting, "forget inbox rows")
    deps.background.spawn(show_choice(client, click, reply, actor, click.message_blocks), "show choice")
    if click.view_id and not click.message_ts:
        deps.background.spawn(publish_home(deps, client, actor), "home")


async def show_choice(
    client: AsyncWebClient, click: translate.Click, reply: Message, actor: Actor, blocks: tuple[dict[str, Any], ...]
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


def register(app: AsyncApp, deps: Deps) -> None:
    app.action(re.compile(r".+"))(bound(on_click, deps))
