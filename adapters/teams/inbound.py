"""What a client may post to ``/api/messages``: checked before the SDK (or anything else) reads it.

Every field DealCoach or the SDK reads is type-checked against :data:`FIELDS` (and the nested tables),
numbers must be finite, nesting and text are bounded. Anything else is :class:`BadActivity`, whose
message is one of a few short fixed sentences — never a library's exception text, which could echo
the request back or describe DealCoach's internals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botbuilder.schema import Activity

MAX_DEPTH = 24  # nesting of objects and arrays anywhere in the body
MAX_TEXT = 40_000  # characters of message text (Teams itself stops at about 28 KB)
MAX_STRING = 100_000  # characters of any other string
MAX_ITEMS = 1_000  # entries of a list we read (entities, attachments, members)

NOT_JSON = "the body is not valid JSON"
NOT_AN_ACTIVITY = "the body is not a valid Bot Framework activity"
TOO_DEEP = "the activity is nested too deeply"
TOO_LONG = "the activity's text is too long"


class BadActivity(ValueError):
    """The request body is not an activity DealCoach will read; ``str()`` is a fixed, short message."""


ACCOUNT = {"id": str, "name": str, "aadObjectId": str, "role": str}
CONVERSATION = {"id": str, "name": str, "conversationType": str, "tenantId": str, "isGroup": bool}
ENTITY = {"type": str, "text": str, "timezone": str, "locale": str, "mentioned": ACCOUNT}
ATTACHMENT = {"contentType": str, "contentUrl": str, "name": str}
CHANNEL_DATA = {
    "tenant": {"id": str},
    "team": {"id": str, "name": str, "aadGroupId": str},
    "channel": {"id": str, "name": str},
    "eventType": str,
}
# top-level key → the type it must have (a dict: an object with these keys; a list: a list of such)
FIELDS: dict[str, Any] = {
    "type": str,
    "id": str,
    "name": str,
    "text": str,
    "textFormat": str,
    "summary": str,
    "serviceUrl": str,
    "channelId": str,
    "timestamp": str,
    "localTimestamp": str,
    "localTimezone": str,
    "locale": str,
    "replyToId": str,
    "action": str,
    "from": ACCOUNT,
    "recipient": ACCOUNT,
    "conversation": CONVERSATION,
    "channelData": CHANNEL_DATA,
    "entities": [ENTITY],
    "attachments": [ATTACHMENT],
    "membersAdded": [ACCOUNT],
    "membersRemoved": [ACCOUNT],
    "reactionsAdded": [{"type": str}],
    "reactionsRemoved": [{"type": str}],
}
TIMESTAMPS = ("timestamp", "localTimestamp")


def _depth_ok(value: Any) -> bool:
    """Nesting at most MAX_DEPTH, and every number finite (JSON allows 1e309, which is infinity)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def _matches(value: Any, shape: Any) -> bool:
    if isinstance(shape, dict):
        if not isinstance(value, Mapping):
            return False
        return all(key not in value or value[key] is None or _matches(value[key], sub) for key, sub in shape.items())
    if isinstance(shape, list):
        return isinstance(value, list) and len(value) <= MAX_ITEMS and all(_matches(item, shape[0]) for item in value)
    if shape is str:
        return isinstance(value, str) and len(value) <= MAX_STRING
    if shape is bool:
        return isinstance(value, bool)
    return isinstance(value, shape)


def _timestamps_ok(body: Mapping[str, Any]) -> bool:
    for key in TIMESTAMPS:
        if body.get(key) is None:
            continue
        try:
            datetime.fromisoformat(body[key])
        except ValueError:
            return False
    return True


def check(body: Any) -> Mapping[str, Any]:
    """The decoded body if it is an activity of the right shape; BadActivity otherwise."""
    if not isinstance(body, dict) or not _depth_ok(body):
        raise BadActivity(NOT_AN_ACTIVITY if not isinstance(body, dict) else TOO_DEEP)
    if not isinstance(body.get("type"), str) or not body["type"] or not _matches(body, FIELDS):
        raise BadActivity(NOT_AN_ACTIVITY)
    if len(body.get("text") or "") > MAX_TEXT:
        raise BadActivity(TOO_LONG)
    if not _timestamps_ok(body):
        raise BadActivity(NOT_AN_ACTIVITY)
    service_url = body.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url.startswith(("https://", "http://")):
        raise BadActivity(NOT_AN_ACTIVITY)
    if not (body.get("conversation") or {}).get("id"):
        raise BadActivity(NOT_AN_ACTIVITY)
    if body["type"] in ("message", "installationUpdate", "invoke") and not (body.get("from") or {}).get("id"):
        raise BadActivity(NOT_AN_ACTIVITY)
    return body


def decode(raw: bytes) -> Activity:
    """Request bytes → a checked Activity, or BadActivity."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadActivity(NOT_JSON) from None
    except RecursionError:  # deeper than the JSON decoder will go
        raise BadActivity(TOO_DEEP) from None
    checked = check(body)
    try:
        return Activity().deserialize(dict(checked))
    except Exception:  # msrest raises DeserializationError, TypeError and friends; their text stays here
        raise BadActivity(NOT_AN_ACTIVITY) from None
