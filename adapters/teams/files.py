"""Files in Teams: the data export through the Bot Framework's file-upload consent flow.

A bot cannot attach an arbitrary file to a message in a personal chat. Instead it sends a
**FileConsentCard** (name, size, description; no bytes). When the person clicks *Allow*, Teams creates
the file in their OneDrive and sends the bot a ``fileConsent/invoke`` activity with a pre-authorised
``uploadUrl``; the bot PUTs the bytes there and then sends a **FileInfoCard** so the file shows in the
chat. *Decline* sends the same invoke with ``action: "decline"``.

The file is built again when the person accepts (``coach.export_file``), so the consent card carries
only its size, and what is uploaded is what DealCoach stores at that moment. The card's context names the
person it was sent to, and an answer is honoured only from that person; the upload URL must be https
(a plain-http one only in emulator mode, for a local test double).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from botbuilder.schema import Activity, ActivityTypes, Attachment
from botbuilder.schema.teams import FileConsentCard, FileConsentCardResponse, FileInfoCard

from adapters.teams.submissions import FOR_KEY, SUBMIT_KEY, clip
from coaching.messages import Attachment as MessageAttachment
from coaching.messages import Message
from coaching.privacy import EXPORT  # the nudge kind, and what our consent cards are about

log = logging.getLogger(__name__)

FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
FILE_CONSENT_INVOKE = "fileConsent/invoke"
UPLOAD_TIMEOUT = 10.0  # seconds for the PUT to OneDrive; Teams waits ~15 s for the invoke's answer
MAX_DESCRIPTION = 200


def is_file(attachment: MessageAttachment) -> bool:
    """A file to hand over as a file (not an image that goes inline into the card)."""
    return not attachment.content_type.startswith("image/")


def context_for(recipient: str) -> dict[str, str]:
    """acceptContext/declineContext: Teams sends it back with the person's answer."""
    return {SUBMIT_KEY: EXPORT, FOR_KEY: recipient}


def consent_card(message: Message, attachment: MessageAttachment, recipient: str) -> Activity:
    """The FileConsentCard offering ``attachment`` to ``recipient``: its name and size only, never its bytes."""
    card = FileConsentCard(
        description=clip(message.text or attachment.title or attachment.filename, MAX_DESCRIPTION),
        size_in_bytes=len(attachment.data),
        accept_context=context_for(recipient),
        decline_context=context_for(recipient),
    )
    return Activity(
        type=ActivityTypes.message,
        attachments=[Attachment(content_type=FILE_CONSENT, name=attachment.filename, content=card.serialize())],
    )


def consent_cards(message: Message, recipient: str) -> list[Activity]:
    """A consent card for each file of an export; other files cannot be rebuilt on accept, so none."""
    files = [a for a in message.attachments if is_file(a)]
    if files and message.kind != EXPORT:
        log.warning("teams: %d file(s) of a %s message not offered: only exports are", len(files), message.kind)
        return []
    return [consent_card(message, attachment, recipient) for attachment in files]


@dataclass(frozen=True)
class Consent:
    """A person's answer to one of DealCoach's consent cards."""

    accepted: bool
    name: str = ""
    upload_url: str = ""
    content_url: str = ""
    unique_id: str = ""
    file_type: str = ""


class NotTheirs(Exception):  # noqa: N818 - an answer, not a failure
    """A consent answer from someone other than the person the card was sent to (or an older card that
    does not say who that was)."""


def consent_of(value: Any, sender: str, *, plain_http: bool = False) -> Consent | None:
    """The answer in a ``fileConsent/invoke`` value from ``sender`` (a user id); None if it is not about one
    of our cards or unreadable; NotTheirs if the card was for someone else."""
    if not isinstance(value, Mapping):
        return None
    try:
        response = FileConsentCardResponse.deserialize(dict(value))
    except Exception:  # msrest raises DeserializationError and friends on a malformed value
        return None
    context = response.context
    if not isinstance(context, Mapping) or context.get(SUBMIT_KEY) != EXPORT:
        return None
    if context.get(FOR_KEY) != sender:
        raise NotTheirs()
    if response.action == "decline":
        return Consent(accepted=False)
    info = response.upload_info
    if response.action != "accept" or info is None or not isinstance(info.upload_url, str):
        return None
    if not info.upload_url.startswith(("https://", "http://") if plain_http else ("https://",)):
        return None
    return Consent(
        accepted=True,
        name=str(info.name or ""),
        upload_url=str(info.upload_url),
        content_url=str(info.content_url or ""),
        unique_id=str(info.unique_id or ""),
        file_type=str(info.file_type or ""),
    )


class UploadFailed(Exception):
    """The PUT to the upload URL failed (status, timeout, network); the text is for the log only."""


async def upload(url: str, data: bytes, *, timeout: float | None = None) -> None:
    """PUT ``data`` to a OneDrive upload session in one range. The URL is pre-authorised: no token."""
    timeout = UPLOAD_TIMEOUT if timeout is None else timeout
    size = len(data)
    headers = {
        "Content-Length": str(size),
        "Content-Range": f"bytes 0-{size - 1}/{size}" if size else "bytes */0",
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.put(url, data=data, headers=headers, allow_redirects=False) as response,
        ):
            if not 200 <= response.status < 300:
                detail = (await response.text())[:200]
                raise UploadFailed(f"upload answered {response.status}: {detail}")
    except (aiohttp.ClientError, TimeoutError) as error:
        detail = str(error).replace(url, "<uploadUrl>")  # the URL itself grants write access: keep it out
        raise UploadFailed(f"upload failed: {type(error).__name__}: {detail}") from error


def file_info_card(consent: Consent) -> Activity:
    """The uploaded file as a FileInfoCard: Teams shows it in the chat, opening from OneDrive."""
    card = FileInfoCard(unique_id=consent.unique_id, file_type=consent.file_type)
    return Activity(
        type=ActivityTypes.message,
        attachments=[
            Attachment(
                content_type=FILE_INFO, content_url=consent.content_url, name=consent.name, content=card.serialize()
            )
        ],
    )
