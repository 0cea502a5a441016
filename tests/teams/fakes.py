"""Test doubles for the Teams adapter: a fake Bot Framework connector, a fake OpenID/JWKS issuer and
activity builders. Everything listens on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "00000000-0000-0000-0000-0000000000b0"
APP_PASSWORD = "not-a-real-password"
TENANT = "tenant-1"
BOT = {"id": "28:dealcoach-bot", "name": "DealCoach"}
ISSUER = "https://api.botframework.test"


@dataclass
class Call:
    method: str
    path: str
    conversation_id: str
    reply_to: str | None
    authorization: str | None
    body: dict[str, Any]
    id: str | None = None  # the id the connector answered with (a card's later clicks carry it as replyToId)

    @property
    def activity_id(self) -> str | None:
        """The activity a ``PUT`` replaces (for a ``POST`` to ``.../activities/{id}``: the one replied to)."""
        return self.reply_to

    @property
    def text(self) -> str:
        return self.body.get("text") or ""

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.body.get("attachments") or ():
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return attachment["content"]
        return None

    def attachments_of(self, content_type: str) -> list[dict[str, Any]]:
        return [a for a in self.body.get("attachments") or () if a.get("contentType") == content_type]

    @property
    def visible(self) -> str:
        """Everything a user would read: text, summary and the card's text blocks."""
        parts = [self.text, self.body.get("summary") or ""]
        card = self.card
        if card:
            parts.append(json.dumps(card, ensure_ascii=False))
        return "\n".join(parts)


@dataclass
class FakeConnector:
    """Records ``/v3/conversations/...`` calls; ``fail_next`` queues (status, headers) answers for any
    call, ``fail_updates`` only for updates (``PUT .../activities/{activityId}``)."""

    server: TestServer | None = None
    calls: list[Call] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    fail_updates: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)  # ids of activities sent through this connector

    @property
    def updates(self) -> list[Call]:
        """``PUT /v3/conversations/{id}/activities/{activityId}``: messages replaced (updateActivity)."""
        return [call for call in self.calls if call.method == "PUT"]

    @property
    def sent(self) -> list[Call]:
        """``POST``: new messages and replies."""
        return [call for call in self.calls if call.method == "POST"]

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/")).rstrip("/") + "/"

    async def _activity(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = Call(
            method=request.method,
            path=request.path,
            conversation_id=request.match_info["conversation_id"],
            reply_to=request.match_info.get("activity_id"),
            authorization=request.headers.get("Authorization"),
            body=body,
        )
        self.calls.append(call)
        failures = self.fail_updates if request.method == "PUT" and self.fail_updates else self.fail_next
        if failures:
            status, headers = failures.pop(0)
            return web.json_response(
                {"error": {"code": "Throttled" if status == 429 else "ServiceError", "message": "fake"}},
                status=status,
                headers=headers,
            )
        if request.method == "PUT":  # an update: of a message this connector sent, answered with its id
            if call.activity_id not in self.issued:
                return web.json_response({"error": {"code": "NotFound", "message": "no such activity"}}, status=404)
            call.id = call.activity_id
        else:
            call.id = f"activity-{len(self.calls)}"
            self.issued.add(call.id)
        return web.json_response({"id": call.id})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self._activity)
        app.router.add_post("/v3/conversations/{conversation_id}/activities/{activity_id}", self._activity)
        app.router.add_put("/v3/conversations/{conversation_id}/activities/{activity_id}", self._activity)
        return app

    async def start(self) -> FakeConnector:
        self.server = TestServer(self.app(), host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()


@dataclass
class Upload:
    """One ``PUT`` the fake OneDrive received."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeOneDrive:
    """A OneDrive upload session on loopback: records every ``PUT /upload/{name}`` (headers and body);
    ``fail_next`` queues error statuses, ``delay`` makes every answer that many seconds late."""

    server: TestServer | None = None
    uploads: list[Upload] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    delay: float = 0.0

    def upload_url(self, name: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(f"/upload/{name}"))

    async def _put(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.uploads.append(Upload(request.path, dict(request.headers), body))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_next:
            status = self.fail_next.pop(0)
            return web.json_response({"error": {"code": "generalException", "message": "fake"}}, status=status)
        return web.json_response(
            {"id": "drive-item-1", "name": request.match_info["name"], "size": len(body)}, status=201
        )

    async def start(self) -> FakeOneDrive:
        app = web.Application()
        app.router.add_put("/upload/{name}", self._put)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FakeIssuer:
    """OpenID metadata + JWKS on loopback, and RS256 tokens signed like the Bot Framework's.

    It runs in a thread because the SDK fetches the metadata with blocking ``requests`` calls from the
    event loop; a server on that same loop could never answer.
    """

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        numbers = self.key.public_key().public_numbers()
        self.jwks = {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self.kid,
                    "n": _b64(numbers.n),
                    "e": _b64(numbers.e),
                    "endorsements": ["msteams", "emulator", "webchat"],
                }
            ]
        }
        self.hits = 0
        self.delay = 0.0  # seconds each answer takes: a slow identity provider
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                issuer.hits += 1
                if issuer.delay:
                    time.sleep(issuer.delay)  # in the server's thread: a slow network, not a test wait
                if self.path.startswith("/openid"):
                    payload = {"issuer": ISSUER, "jwks_uri": f"{issuer.base}/keys"}
                else:
                    payload = issuer.jwks
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/openid/{uuid.uuid4().hex}"  # a fresh URL: the SDK caches metadata per URL

    def token(self, *, service_url: str, audience: str = APP_ID, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": now - 10,
            "iat": now - 10,
            "exp": now + 600,
            **claims,
        }
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


_counter = iter(range(1, 1_000_000))


def activity(
    service_url: str,
    *,
    text: str | None = None,
    type: str = "message",
    user: str = "aad-user-1",
    name: str = "Ann Rep",
    conversation: str = "a:personal-conversation-1",
    conversation_type: str = "personal",
    tenant: str = TENANT,
    timezone: str | None = "Europe/Berlin",
    value: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A message activity as Teams posts it (trimmed to the fields that matter)."""
    number = next(_counter)
    body: dict[str, Any] = {
        "type": type,
        "id": f"incoming-{number}",
        "timestamp": "2026-11-25T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": f"29:{user}", "name": name, "aadObjectId": user},
        "conversation": {"id": conversation, "conversationType": conversation_type, "tenantId": tenant},
        "recipient": dict(BOT),
        "channelData": {"tenant": {"id": tenant}},
        "locale": "en-US",
    }
    if timezone:
        body["localTimezone"] = timezone
        body["entities"] = [{"type": "clientInfo", "locale": "en-US", "timezone": timezone}]
    if text is not None:
        body["text"] = text
    if value is not None:
        body["value"] = value
    body.update(extra)
    return body
