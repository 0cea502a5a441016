"""Calendars in Teams: the rep's email for the calendar commands, and .ics files sent in a personal chat.

* A ``calendar …`` command (and a file import) carries the sender's email (``Actor.email``) from the Teams
  member lookup (``TeamsInfo``), kept for a while per person (:class:`~adapters.teams.deps.Emails`): its
  domain is one of the rep's own, so a meeting among colleagues is not taken for a negotiation.
* A file sent to the bot in a personal chat (the manifest's ``supportsFiles``) arrives as an attachment of
  type ``application/vnd.microsoft.teams.file.download.info`` whose ``content.downloadUrl`` is a short-lived,
  pre-authorised address. It is fetched with the calendar feeds' own fetcher
  (:class:`adapters.calendar.feed.FeedFetcher`: every address checked when the socket is made, 10 s, 5 MB),
  over https only — a loopback http address only in emulator mode — and handed to ``coach.import_calendar``
  once (a redelivered activity is not handled again: :class:`~adapters.teams.deps.SeenActivities`).
* A file in a channel or group chat is not imported (everyone there could read the calendar): the bot,
  when mentioned, says to send it in the personal chat.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from botbuilder.core import TurnContext

from adapters.calendar.feed import AddressPolicy, FeedFetcher, FeedLimits
from adapters.secret_words import about_calendar
from adapters.teams import people, replies, translate
from adapters.teams.deps import Deps
from adapters.teams.submissions import TypedText
from adapters.teams.trust import is_loopback_host
from coaching.commands import Actor
from coaching.messages import Message
from coaching.ports import FeedOutcome

log = logging.getLogger(__name__)

DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
DOWNLOAD_SECONDS = 8.0  # Teams waits about 15 s for the whole turn, the import included
IN_PERSONAL_CHAT = (
    "I only read calendar files in our personal chat — here everyone could read your calendar. "
    "Send the .ics file to me there."
)
READ_FAILED = "Sorry, something went wrong on my side reading that file. Nothing was changed; please try again."
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class TeamsFile:
    name: str
    file_type: str
    download_url: str

    @property
    def calendar(self) -> bool:
        return self.file_type.lower() == "ics" or self.name.lower().endswith(".ics")


def files_of(activity: Any) -> list[TeamsFile]:
    """The files attached to a message (Teams' download-info attachments); other attachments are not files."""
    found = []
    for attachment in activity.attachments or ():
        content = attachment.content
        if attachment.content_type != DOWNLOAD_INFO or not isinstance(content, Mapping):
            continue
        url, kind = content.get("downloadUrl"), content.get("fileType")
        name = attachment.name if isinstance(attachment.name, str) and attachment.name else "that file"
        found.append(TeamsFile(name, kind if isinstance(kind, str) else "", url if isinstance(url, str) else ""))
    return found


def fetcher(emulator: bool) -> FeedFetcher:
    """The downloader for files sent in Teams: public addresses only; loopback too in emulator mode (tests)."""
    policy = AddressPolicy(trusted=LOOPBACK if emulator else ())
    return FeedFetcher(policy=policy, limits=FeedLimits(timeout=DOWNLOAD_SECONDS))


def may_fetch(url: str, *, emulator: bool) -> bool:
    """https, or plain http to this machine in emulator mode (a local test double)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme == "https" or (emulator and parts.scheme == "http" and is_loopback_host(host))


async def with_email(deps: Deps, turn: TurnContext, actor: Actor) -> Actor:
    """``actor`` with their email from the member lookup (cached); unchanged when Teams does not say."""
    known, email = deps.emails.get(actor.address)
    if not known:
        sender = turn.activity.from_property
        try:
            person = await people.lookup(turn, str(sender.id)) if sender is not None and sender.id else None
        except Exception as error:  # the lookup is a courtesy: the command runs without it
            log.warning("teams: member lookup for the sender's email failed: %s", type(error).__name__)
            person = None
        email = person.email if person is not None else None
        deps.emails.put(actor.address, email)
    return replace(actor, email=email) if email else actor


async def with_email_if_calendar(deps: Deps, turn: TurnContext, request: Any) -> Any:
    """A typed ``calendar …`` command gets the sender's email; any other request is returned as it is."""
    if isinstance(request, TypedText) and about_calendar(request.text):
        return replace(request, actor=await with_email(deps, turn, request.actor))
    return request


async def imported(deps: Deps, turn: TurnContext, sent: TeamsFile) -> Message:
    """The coach's answer to one file sent in the personal chat (or why it could not be read)."""
    if not sent.calendar:
        return Message(
            f"“{sent.name}” is not a calendar file. Send me an .ics file (exported from Google Calendar or "
            "Outlook), or subscribe with `calendar <secret iCal address>`.",
            kind="error",
        )
    if not may_fetch(sent.download_url, emulator=deps.emulator):
        log.warning("teams: a file's download address is not https; not fetched")
        return Message("Teams did not give me a safe way to download that file.", kind="error")
    if deps.downloads is None:
        deps.downloads = fetcher(deps.emulator)
    result = await deps.downloads.fetch(sent.download_url)
    if result.outcome != FeedOutcome.CHANGED:
        why = result.reason.replace("calendar server", "file server") or "it could not be downloaded"
        return Message(f"I couldn't read “{sent.name}”: {why}. Please send it again.", kind="error")
    actor = await with_email(deps, turn, translate.actor_of(turn.activity))
    return await deps.coach.import_calendar(actor, result.body, filename=sent.name)


async def on_files(deps: Deps, turn: TurnContext, sent: list[TeamsFile]) -> None:
    """Files in a message: each imported in a personal chat; elsewhere, advice (when the bot was addressed)."""
    if not translate.is_personal(turn.activity):
        if translate.addressed_to_bot(turn.activity):
            await replies.reply(turn, Message(IN_PERSONAL_CHAT))
        return
    for one in sent:
        try:
            answer = await imported(deps, turn, one)
        except Exception:
            log.exception("teams: importing a calendar file failed")
            answer = Message(READ_FAILED, kind="error")
        await replies.reply(turn, answer)
