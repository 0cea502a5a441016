"""Calendar files sent to the app: what ``files.info`` says about one, and its bytes from
``url_private_download`` (Slack serves private files only with the bot token, ``files:read``).

The bot token goes only to Slack's own file host (``files.slack.com`` over https, or the host of
``SLACK_API_URL`` when one is set: a proxy, or the tests' fake Slack), redirects are not followed (a
redirect would take the token elsewhere, or land on Slack's sign-in page), and a file is read in chunks and
abandoned the moment it passes :data:`MAX_BYTES`, within :data:`TIMEOUT` seconds in all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from coaching.calendar.reading import MAX_FEED_BYTES

log = logging.getLogger(__name__)

MAX_BYTES = MAX_FEED_BYTES  # a file is read as a feed is: 5 MB
TIMEOUT = 10.0  # seconds for the whole download
SLACK_FILES = "files.slack.com"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class SlackFile:
    """One file, as ``files.info`` describes it."""

    id: str
    name: str
    size: int
    download_url: str | None
    calendar: bool  # an iCalendar file (.ics, text/calendar)


def file_of(info: Mapping[str, Any]) -> SlackFile:
    """``files.info``'s ``file`` → :class:`SlackFile`; whatever is missing or of the wrong type reads as empty."""
    name = info.get("name") if isinstance(info.get("name"), str) else ""
    kind = str(info.get("filetype") or "").lower()
    mimetype = str(info.get("mimetype") or "").lower()
    size = info.get("size")
    url = info.get("url_private_download") or info.get("url_private")
    return SlackFile(
        id=str(info.get("id") or ""),
        name=name or "that file",
        size=size if type(size) is int and size >= 0 else 0,
        download_url=url if isinstance(url, str) else None,
        calendar=kind == "ics" or name.lower().endswith(".ics") or mimetype.startswith("text/calendar"),
    )


class FileProblem(Exception):
    """The file could not be read; the text is for the person (no URL, no library's words)."""


class Downloads:
    """Private Slack files, downloaded with a workspace's bot token. One connection pool; close it on shutdown."""

    def __init__(self, api_url: str | None = None, *, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT):
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._api_host = urlsplit(api_url).hostname if api_url else None
        self._session: aiohttp.ClientSession | None = None

    def may_have_token(self, url: str) -> bool:
        """Whether the bot token may be sent to ``url``: Slack's file host over https, or SLACK_API_URL's host."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return False
        if host is not None and host == self._api_host:
            return parts.scheme in ("http", "https")
        return parts.scheme == "https" and host == SLACK_FILES

    async def fetch(self, url: str | None, token: str | None) -> bytes:
        """The file's bytes; :class:`FileProblem` if they cannot be had."""
        if not url or not token or not self.may_have_token(url):
            log.warning("slack: a file's download address is not Slack's file host; not downloaded")
            raise FileProblem("Slack did not give me a way to download that file.")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.DummyCookieJar())
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._session.get(
                url, headers=headers, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                return await self._body(response)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("slack: downloading a file failed: %s", type(error).__name__)  # the text may hold the URL
            raise FileProblem("I couldn't download that file from Slack just now. Please send it again.") from None

    async def _body(self, response: aiohttp.ClientResponse) -> bytes:
        if response.status != 200 or response.content_type == "text/html":  # text/html: Slack's sign-in page
            log.warning("slack: a file download answered %s %s", response.status, response.content_type)
            raise FileProblem("Slack would not let me download that file (is `files:read` granted to the app?).")
        if (response.content_length or 0) > self.max_bytes:
            raise FileProblem(too_large(self.max_bytes))
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > self.max_bytes:
                raise FileProblem(too_large(self.max_bytes))
        return bytes(body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def too_large(max_bytes: int) -> str:
    return (
        f"That calendar file is larger than {max_bytes // (1024 * 1024)} MB, more than I read. Export a shorter "
        "date range, or subscribe with `calendar <secret iCal address>` instead."
    )


def not_a_calendar(name: str) -> str:
    return (
        f"“{name}” is not a calendar file. Send me an .ics file (exported from Google Calendar or Outlook), "
        "or subscribe with `calendar <secret iCal address>`."
    )
