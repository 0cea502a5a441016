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
from pathlib import Path
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


def member(teams_id: str, name: str, aad: str, email: str) -> dict[str, Any]:
    """A ``TeamsChannelAccount`` as the connector's member APIs return it."""
    given, _, surname = name.partition(" ")
    return {
        "id": teams_id,
        "name": name,
        "givenName": given,
        "surname": surname,
        "email": email,
        "userPrincipalName": email,
        "aadObjectId": aad,
        "tenantId": TENANT,
        "userRole": "user",
    }


@dataclass
class FakeConnector:
    """The Bot Framework connector for Teams on loopback.

    Records ``/v3/conversations/...`` calls; ``fail_next`` queues (status, headers) answers for any
    activity call, ``fail_updates`` only for updates (``PUT .../activities/{activityId}``). Member lookups
    (``GET .../members/{id}``, ``.../members``, ``.../pagedmembers``) answer from ``rosters`` (conversation
    or team id → members; a channel's ``;messageid=`` suffix is ignored); ``POST /v3/conversations``
    (create a 1:1 chat) succeeds for the ids (Teams or AAD) in ``reachable`` and answers 403 otherwise,
    as Teams does when the app is not installed for that person."""

    server: TestServer | None = None
    calls: list[Call] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    fail_updates: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)  # ids of activities sent through this connector
    rosters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    directory: list[dict[str, Any]] = field(default_factory=list)  # the tenant's people (create_conversation)
    reachable: set[str] = field(default_factory=set)
    created: list[dict[str, Any]] = field(default_factory=list)  # create_conversation bodies
    lookups: list[str] = field(default_factory=list)  # paths of member lookups
    fail_lookups: list[int] = field(default_factory=list)  # statuses for the next member lookups
    page_size: int = 2  # members per page of pagedmembers, whatever pageSize asks (to exercise paging)

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

    def _roster(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.rosters.get(conversation_id.split(";messageid=")[0], [])

    def _lookup_failure(self, request: web.Request) -> web.Response | None:
        self.lookups.append(request.path)
        if not self.fail_lookups:
            return None
        return web.json_response(
            {"error": {"code": "ServiceError", "message": "fake"}}, status=self.fail_lookups.pop(0)
        )

    async def _member(self, request: web.Request) -> web.Response:
        failed = self._lookup_failure(request)
        if failed is not None:
            return failed
        wanted = request.match_info["member_id"]
        for person in self._roster(request.match_info["conversation_id"]):
            if wanted in (person["id"], person["aadObjectId"]):
                return web.json_response(person)
        return web.json_response({"error": {"code": "MemberNotFoundInConversation", "message": "no"}}, status=404)

    async def _members(self, request: web.Request) -> web.Response:
        failed = self._lookup_failure(request)
        return failed or web.json_response(self._roster(request.match_info["conversation_id"]))

    async def _paged(self, request: web.Request) -> web.Response:
        failed = self._lookup_failure(request)
        if failed is not None:
            return failed
        members = self._roster(request.match_info["conversation_id"])
        start = int(request.query.get("continuationToken") or 0)
        page = {"members": members[start : start + self.page_size]}
        if start + self.page_size < len(members):
            page["continuationToken"] = str(start + self.page_size)
        return web.json_response(page)

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.created.append(body)
        wanted = (body.get("members") or [{}])[0].get("id")
        person = next((p for p in self.directory if wanted in (p["id"], p["aadObjectId"])), None)
        if person is None or not {person["id"], person["aadObjectId"]} & self.reachable:
            error = {"code": "Forbidden", "message": "Bot is not installed in user's personal scope"}
            return web.json_response({"error": error}, status=403)
        conversation_id = f"a:created-{person['aadObjectId']}"
        self.rosters[conversation_id] = [person]
        return web.json_response({"id": conversation_id}, status=201)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_get("/v3/conversations/{conversation_id}/members/{member_id}", self._member)
        app.router.add_get("/v3/conversations/{conversation_id}/members", self._members)
        app.router.add_get("/v3/conversations/{conversation_id}/pagedmembers", self._paged)
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
    ``fail_next`` queues error statuses, ``delay`` makes every answer that many seconds late. It also serves
    the files people send in a chat (``GET /download/{name}``, the ``downloadUrl`` of a file attachment)."""

    server: TestServer | None = None
    uploads: list[Upload] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    delay: float = 0.0
    files: dict[str, bytes] = field(default_factory=dict)  # what ``download_url`` serves (a file sent in a chat)
    downloads: list[str] = field(default_factory=list)  # names fetched

    def upload_url(self, name: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(f"/upload/{name}"))

    def download_url(self, name: str) -> str:
        """A file's pre-authorised ``downloadUrl`` (SharePoint's ``download.aspx?…&tempauth=…`` in Teams)."""
        assert self.server is not None
        return str(self.server.make_url(f"/download/{name}?tempauth=t0ken"))

    async def _get(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append(name)
        if name not in self.files or request.query.get("tempauth") != "t0ken":
            return web.json_response({"error": {"code": "accessDenied"}}, status=403)
        return web.Response(body=self.files[name], content_type="application/octet-stream")

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
        app.router.add_get("/download/{name}", self._get)
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
        self.rotate("test-key-1")
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

    def rotate(self, kid: str) -> None:
        """A new signing key under a new ``kid``, the only one the keys document lists from now on."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
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


# --- recorded-shape activities (tests/teams/activities/*.json, written from Microsoft's documented shapes) ---

ACTIVITIES = Path(__file__).parent / "activities"
LEAD = {"user": "6b3a4cf5-1d2b-4e4f-9a1c-0d8e7f6a5b41", "name": "Lena Lead"}  # who sends the recorded activities
TEAM = "19:5a6f3c2b1e0d4c9b8a7f6e5d4c3b2a19@thread.tacv2"
SAM = member(
    "29:1sam-HyBWXh0dRgeuBXjDNGxULL7JMp2nQDYaLyXGu7b9CZh9PZDc8gMMXAVmJLDeGDRe7tJWHS0Mmpu0v1BdVg",
    "Sam Lee",
    "0d5c6b7a-8e9f-4a0b-9c1d-2e3f4a5b6c7d",
    "sam.lee@contoso.com",
)
LENA = member(
    "29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GMbrY2g4JDrrA8vM06X1-cHHle4zOE6U4ttcc",
    "Lena Lead",
    LEAD["user"],
    "lena.lead@contoso.com",
)
OTHERS = [
    member(
        f"29:1colleague-{n}",
        f"{first} Meyer",
        f"aaaaaaaa-0000-4000-8000-00000000000{n}",
        f"{first.lower()}@contoso.com",
    )
    for n, first in enumerate(("Ada", "Bert", "Cleo", "Sam"), start=1)
]


def recorded(name: str, service_url: str, **placeholders: str) -> dict[str, Any]:
    """The recorded activity ``name`` with its ``{{serviceUrl}}`` (and other placeholders) filled in and a
    fresh id, so a test can post it more than once."""
    text = (ACTIVITIES / f"{name}.json").read_text().replace("{{serviceUrl}}", service_url)
    for key, value in placeholders.items():
        text = text.replace("{{" + key + "}}", value)
    body = json.loads(text)
    body["id"] = f"{body['id']}-{next(_counter)}"
    return body
