"""Test doubles for the Slack side of the wire: a fake Web API server and signed requests.

The fake Web API listens on an ephemeral loopback port, records every call, keeps the messages it
was sent (so ``chat.update`` and ``conversations.history`` behave) and can answer with errors,
including 429 with ``Retry-After``. Requests to ``/slack/events`` are signed the way Slack signs
them (``v0:<timestamp>:<body>``, HMAC-SHA256), so Bolt's real verification runs.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0001"
USER = "U2147483697"
DM = "D0123456"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


_TRIGGERS = itertools.count(1)


def slash_command() -> dict[str, Any]:
    """The slash command fixture with a trigger_id of its own, as Slack sends one per invocation."""
    return fixture("slash_command") | {"trigger_id": f"13345224609.{next(_TRIGGERS)}.8088930838d88f008e0"}


# ---------------------------------------------------------------------------- signing


def signature(secret: str, timestamp: int, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: str, *, content_type: str, secret: str = SECRET, timestamp: int | None = None) -> dict:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, ts, body),
    }


def form_body(fields: dict[str, Any]) -> str:
    return urlencode(fields)


def interaction_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


# ---------------------------------------------------------------------------- the fake Web API


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    hook: str | None = None  # which response_url was posted to


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlackAPI:
    """``POST /api/<method>`` like slack.com/api, on 127.0.0.1 and an ephemeral port."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.timezones: dict[str, str] = {}
        self.locales: dict[str, str] = {}  # users.info's locale (sent only with include_locale, as Slack does)
        self.names: dict[str, str] = {}  # user id → the display name users.info gives
        self.admins: set[str] = set()  # users.info says is_admin for these
        self.emails: dict[str, str] = {}  # user id → profile.email (Slack sends it with users:read.email)
        self.files: dict[str, dict[str, Any]] = {}  # file id → files.info's file (its bytes under "data")
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self._failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        self._hooks = itertools.count(1)
        self._arrived = asyncio.Event()
        self._hooks_open = asyncio.Event()  # cleared by hold_hooks(): a response_url takes its time to answer
        self._hooks_open.set()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.oauth_extra: dict[str, Any] = {}  # more fields for oauth.v2.access (token rotation's refresh_token)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/respond/{hook}", self._respond)
        app.router.add_post("/upload/{file}", self._upload)
        app.router.add_get("/files-pri/{file}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- scripting

    def fail(self, method: str, *, error: str = "ratelimited", status: int = 200, times: int = 1, **headers: str):
        body = {"ok": False, "error": error}
        for _ in range(times):
            self._failures[method].append(Failure(status, body, {k.replace("_", "-"): v for k, v in headers.items()}))

    def rate_limit(self, method: str, *, retry_after: int, times: int = 1) -> None:
        self.fail(method, error="ratelimited", status=429, times=times, Retry_After=str(retry_after))

    def to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def fail_hook(self, *, status: int = 500, times: int = 1, **headers: str) -> None:
        """The next ``times`` posts to any response_url answer ``status`` (Slack's hooks say why in text)."""
        for _ in range(times):
            failure = Failure(status, {}, {k.replace("_", "-"): v for k, v in headers.items()})
            self._failures["response_url"].append(failure)

    def hold_hooks(self) -> None:
        """Posts to a response_url arrive (and are recorded) but get no answer until :meth:`release_hooks`."""
        self._hooks_open.clear()

    def release_hooks(self) -> None:
        self._hooks_open.set()

    def new_response_url(self) -> str:
        return self.url.replace("/api/", "/respond/") + f"hook{next(self._hooks)}"

    def hook_calls(self, hook_url: str) -> list[Call]:
        name = hook_url.rsplit("/", 1)[-1]
        return [c for c in self.calls if c.method == "response_url" and c.hook == name]

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> None:
        """Until ``predicate()`` holds: woken by each recorded call, never a fixed sleep."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            arrived = self._arrived
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out; calls so far: {[c.method for c in self.calls]}")
            try:
                await asyncio.wait_for(arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def reply_at(self, hook_url: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first answer posted to ``hook_url``."""
        await self.wait_for(lambda: self.hook_calls(hook_url), timeout)
        return self.hook_calls(hook_url)[0].args

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    # -- the server

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            args: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            args = await request.json()
        else:
            args = {**request.query, **await request.post()}  # slack_sdk sends some methods' args as params
            for key in ("blocks", "view"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth else args.get("token")
        self._record(Call(method, args, token))
        if self._failures[method]:
            failure = self._failures[method].popleft()
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        if not token and method not in ("oauth.v2.access",):
            return web.json_response({"ok": False, "error": "not_authed"})
        return web.json_response(getattr(self, "_" + method.replace(".", "_"), self._ok)(args))

    async def _respond(self, request: web.Request) -> web.Response:
        """A response_url (hooks.slack.com/actions/...): answers "ok" as Slack does."""
        self._record(Call("response_url", await request.json(), None, hook=request.match_info["hook"]))
        await self._hooks_open.wait()
        if self._failures["response_url"]:
            failure = self._failures["response_url"].popleft()
            return web.Response(text="internal_error", status=failure.status, headers=failure.headers)
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal hands out (files.slack.com in real life)."""
        self.uploads[request.match_info["file"]] = await request.read()
        return web.Response(text="OK - uploaded")

    def share_file(
        self, name: str, data: bytes, *, filetype: str = "ics", size: int | None = None, **extra: Any
    ) -> str:
        """A file someone uploaded: ``files.info`` describes it, ``url_private_download`` serves it with the
        bot token (``extra`` overrides what files.info says, e.g. another download address)."""
        file_id = f"F{len(self.files) + 1:08d}"
        url = self.url.replace("/api/", "/files-pri/") + file_id
        self.files[file_id] = {
            "id": file_id,
            "name": name,
            "title": name,
            "filetype": filetype,
            "mimetype": "text/calendar" if filetype == "ics" else "text/plain",
            "size": len(data) if size is None else size,
            "url_private": url,
            "url_private_download": url,
            "data": data,
            **extra,
        }
        return file_id

    async def _download(self, request: web.Request) -> web.Response:
        """``url_private_download`` (files.slack.com in real life): the bytes for the bot token, else the
        sign-in page Slack shows (HTML, 200)."""
        shared = self.files.get(request.match_info["file"])
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self._record(Call("download", {"file": request.match_info["file"]}, token or None))
        if shared is None or not token.startswith("xoxb-"):
            return web.Response(text="<!DOCTYPE html><html>Sign in</html>", content_type="text/html")
        return web.Response(body=shared["data"], content_type="text/calendar")

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        shared = self.files.get(args.get("file", ""))
        if shared is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": {k: v for k, v in shared.items() if k != "data"}}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{len(self.uploads) + 1:04d}"
        return {"ok": True, "upload_url": self.url.replace("/api/", "/upload/") + file_id, "file_id": file_id}

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in json.loads(args["files"])]}

    @property
    def response_url(self) -> str:
        return self.url.replace("/api/", "/respond/") + "hook1"

    def _ok(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "dealcoach",
            "team_id": TEAM,
            "user_id": "UBOT",
            "bot_id": "B0BOT",
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        info = fixture("users_info")
        info["user"]["id"] = args.get("user")
        info["user"]["tz"] = self.timezones.get(args.get("user", ""), info["user"]["tz"])
        if str(args.get("include_locale")).lower() in ("1", "true"):
            info["user"]["locale"] = self.locales.get(args.get("user", ""), "de-DE")
        if args.get("user") in self.names:
            info["user"]["profile"]["display_name"] = self.names[args["user"]]
        info["user"]["is_admin"] = args.get("user") in self.admins
        if args.get("user") in self.emails:
            info["user"]["profile"]["email"] = self.emails[args["user"]]
        return info

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args["channel"]
        if channel.startswith("U"):  # Slack answers with the app's DM channel
            channel = "D" + channel[1:]
        ts = f"1700000000.{next(self._ts):06d}"
        message = {"type": "message", "ts": ts, "text": args.get("text"), "blocks": args.get("blocks", [])}
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        """Shown to ``user`` only; Slack keeps no copy (conversations.history never has it)."""
        if not args.get("user") or not args.get("channel"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (args["channel"], args["ts"])
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key] = {**self.messages[key], "text": args.get("text"), "blocks": args.get("blocks", [])}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"]}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (args["channel"], args.get("latest"))
        found = [copy.deepcopy(self.messages[key])] if key in self.messages else []
        return {"ok": True, "messages": found, "has_more": False}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args["view"] if isinstance(args["view"], dict) else json.loads(args["view"])
        return {"ok": True, "view": {**view, "id": f"V{next(self._views):08d}"}}

    _views_publish = _views_open

    def _oauth_v2_access(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "app_id": "A123456",
            "authed_user": {"id": USER},
            "scope": "commands,chat:write,users:read,im:history",
            "token_type": "bot",
            "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
            "bot_user_id": "UBOT",
            "team": {"id": "T0002", "name": "Globex"},
            "enterprise": None,
            "is_enterprise_install": False,
            **self.oauth_extra,
        }

    # -- what the app sent, in words

    def last_blocks(self, method: str = "chat.postMessage") -> list[dict[str, Any]]:
        calls = self.to(method)
        assert calls, f"no {method} call"
        return calls[-1].args.get("blocks") or []


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])]


def block_text(blocks: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            out.append(text.get("text", ""))
        for f in block.get("fields") or []:
            out.append(f.get("text", ""))
        for e in block.get("elements") or []:
            if e.get("type") in ("mrkdwn", "plain_text"):
                out.append(e.get("text", ""))
    return "\n".join(out)


# ---------------------------------------------------------------------------- view state values


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


def select(value: str) -> dict[str, Any]:
    return {"value": {"type": "static_select", "selected_option": _option(value)}}


def radio(value: str) -> dict[str, Any]:
    return {"value": {"type": "radio_buttons", "selected_option": _option(value)}}


def text(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def number(value: int | str | None) -> dict[str, Any]:
    return {"value": {"type": "number_input", "value": None if value is None else str(value)}}


def day(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "datepicker", "selected_date": value}}


def moment(value: int | None) -> dict[str, Any]:
    return {"value": {"type": "datetimepicker", "selected_date_time": value}}


def submission(callback_id: str, values: dict[str, Any], *, private_metadata: str = "", view_id: str = "V0001"):
    payload = fixture("view_submission")
    payload["view"].update(
        id=view_id, callback_id=callback_id, private_metadata=private_metadata, state={"values": values}
    )
    return payload
