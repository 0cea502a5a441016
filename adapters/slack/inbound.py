"""What arrives at ``POST /slack/events``, checked before Bolt or a listener reads any of it.

:func:`read` takes the raw bytes and the headers and either returns the parsed body or raises
:class:`Rejected` with the status to answer:

1. **authenticate** (401): the two signature headers in the form Slack sends them (a numeric
   timestamp, ``v0=`` and 64 hex digits), the timestamp within five minutes, the HMAC over the raw
   bytes. Nothing of the body is read before this, except an ``ssl_check`` (see :func:`read`).
2. **parse** (400): JSON (events) or a form (slash commands; interactivity is ``payload=<json>``),
   bounded in depth, node count, string length and integer size.
3. **shape** (400): every field that a listener or Bolt's own context building reads has the type
   Slack documents: ids look like ids, texts are strings, lists are lists.

The body then goes to Bolt as a :class:`SlackRequest`, already parsed (see there why).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.request.async_request import AsyncBoltRequest

from coaching.texts import unstorable  # the one rule for what no database keeps: NUL, a lone surrogate

MAX_BODY = 256 * 1024  # Slack's payloads are a few KB; a view submission stays well under this
MAX_TEXT = 40_000  # Slack cuts a message at 40,000 characters; no string Slack sends is longer
MAX_DEPTH = 32  # Block Kit nests rich text a handful of levels deep
MAX_NODES = 20_000  # values in one body
MAX_INT = 2**53  # what JSON carries exactly; Slack's numbers are timestamps and counts
FRESH_SECONDS = 5 * 60  # Slack's own replay window

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Rejected(Exception):
    """A request answered with ``status`` and no further work; ``reason`` is for the log only."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _malformed(reason: str) -> Rejected:
    return Rejected(400, reason)


# ---------------------------------------------------------------------------- authenticate


def authenticate(secret: str, raw: bytes, headers: Mapping[str, str], *, now: float | None = None) -> None:
    """Raise ``Rejected(401)`` unless Slack signed ``raw`` with ``secret`` in the last five minutes.

    slack_sdk's ``SignatureVerifier`` calls ``int()`` on whatever the timestamp header holds (a 500
    for ``abc``) and hashes the body as text; the headers are checked here first, and the HMAC is
    taken over the bytes as they arrived, which is what Slack signs."""
    timestamp = _one(headers, "X-Slack-Request-Timestamp")
    signature = _one(headers, "X-Slack-Signature")
    if timestamp is None or signature is None:
        raise Rejected(401, "signature headers missing or repeated")
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        raise Rejected(401, "signature headers malformed")
    if abs((time.time() if now is None else now) - int(timestamp)) > FRESH_SECONDS:
        raise Rejected(401, "timestamp outside five minutes")
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Rejected(401, "signature does not match")


def _one(headers: Mapping[str, str], name: str) -> str | None:
    getall = getattr(headers, "getall", None)
    values = list(getall(name, ())) if getall is not None else [headers[name]] if name in headers else []
    return values[0] if len(values) == 1 else None


# ---------------------------------------------------------------------------- parse


def parse(text: str, content_type: str | None) -> dict[str, Any]:
    """The body as a dict: JSON, a form, or a form whose only field is ``payload`` (interactivity).

    Bolt's own ``parse_body`` reads any form body that merely *contains* the word "payload" as an
    interactive payload, so ``/negotiation note Acme: sent the payload spec`` came out as ``{}``
    (a 400). This is the one place DealCoach parses Slack's bodies; Bolt gets the result."""
    if content_type == "application/json" or text.startswith("{"):
        body = _json(text)
    else:
        fields = _form(text)
        body = _json(fields["payload"]) if set(fields) == {"payload"} else fields
    if not isinstance(body, dict) or not body:
        raise _malformed("body is not a non-empty object")
    _bounded(body)
    return body


