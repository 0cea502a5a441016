"""Typed words that may carry a secret: ``calendar <url>`` holds the rep's secret iCal address.

Both chat adapters need to know it before the coach runs: such words typed where others read them (a Slack
channel, a Teams group chat or channel) go to the coach as asked in a shared chat, so it refuses them rather
than subscribing, and whatever the adapter keeps of the words (Slack's inbox row) keeps the address only as
:func:`coaching.calendar.address.redact` shows it. Which words are secret is the coach's matter; this only
spots the command word, so that every other command costs what it did.
"""

from __future__ import annotations

from coaching.calendar.address import redact
from coaching.parser import ALIASES

CALENDAR = "calendar"
# the words of the calendar commands that are not an address (``calendar ignore 12 series``)
_PLAIN = frozenset({"sync", "off", "ignore", "series", "status", "now"})


def _words(text: str) -> list[str]:
    words = text.split()
    if words and words[0].startswith("/"):  # "/negotiation calendar …" typed in Teams
        words = words[1:]
    return words


def about_calendar(text: str) -> bool:
    """The words are a ``calendar`` command (which may hold the feed's address)."""
    words = _words(text)
    return bool(words) and ALIASES.get(words[0].lower(), words[0].lower()) == CALENDAR


def redacted(text: str) -> str:
    """``text`` as it may be kept or shown again: a calendar command's address becomes scheme and host."""
    if not about_calendar(text):
        return text
    words = _words(text)
    kept = [words[0]]
    for word in words[1:]:
        plain = word.isdigit() or word.lower() in _PLAIN
        kept.append(word if plain else redact(word.strip("<>").partition("|")[0]))
    return " ".join(kept)
