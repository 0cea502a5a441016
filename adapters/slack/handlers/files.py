"""Calendar files sent to the app in its DM: read once, imported by the coach, answered in the DM.

A file sent in the DM arrives twice — as the DM's ``message`` (subtype ``file_share``, its ``files``) and
as ``file_shared`` — and each may be redelivered; the file's id is claimed in ``slack_seen`` first, so
it is downloaded and handed to ``coach.import_calendar`` once, whichever comes first. The download and
the import run after the acknowledgement (a calendar takes longer than Slack's 3 s). A file shared in a
channel is not imported: a calendar there is for everyone to read, and DealCoach never reads channels.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render, translate
from adapters.slack.files import FileProblem, file_of, not_a_calendar, too_large
from adapters.slack.handlers.deps import Deps, once_per_event
from adapters.slack.inbox import SORRY
from coaching.messages import Message

log = logging.getLogger(__name__)


def is_direct(channel: Any) -> bool:
    """A direct message with the app (Slack's ``D…`` ids)."""
    return isinstance(channel, str) and channel.startswith("D")


async def take(deps: Deps, client: AsyncWebClient, team: str, user: str, channel: str, file_id: str) -> None:
    """Claim the file (once per file id, across replicas) and import it after the acknowledgement."""
    key = f"file:{team}:{file_id}"
    if not await deps.seen.first(key):
        log.info("slack: file %s was taken already", file_id)
        return
    deps.background.spawn(imported(deps, client, team, user, channel, file_id, key), "calendar file")


async def imported(
    deps: Deps, client: AsyncWebClient, team: str, user: str, channel: str, file_id: str, key: str
) -> None:
    """Read the file, hand it to the coach, and answer in the DM; a file that could not be read may be sent again."""
    try:
        answer = await read(deps, client, team, user, file_id)
    except FileProblem as problem:
        answer = Message(str(problem), kind="error")
    except Exception:
        log.exception("slack: importing file %s failed", file_id)
        answer = SORRY
    if answer.is_error:
        await deps.seen.forget(key)
    await client.chat_postMessage(channel=channel, **render.message_payload(answer))


async def read(deps: Deps, client: AsyncWebClient, team: str, user: str, file_id: str) -> Message:
    response = await client.files_info(file=file_id)
    info = response.get("file")
    slack_file = file_of(info if isinstance(info, Mapping) else {})
    if not slack_file.calendar:
        return Message(not_a_calendar(slack_file.name), kind="error")
    if deps.files is None:  # pragma: no cover - the adapter always gives one
        raise FileProblem("I can't read files here.")
    if slack_file.size > deps.files.max_bytes:
        return Message(too_large(deps.files.max_bytes), kind="error")
    data = await deps.files.fetch(slack_file.download_url, client.token)
    actor = await deps.profiles.actor(client, team, user)
    return await deps.coach.import_calendar(actor, data, filename=slack_file.name)


async def on_file_shared(deps: Deps, ack: Any, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
    channel, user, file_id = event.get("channel_id"), event.get("user_id"), event.get("file_id")
    if not is_direct(channel) or not isinstance(user, str) or not isinstance(file_id, str):
        log.debug("slack: a file shared outside the app's DM is not read")
        return
    await take(deps, client, translate.team_of(body), user, channel, file_id)


async def on_files_message(deps: Deps, body: dict[str, Any], event: Mapping[str, Any], client: Any) -> None:
    """The DM's ``message`` with ``files`` (subtype ``file_share``)."""
    user = translate.user_of(body)
    channel = event.get("channel")
    if user is None or not is_direct(channel):
        return
    for shared in event.get("files") or ():
        if isinstance(shared, Mapping) and isinstance(shared.get("id"), str):
            await take(deps, client, translate.team_of(body), user, channel, shared["id"])


def register(app: AsyncApp, deps: Deps) -> None:
    app.event("file_shared")(once_per_event(on_file_shared, deps))
