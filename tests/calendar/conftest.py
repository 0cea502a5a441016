"""Calendar tests: the feeds as Google and Outlook publish them, a fixed "now", a loopback provider,
and a net under every test here — no socket may connect, and no name may be looked up, beyond
loopback, whatever the code under test does."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.calendar.feedserver import FeedServer, NotLoopback, loopback_only

FEEDS = Path(__file__).parent / "feeds"
NOW = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)  # Monday 08:00 in Berlin (CEST): the feeds are written around it
JANE = "jane@acme.com"


def feed(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@pytest.fixture(autouse=True)
def loopback_net(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            loopback_only(address[0])  # type: ignore[index]
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            loopback_only(address[0])  # type: ignore[index]
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if host not in (None, "localhost", "127.0.0.1", "::1"):
            raise NotLoopback(f"tests may not look up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


@pytest.fixture
async def provider() -> AsyncIterator[FeedServer]:
    server = await FeedServer().start()
    yield server
    await server.stop()
