"""A calendar feed's address: the secret iCal URL a rep gives. It is a secret (whoever has it reads the
calendar), so it is checked here once, and only ever shown or logged as :func:`redact` makes it."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_URL_CHARS = 2_048
_SCHEMES = {"http": "http", "https": "https", "webcal": "https", "webcals": "https"}


class FeedAddressError(ValueError):
    """Not an address DealCoach can fetch a calendar from; the message is plain words, without the URL."""


def feed_url(text: str) -> str:
    """The fetchable form of a pasted feed address: ``webcal://`` (what "subscribe" links use) means
    https; only http(s) is fetched. Slack's ``<url>`` / ``<url|label>`` wrapping is removed."""
    url = text.strip()
    if url.startswith("<") and url.endswith(">"):
        url = url[1:-1].partition("|")[0].strip()
    if not url:
        raise FeedAddressError("Give the calendar's secret iCal address (it starts with https:// or webcal://).")
    if len(url) > MAX_URL_CHARS or any(ch.isspace() for ch in url):
        raise FeedAddressError("That does not look like a calendar address: one URL, without spaces.")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise FeedAddressError("That does not look like a calendar address.") from exc
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise FeedAddressError("A calendar address starts with https://, http:// or webcal://.")
    if not parts.hostname:
        raise FeedAddressError("That calendar address has no server name.")
    if port == 0:
        raise FeedAddressError("That calendar address has no valid port.")
    return parts._replace(scheme=scheme, fragment="").geturl()


def redact(url: str) -> str:
    """What may be logged or shown of a feed address: scheme and host only (``https://calendar.google.com/…``)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "(a calendar address)"
    if not parts.scheme or not host:
        return "(a calendar address)"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}/…"