def _json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:  # RecursionError: nesting deeper than the decoder's stack
        raise _malformed(f"not JSON ({type(error).__name__})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _form(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=200)
    except ValueError as error:
        raise _malformed(f"not a form ({error})") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise _malformed("a form field is repeated")
    return fields


def _bounded(body: Any) -> None:
    """Depth, size, string length and integer size, walked without recursion."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _malformed("too many values")
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _malformed("nested too deeply")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
            if isinstance(value, dict) and any(len(key) > 255 or unstorable(key) for key in value):
                raise _malformed("a key is too long or holds a NUL or a lone surrogate")
        elif isinstance(value, str) and (len(value) > MAX_TEXT or unstorable(value)):
            raise _malformed("a string is too long or holds a NUL or a lone surrogate")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise _malformed("a number is too large")


# ---------------------------------------------------------------------------- shape

Check = Callable[[Any, str], None]


def _string(limit: int = MAX_TEXT, pattern: re.Pattern[str] | None = None, what: str = "a string") -> Check:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, str) or len(value) > limit or (pattern is not None and not pattern.fullmatch(value)):
            raise _malformed(f"{path} is not {what}")

    return check


def _maybe(check: Check) -> Check:
    def maybe(value: Any, path: str) -> None:
        if value is not None:
            check(value, path)

    return maybe


def _either(*checks: Check, what: str) -> Check:
    def either(value: Any, path: str) -> None:
        for check in checks:
            try:
                check(value, path)
                return
            except Rejected:
                continue
        raise _malformed(f"{path} is not {what}")

    return either


def _record(fields: Mapping[str, Check], *, required: tuple[str, ...] = ()) -> Check:
    """An object whose listed fields (when present and not null) pass their checks; others are free."""

    def record(value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _malformed(f"{path} is not an object")
        for name in required:
            if value.get(name) in (None, ""):
                raise _malformed(f"{path}.{name} is missing")
        for name, check in fields.items():
            if name in value:
                check(value[name], f"{path}.{name}")

    return record


def _items(check: Check, *, at_least: int = 0) -> Check:
    def items(value: Any, path: str) -> None:
        if not isinstance(value, list) or len(value) < at_least:
            raise _malformed(f"{path} is not a list" + (f" of at least {at_least}" if at_least else ""))
        for i, item in enumerate(value):
            check(item, f"{path}[{i}]")

    return items


def _values_of(check: Check) -> Check:
    def values(value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _malformed(f"{path} is not an object")
        for key, item in value.items():
            check(item, f"{path}.{key}")

    return values


def _flag(value: Any, path: str) -> None:
    if not isinstance(value, bool) and value not in ("true", "false", "1", "0", ""):
        raise _malformed(f"{path} is not true or false")


def _integer(value: Any, path: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _malformed(f"{path} is not a whole number")


def _anything(value: Any, path: str) -> None:
    return None


# Slack's ids (T…, E…, U…, W…, B…, C…, D…, G…) are upper-case letters and digits; the inbox keeps 32.
ID = _string(32, re.compile(r"[A-Z0-9]+"), "a Slack id")
ID_OR_EMPTY = _string(32, re.compile(r"[A-Z0-9]*"), "a Slack id")
NAME = _string(200)
TOKEN = _string(255)  # trigger ids, action ids, view ids and hashes, timestamps like "1700000000.000100"
URL = _string(2000, re.compile(r"https?://[^\s]+"), "a URL")

_TEAM = _either(ID, _record({"id": _maybe(ID), "enterprise_id": _maybe(ID), "domain": _maybe(NAME)}), what="a team")
_ENTERPRISE = _either(ID_OR_EMPTY, _record({"id": _maybe(ID), "name": _maybe(NAME)}), what="an enterprise")
_USER_FIELDS = {"id": _maybe(ID), "team_id": _maybe(ID), "name": _maybe(NAME), "username": _maybe(NAME)}
_USER = _either(ID, _record(_USER_FIELDS), what="a user")
_CHANNEL = _either(ID, _record({"id": _maybe(ID), "name": _maybe(NAME)}), what="a channel")


def _flat(value: Any, path: str) -> None:
    if isinstance(value, Mapping) and any(isinstance(v, Mapping | list) for v in value.values()):
        raise _malformed(f"{path} is not a flat object")


def _all(*checks: Check) -> Check:
    def every(value: Any, path: str) -> None:
        for check in checks:
            check(value, path)

    return every


# Slack's authorizations are flat; Bolt reads the first one as if it were a whole payload
_AUTHORIZATION = _all(
    _record(
        {
            "team_id": _maybe(ID_OR_EMPTY),
            "enterprise_id": _maybe(ID_OR_EMPTY),
            "user_id": _maybe(ID),
            "is_bot": _maybe(_flag),
            "is_enterprise_install": _maybe(_flag),
            "team": _maybe(ID),
            "enterprise": _maybe(ID),
            "user": _maybe(ID),
        }
    ),
    _flat,
)
# a file in a message event (``files``) or a ``file_shared`` event (``file``): its id is what is read
_FILE = _record({"id": _maybe(ID), "name": _maybe(NAME), "filetype": _maybe(TOKEN)})
_NESTED_MESSAGE = _record({"user": _maybe(_USER), "thread_ts": _maybe(TOKEN), "text": _maybe(_string())})
_EVENT = _record(
    {
        "type": TOKEN,
        "user": _maybe(_USER),
        "user_id": _maybe(ID),
        "channel": _maybe(_CHANNEL),
        "team": _maybe(ID),
        "user_team": _maybe(ID),
        "enterprise": _maybe(_ENTERPRISE),
        "enterprise_id": _maybe(ID_OR_EMPTY),
        "thread_ts": _maybe(TOKEN),
        "text": _maybe(_string()),
        "subtype": _maybe(TOKEN),
        "bot_id": _maybe(TOKEN),
        "channel_type": _maybe(TOKEN),
        "tab": _maybe(TOKEN),
        "message": _maybe(_NESTED_MESSAGE),
        "previous_message": _maybe(_NESTED_MESSAGE),
        "item": _maybe(_record({"channel": _maybe(_CHANNEL)})),
        "assistant_thread": _maybe(_record({"channel_id": _maybe(ID), "thread_ts": _maybe(TOKEN)})),
        "function_execution_id": _maybe(TOKEN),
        "bot_access_token": _maybe(TOKEN),
        "function": _record({}),  # Bolt reads event.get("function", {}): never null
        "tokens": _record({"oauth": _items(ID), "bot": _items(ID)}),  # Bolt iterates both
        "files": _maybe(_items(_FILE)),
        "file": _maybe(_FILE),
        "file_id": _maybe(ID),
        "channel_id": _maybe(ID),
    },
    required=("type",),
)
_OPTION = _record({"value": _maybe(_string(2000))})
_INPUT = _record(
    {
        "type": _maybe(TOKEN),
        "value": _maybe(_string()),
        "selected_option": _maybe(_OPTION),
        "selected_options": _maybe(_items(_OPTION)),
        "selected_date": _maybe(_string(32)),
        "selected_time": _maybe(_string(32)),
        "selected_date_time": _maybe(_integer),
    }
)
# state.values: block id -> action id -> the input's value
_VALUES = _values_of(_values_of(_INPUT))
_VIEW = _record(
    {
        "id": _maybe(TOKEN),
        "hash": _maybe(TOKEN),
        "type": _maybe(TOKEN),
        "callback_id": _maybe(TOKEN),
        "team_id": _maybe(ID),
        "app_installed_team_id": _maybe(ID),
        "private_metadata": _maybe(_string(3000)),
        "state": _maybe(_record({"values": _maybe(_VALUES)})),
    }
)
_BLOCK = _record(
    {
        "type": _maybe(TOKEN),
        "block_id": _maybe(TOKEN),
        "text": _maybe(_record({"text": _maybe(_string())})),
        "elements": _maybe(_items(_anything)),
    }
)
_MESSAGE = _record(
    {"ts": _maybe(TOKEN), "thread_ts": _maybe(TOKEN), "text": _maybe(_string()), "blocks": _maybe(_items(_BLOCK))}
)
_ACTION = _record(
    {
        "action_id": TOKEN,
        "block_id": _maybe(TOKEN),
        "value": _maybe(_string(2000)),
        "type": _maybe(TOKEN),
        "text": _maybe(_record({"text": _maybe(_string(2000))})),
    },
    required=("action_id",),
)
_CONTAINER = _record(
    {
        "type": _maybe(TOKEN),
        "message_ts": _maybe(TOKEN),
        "channel_id": _maybe(ID),
        "view_id": _maybe(TOKEN),
        "is_ephemeral": _maybe(_flag),
    }
)

# What Bolt's context building (``slack_bolt/request/internals.py``) and our listeners read, in any body.
_ENVELOPE = _record(
    {
        "type": _maybe(TOKEN),
        "token": _maybe(TOKEN),
        "api_app_id": _maybe(TOKEN),
        "team": _maybe(_TEAM),
        "team_id": _maybe(ID_OR_EMPTY),
        "enterprise": _maybe(_ENTERPRISE),
        "enterprise_id": _maybe(ID_OR_EMPTY),
        "context_team_id": _maybe(ID_OR_EMPTY),
        "context_enterprise_id": _maybe(ID_OR_EMPTY),
        "is_enterprise_install": _maybe(_flag),
        "is_ext_shared_channel": _maybe(_flag),
        "authorizations": _maybe(_items(_AUTHORIZATION)),
        "user": _maybe(_USER),
        "user_id": _maybe(ID),
        "channel": _maybe(_CHANNEL),
        "channel_id": _maybe(ID),
        "thread_ts": _maybe(TOKEN),
        "trigger_id": _maybe(TOKEN),
        # Bolt takes these when the key is there (len(), .get()): present means not null
        "response_url": URL,
        "response_urls": _items(_record({"response_url": _maybe(URL)})),
        "event": _EVENT,  # Bolt reads body.get("event", {}): present means an object, never null
        "event_id": _maybe(TOKEN),
        "message": _maybe(_MESSAGE),
        "previous_message": _maybe(_NESTED_MESSAGE),
        "item": _maybe(_record({"channel": _maybe(_CHANNEL)})),
        "assistant_thread": _maybe(_record({"channel_id": _maybe(ID)})),
        "function_execution_id": _maybe(TOKEN),
        "function_data": _maybe(_record({"execution_id": _maybe(TOKEN)})),
        "bot_access_token": _maybe(TOKEN),
        "view": _VIEW,  # like "event"
        "container": _maybe(_CONTAINER),
        "actions": _maybe(_items(_ACTION)),
    }
)

_USER_RECORD = _record(_USER_FIELDS, required=("id",))

# a slash command is a form: every field a string
_COMMAND = _record(
    {
        "command": _string(64, re.compile(r"/\S+"), "a command"),
        "text": _string(),
        "team_id": ID,
        "user_id": ID,
        "user_name": NAME,
        "channel_id": ID,
        "channel_name": NAME,
        "team_domain": NAME,
        "enterprise_id": ID_OR_EMPTY,
        "enterprise_name": NAME,
        "response_url": URL,
        "trigger_id": TOKEN,
        "api_app_id": TOKEN,
        "is_enterprise_install": _flag,
        "token": TOKEN,
    },
    required=("command", "team_id", "user_id"),
)

# per payload type: what its listener needs beyond the envelope
_PAYLOADS: dict[str, Check] = {
    "url_verification": _record({"challenge": _string(200)}, required=("challenge",)),
    "event_callback": _record({"event": _EVENT}, required=("event",)),
    "block_actions": _record(
        {"actions": _items(_ACTION, at_least=1), "user": _USER_RECORD}, required=("actions", "user")
    ),
    # Bolt reads view.type of every view_submission (is it a workflow step?)
    "view_submission": _record(
        {"view": _record({}, required=("callback_id", "type")), "user": _USER_RECORD}, required=("view", "user")
    ),
    "view_closed": _record({"view": _record({}, required=("callback_id", "type"))}, required=("view",)),
    "app_rate_limited": _anything,
}

# per event type: what its listener reads
_EVENTS: dict[str, Check] = {
    "message": _record({"channel": ID, "user": _maybe(ID)}, required=("channel",)),
    "app_home_opened": _record({"user": ID, "channel": _maybe(ID)}, required=("user",)),
    "user_change": _record({"user": _record(_USER_FIELDS | {"tz": _maybe(TOKEN)}, required=("id",))}),
    "tokens_revoked": _record({}, required=("tokens",)),
    "app_mention": _record({"channel": ID, "user": ID}, required=("channel", "user")),
    "file_shared": _record({"file_id": ID, "user_id": ID, "channel_id": ID}, required=("file_id",)),
}


def check_shape(body: Mapping[str, Any]) -> None:
    """Raise ``Rejected(400)`` for a body whose fields do not have the types Slack documents."""
    if "command" in body:
        # a form, so every field is a string (Bolt's context building reads ``team``, ``user``... too)
        if not all(isinstance(value, str) for value in body.values()):
            raise _malformed("a slash command field is not a string")
        _COMMAND(body, "command")
        _ENVELOPE(body, "command")
        return
    _ENVELOPE(body, "body")
    kind = body.get("type")
    check = _PAYLOADS.get(kind) if isinstance(kind, str) else None
    if check is None:
        raise _malformed(f"no payload type DealCoach handles ({str(kind)[:40]!r})")
    check(body, kind)
    if kind == "event_callback":
        event = body["event"]
        _EVENTS.get(event["type"], _anything)(event, f"event {event['type']}")


# ---------------------------------------------------------------------------- all three


def is_ssl_check(fields: Mapping[str, Any]) -> bool:
    """Slack's certificate check of a slash command URL (``ssl_check=1``), which Bolt answers itself."""
    return fields.get("ssl_check") == "1" and "command" not in fields


def read(secret: str, raw: bytes, headers: Mapping[str, str], *, now: float | None = None) -> dict[str, Any]:
    """The checked body of one request to ``/slack/events``, or :class:`Rejected`."""
    if len(raw) > MAX_BODY:
        raise Rejected(413, "body too large")
    try:
        authenticate(secret, raw, headers, now=now)
    except Rejected:
        # Slack's ssl_check may come unsigned; Bolt answers it with an empty 200 and does nothing else
        if b"ssl_check=1" in raw:
            try:
                fields = _form(raw.decode("utf-8", "replace"))
            except Rejected:
                fields = {}
            if is_ssl_check(fields):
                return fields
        raise
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("body is not UTF-8") from None
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower() or None
    body = parse(text, content_type)
    if not is_ssl_check(body):
        check_shape(body)
    return body


class SlackRequest(AsyncBoltRequest):
    """A Bolt request built from a body :func:`read` already parsed and checked.

    Bolt builds a request from a parsed dict only in its Socket Mode, which skips the signature
    check; this is an HTTP request, so ``raw_body`` and ``mode`` are set back afterwards and Bolt's
    ``RequestVerification`` checks the same signature again, over the same text."""

    def __init__(self, *, raw_body: str, body: dict[str, Any], query: str, headers: Mapping[str, Any]):
        super().__init__(body=body, query=query, headers=dict(headers), mode="socket_mode")
        self.raw_body = raw_body
        self.mode = "http"

    def to_copyable(self) -> SlackRequest:
        # Bolt's copy re-parses raw_body in HTTP mode; keep the body this request was built from
        copied = SlackRequest(raw_body=self.raw_body, body=self.body, query="", headers=self.headers)
        copied.query = self.query
        copied.context = self.context.to_copyable()
        return copied
