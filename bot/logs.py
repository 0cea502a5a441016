"""Logging set-up, in one place: level, format (``LOG_FORMAT=text|json``) and the secrets filter.

:func:`configure` puts one stream handler on the root logger and a :class:`Redactor` filter on every
handler the root logger has, so the records of library loggers (slack_sdk logs the installed bot
and refresh tokens at DEBUG during an OAuth install; aiohttp; botbuilder) are masked as well as ours,
at every level. The filter masks the configured secret values (``Settings`` fields kept out of its
``repr``, the database password) and the shapes secrets take: Slack tokens, bearer and basic
credentials, ``client_secret=``-style fields, JSON web tokens, passwords in URLs, secret
calendar (iCal) addresses and Slack's hook URLs.

``LOG_FORMAT=json`` prints one JSON object per line: ``time``, ``level``, ``logger``, ``message``,
and ``request_id`` / ``nudge_id`` when the line was logged while one was being handled
(:mod:`coaching.correlation`), plus ``exc`` for a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import quote, quote_plus, urlsplit

from bot.config import Settings
from coaching import correlation

FORMATS = ("text", "json")
MASK = "***"
MIN_SECRET = 8  # shorter configured values are masked by pattern only (masking "abc" would garble logs)

_SLACK_TOKEN = re.compile(r"(?<![A-Za-z0-9])(xox[a-z](?:\.xox[a-z])?-|xapp-)[A-Za-z0-9-]+")
_AUTHORIZATION = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_SECRET_FIELD = re.compile(
    r"(?i)((?:client_secret|signing_secret|secret_key|app_?password|password|passwd|access_token|refresh_token"
    r"|bot_token|id_token|token|secret)['\"]?\s*[:=]\s*['\"]?)([^'\"\s&,;}]+)"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@'\"]+:)[^@\s/'\"]+@")
_URL = re.compile(r"(?i)\b((?:https?|webcals?)://[^/\s'\"<>]+)(/[^\s'\"<>]*)")
# URLs that are themselves the secret: iCal addresses (Google's .../calendar/ical/<id>/private-<key>/basic.ics,
# Outlook's .../owa/calendar/<id>/<key>/reachcalendar.ics, iCloud's webcal://.../published/..., any .ics
# feed) and Slack's hooks (a response_url, an incoming webhook: whoever has one can post with it)
_SECRET_PATH = re.compile(r"(?i)(\.ics\b|/ical/|/private-|/owa/calendar/|/published/|/calendars?/)")
_SECRET_HOSTS = ("hooks.slack.com",)


class Redactor(logging.Filter):
    """Masks secrets in a record's message, traceback and stack (a handler filter: it sees every
    record the handler writes, whichever logger made it)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        known: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                known |= {secret, quote(secret, safe=""), quote_plus(secret)}
        ordered = sorted(known, key=len, reverse=True)  # longest first: one secret may contain another
        self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._traceback = logging.Formatter()

    def redact(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(MASK, text)
        text = _SLACK_TOKEN.sub(lambda m: m.group(1) + MASK, text)
        text = _AUTHORIZATION.sub(lambda m: m.group(1) + MASK, text)
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        text = _SECRET_FIELD.sub(lambda m: m.group(1) + MASK, text)
        text = _JWT.sub(MASK, text)
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
        return _URL.sub(_secret_url, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit the message: log what there is
            message = f"{record.msg} {record.args}"
        masked = self.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._traceback.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _secret_url(match: re.Match[str]) -> str:
    origin, path = match.group(1), match.group(2)
    lowered = origin.lower()
    if lowered.startswith("webcal") or lowered.endswith(_SECRET_HOSTS) or _SECRET_PATH.search(path):
        return f"{origin}/{MASK}"
    return match.group(0)


class _Ids(logging.Filter):
    """Copies the request / nudge id of the code that logged into the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = correlation.REQUEST_ID.get()
        record.nudge_id = correlation.NUDGE_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "nudge_id"):
            value = getattr(record, name, None)
            if value:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, then ``[request …]`` / ``[nudge …]`` when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = [f"[{name} {value}]" for name in ("request", "nudge") if (value := getattr(record, f"{name}_id", None))]
        if not ids:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} {' '.join(ids)}{newline}{rest}"


def secrets_of(settings: Settings) -> list[str]:
    """The configured secret values: every ``Settings`` field kept out of its repr, the database password."""
    values = [getattr(settings, f.name) for f in fields(settings) if not f.repr]
    try:
        password = urlsplit(settings.database_url).password
    except ValueError:
        password = None
    return [v for v in [*values, password] if isinstance(v, str) and v]


def configure(settings: Settings, *, quiet: bool = False, stream: TextIO | None = None) -> logging.Handler:
    """Log to ``stream`` (stderr) at ``LOG_LEVEL`` (``quiet``: warnings at least, for the terminal
    commands) in ``LOG_FORMAT``; mask secrets in everything the root logger's handlers write.

    Calling it again replaces the handler it added before. Returns that handler."""
    level = logging.getLevelNamesMapping()[settings.log_level]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_dealcoach", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._dealcoach = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING) if quiet else level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    redactor, ids = Redactor(secrets_of(settings)), _Ids()
    for each in root.handlers:  # ours and any already there (a test's capture, say)
        for kind, instance in ((Redactor, redactor), (_Ids, ids)):
            for stale in [f for f in each.filters if isinstance(f, kind)]:
                each.removeFilter(stale)
            each.addFilter(instance)
    return handler
