"""A calendar provider on loopback for tests and benchmarks: serves .ics feeds the way Google and
Outlook do (ETag / Last-Modified, 304 on a conditional GET, 404 for an unknown secret address), and
can redirect, stall, or send more than it should. Plus the two pieces that keep every test on
loopback: a resolver that maps names to the addresses a test chooses, and a guard that refuses to
connect anywhere but 127.0.0.1 / ::1."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
from dataclasses import dataclass, field
from email.utils import formatdate

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult


class NotLoopback(AssertionError):
    """A test tried to reach something other than loopback."""


def loopback_only(address: str) -> None:
    """The connect guard: raises for any address that is not loopback."""
    if not ipaddress.ip_address(address.split("%", 1)[0]).is_loopback:
        raise NotLoopback(f"tests may only connect to loopback, not {address}")


class StaticResolver(AbstractResolver):
    """DNS for tests: each name resolves to the address the test gives (unknown names do not resolve)."""

    def __init__(self, names: dict[str, str]):
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(f"{host} does not resolve")
        address = self.names[host]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


@dataclass
class Feed:
    body: bytes
    etag: str = ""
    last_modified: str = ""

    @classmethod
    def of(cls, body: bytes, version: int = 0) -> Feed:
        return cls(body, f'"{hashlib.sha1(body).hexdigest()[:16]}"', formatdate(1_780_000_000 + version, usegmt=True))


@dataclass
class FeedServer:
    """Routes by path. ``requests`` records (path, headers) of each request."""

    feeds: dict[str, Feed] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    stalls: set[str] = field(default_factory=set)
    floods: set[str] = field(default_factory=set)  # send bytes forever, with no Content-Length
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, path: str, body: bytes, version: int = 0) -> Feed:
        self.feeds[path] = Feed.of(body, version)
        return self.feeds[path]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def start(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._closing.set()  # stalled requests end now, not at aiohttp's 60 s shutdown timeout
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.raw_path  # as sent: secret addresses hold %40 and the like
        self.requests.append((path, dict(request.headers)))
        if path in self.stalls:
            await self._closing.wait()
        if path in self.redirects:
            raise web.HTTPFound(self.redirects[path])
        if path in self.statuses:
            return web.Response(status=self.statuses[path])
        if path in self.floods:
            response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
            await response.prepare(request)
            chunk = b"X" * 65536
            while not self._closing.is_set():
                await response.write(chunk)
            return response
        feed = self.feeds.get(path)
        if feed is None:
            return web.Response(status=404)  # what Google and Outlook answer for a reset secret address
        if request.headers.get("If-None-Match") == feed.etag or (
            "If-None-Match" not in request.headers and request.headers.get("If-Modified-Since") == feed.last_modified
        ):
            return web.Response(status=304, headers={"ETag": feed.etag, "Last-Modified": feed.last_modified})
        return web.Response(
            body=feed.body,
            content_type="text/calendar",
            charset="utf-8",
            headers={"ETag": feed.etag, "Last-Modified": feed.last_modified},
        )
