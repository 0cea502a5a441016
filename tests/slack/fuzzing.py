"""Hostile requests to ``/slack/events``, for the test suite and ``bench/faults/fuzz_slack.py``.

* :func:`fingerprint`: every row of every table, so a test can show a refused request changed nothing.
* :class:`Fuzzer`: a seeded stream of signed requests made from recorded payloads (a slash command,
  clicks, each form's submission, the events), each mutated: values replaced by others of another
  type, keys dropped or added, strings made huge or hostile, nesting made deep, bodies re-encoded,
  headers and signatures broken. Every URL in them points at the fake Slack on loopback.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from coaching.models import Base
from tests.slack.slackfakes import SECRET, fixture, moment, radio, select, submission, text

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


async def fingerprint(engine: AsyncEngine) -> dict[str, list[str]]:
    """All stored rows, table by table, in a stable order."""
    async with engine.connect() as connection:
        out: dict[str, list[str]] = {}
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(sa.select(table))).all()
            out[table.name] = sorted(repr(tuple(row)) for row in rows)
        return out


def sign(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest}


@dataclass
class Request:
    body: bytes
    headers: dict[str, str]
    what: str  # the mutations applied, for a failure message


def seeds(response_url: str) -> list[tuple[str, dict[str, Any]]]:
    """(encoding, payload): the recorded payloads, with every URL on loopback."""
    command = fixture("slash_command") | {"response_url": response_url}
    click = fixture("block_actions") | {"response_url": response_url}
    ephemeral = copy.deepcopy(click)
    ephemeral["container"]["is_ephemeral"] = True
    meta = json.dumps({"negotiation": 1})
    forms = [
        submission("dealcoach.log", {"counterpart": text("Acme"), "when": moment(1_800_000_000)}),
        submission("dealcoach.outcome", {"outcome": select("agreed"), "notes": text("ok")}, private_metadata=meta),
        submission("dealcoach.commitment", {"side": radio("ours"), "text": text("deck")}, private_metadata=meta),
        submission("dealcoach.settings", {"quiet": text("19:00-08:00"), "role": radio("sales")}),
    ]
    events = [fixture(name) for name in ("event_message_im", "event_user_change", "event_app_home_opened")]
    return [
        *[("form", command | {"text": words}) for words in ("log Acme tomorrow 3pm", "list", "help", "log")],
        ("interaction", click),
        ("interaction", ephemeral),
        *[("interaction", form) for form in forms],
        *[("json", event) for event in events],
        ("json", fixture("url_verification")),
    ]


HOSTILE_TEXT = [
    "<!here>",
    "<!channel> <!everyone>",
    "<@U0BOSS|boss> <#C0GENERAL|general>",
    "@here Corp",
    "sent the payload spec",
    "payload",
    "a=b&c=d&payload=%7B%7D",
    "&amp; &lt; &gt;",
    "\u0000\u202e\ufeff",
    "🙂" * 500,
    "log 'Acme' tomorrow 3pm",
    "",
    " ",
]


class Fuzzer:
    """``next()``: one signed, mutated request. The same seed gives the same requests."""

    def __init__(self, seed: int, response_url: Callable[[], str]):
        self.random = random.Random(seed)
        self._response_url = response_url

    def _value(self) -> Any:
        r = self.random
        pool: list[Callable[[], Any]] = [
            lambda: None,
            lambda: r.choice([0, -1, 5, 2**31, 2**70, -(2**64)]),
            lambda: r.random() * 1e6,
            lambda: r.choice([True, False]),
            lambda: [],
            lambda: {},
            lambda: [r.choice(HOSTILE_TEXT)],
            lambda: {"id": r.choice([[], {}, 5, "u1", "U" * 40, None])},
            lambda: r.choice(HOSTILE_TEXT),
            lambda: "x" * r.choice([33, 256, 3001, 41_000]),
            lambda: self._deep(r.randint(30, 60)),
            lambda: r.choice(["U2147483697", "T0001", "D0123456", "C2147483705", "V0001"]),
            lambda: r.choice(["1700000000.000100", "dealcoach.log", "dealcoach.nope", "form.outcome#0", "kept 1"]),
            lambda: self._response_url(),
        ]
        return r.choice(pool)()

    def _deep(self, depth: int) -> Any:
        value: Any = "bottom"
        for i in range(depth):
            value = [value] if i % 2 else {"v": value}
        return value

    @staticmethod
    def _nodes(tree: Any) -> list[tuple[Any, Any]]:
        """(container, key) for every value under the root."""
        out: list[tuple[Any, Any]] = []
        stack = [tree]
        while stack:
            node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for key, child in items:
                out.append((node, key))
                if isinstance(child, dict | list):
                    stack.append(child)
        return out

    def _mutate(self, payload: dict[str, Any]) -> str:
        r = self.random
        nodes = self._nodes(payload)
        if not nodes:
            return "empty"
        container, key = r.choice(nodes)
        kind = r.choice(["replace", "replace", "replace", "delete", "add", "retype", "text"])
        if kind == "replace":
            container[key] = self._value()
        elif kind == "delete":
            del container[key]
        elif kind == "add":
            dicts = [payload] + [c[k] for c, k in nodes if isinstance(c[k], dict)]
            r.choice(dicts)[r.choice(["type", "user", "team", "channel", "event", "view", "actions", "x"])] = (
                self._value()
            )
        elif kind == "retype":
            value = container[key]
            container[key] = r.choice([[value], {"value": value}, json.dumps(value, default=str), str(value)])
        else:
            container[key] = r.choice(HOSTILE_TEXT)
        return f"{kind} {key!r}"

    def next(self) -> Request:
        r = self.random
        encoding, base = r.choice(seeds(self._response_url()))
        payload = copy.deepcopy(base)
        applied = [self._mutate(payload) for _ in range(r.choice([0, 1, 1, 2, 3]))]
        if encoding == "form":
            fields = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in payload.items()}
            body, content_type = urlencode(fields), FORM
        elif encoding == "interaction":
            body, content_type = urlencode({"payload": json.dumps(payload, default=str)}), FORM
        else:
            body, content_type = json.dumps(payload, default=str), JSON
        raw = body.encode()
        if r.random() < 0.15:
            raw, content_type, change = self._wire(raw, content_type, payload)
            applied.append(change)
        headers = {"Content-Type": content_type} | sign(raw)
        if r.random() < 0.1:
            headers, change = self._headers(headers, raw)
            applied.append(change)
        return Request(raw, headers, f"{encoding}: " + ", ".join(applied or ["as recorded"]))

    def _wire(self, raw: bytes, content_type: str, payload: dict[str, Any]) -> tuple[bytes, str, str]:
        r = self.random
        choice = r.randrange(7)
        if choice == 0:
            return raw + b"&" + raw.split(b"&")[0], content_type, "repeated field"
        if choice == 1:
            return json.dumps(payload, default=str).encode(), JSON, "as JSON"
        if choice == 2:
            return raw, r.choice([JSON, FORM, "text/plain", ""]), "content type"
        if choice == 3:
            return raw[: r.randrange(len(raw) + 1)], content_type, "truncated"
        if choice == 4:
            return raw + b"\xff\xfe", content_type, "not UTF-8"
        if choice == 5:
            return b"payload=" + json.dumps([payload], default=str).encode(), FORM, "payload is a list"
        return b"[" * 5000 + b"]" * 5000, JSON, "deep JSON"

    def _headers(self, headers: dict[str, str], raw: bytes) -> tuple[dict[str, str], str]:
        r = self.random
        choice = r.randrange(6)
        if choice == 0:
            stamp = r.choice(["abc", "", "1e9", "-1", " 1", "9" * 30, "1" * 5000])
            return headers | {"X-Slack-Request-Timestamp": stamp}, f"timestamp {stamp[:12]!r}"
        if choice == 1:
            return headers | {"X-Slack-Signature": r.choice(["", "v0=", "v1=" + "0" * 64, "v0=zz"])}, "bad signature"
        if choice == 2:
            return headers | sign(raw, timestamp=int(time.time()) - 3600), "stale"
        if choice == 3:
            return headers | sign(raw, secret="another secret"), "wrong secret"
        if choice == 4:
            return {k: v for k, v in headers.items() if k != "X-Slack-Signature"}, "unsigned"
        return headers | sign(raw + b" "), "signed another body"


@dataclass
class Figures:
    """What a fuzz run saw: statuses, and the requests that broke a promise."""

    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # 5xx
    changed_by_refusal: list[str] = field(default_factory=list)  # a 4xx that changed stored rows

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


async def drive(
    fuzzer: Fuzzer,
    post: Callable[[Request], Awaitable[int]],
    settle: Callable[[], Awaitable[None]],
    engine: AsyncEngine,
    requests: int,
    figures: Figures | None = None,
) -> Figures:
    """Send ``requests`` fuzzed requests one after another; after each, wait for the work it started
    (``settle``) and, if it was refused, compare every stored row with the state before it."""
    figures = figures or Figures()
    await settle()
    before = await fingerprint(engine)
    for _ in range(requests):
        request = fuzzer.next()
        status = await post(request)
        figures.statuses[status] += 1
        if status >= 500:
            figures.server_errors.append(f"{status}: {request.what}")
        await settle()
        after = await fingerprint(engine)
        if 400 <= status < 500 and after != before:
            figures.changed_by_refusal.append(f"{status}: {request.what}")
        before = after
    return figures
