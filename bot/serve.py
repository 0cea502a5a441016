"""``dealcoach serve``: the aiohttp server with its limits, and a graceful shutdown on SIGTERM/SIGINT.

Shutting down (what ``docker stop`` and every rolling deploy send): ``/readyz`` turns 503 at once, so load
balancers stop routing here, and no more nudges are claimed. Requests that still arrive are accepted for a
short while (Slack never retries a slash command: turning it away would lose it), then the server stops
listening, finishes in-flight requests, commands and sends, releases every claim it still holds (inbox and
outbox) so another replica takes them at once, and exits 0 — all within DEALCOACH_SHUTDOWN_SECONDS.

Limits: a connection must send its request headers within DEALCOACH_READ_TIMEOUT_SECONDS (and, checked by
``bot.web``, its body within as long again); at most DEALCOACH_MAX_CONNECTIONS are open at once, more get a
503 and are closed; running out of file descriptors is logged once a minute, not once per accept.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import signal
import time
from typing import Any

from aiohttp import web

from bot.app import build_runtime
from bot.config import Settings
from bot.web import build_web_app
from coaching import metrics

log = logging.getLogger("dealcoach")

# Of DEALCOACH_SHUTDOWN_SECONDS, the part spent still accepting requests after readiness turned 503
# (load balancers notice within a health-check interval or two); the rest finishes what was taken.
LISTEN_SHARE = 0.25
LISTEN_AT_MOST = 2.0

BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\ntoo many conns\n"
)


async def serve(settings: Settings) -> None:
    host = settings.host  # HOST [0.0.0.0]
    runtime = await build_runtime(settings)
    operations = settings.operations
    app = build_web_app(runtime)
    # keepalive_timeout also bounds how long a new connection may take to send its request headers
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=operations.read_timeout,
        shutdown_timeout=max(operations.shutdown_seconds * LISTEN_SHARE, 0.5),  # for requests still in flight
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    signals = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signals.set)
    fd_once_a_minute = _OncePerMinute()
    for handler in logging.getLogger().handlers:
        handler.addFilter(fd_once_a_minute)
    listener = await loop.create_server(
        _capped(runner, _connection_cap(operations.max_connections)), host, settings.port, reuse_address=True
    )
    log.info("DealCoach listening on http://%s:%s", host, settings.port)
    try:
        await signals.wait()
        signals.clear()
        runtime.begin_shutdown()  # /readyz: 503; no more nudges claimed
        listen = min(operations.shutdown_seconds * LISTEN_SHARE, LISTEN_AT_MOST)
        log.info(
            "stopping: accepting requests for %.1fs more, then finishing within %ss",
            listen,
            operations.shutdown_seconds,
        )
        try:  # a second signal: stop listening now
            await asyncio.wait_for(signals.wait(), listen)
        except TimeoutError:
            pass
    finally:
        listener.close()  # no new connections; the open ones finish their requests
        try:
            # runner.cleanup: in-flight requests, the Slack inbox's drain (on_shutdown), then the dispatcher's
            # in-flight sends and the release of every claim (cleanup), then the database is closed
            await asyncio.wait_for(runner.cleanup(), runtime.shutdown.remaining() + runtime.shutdown.RESERVE - 0.25)
        except TimeoutError:
            log.error("stopping: not done within DEALCOACH_SHUTDOWN_SECONDS; claims left wait for their lease")
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("stopped")


def _connection_cap(configured: int) -> int:
    """DEALCOACH_MAX_CONNECTIONS, lowered to leave file descriptors for the database and Slack clients."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and configured > soft - 64:
        cap = max(soft - 64, 1)
        log.warning("DEALCOACH_MAX_CONNECTIONS=%s: only %s file descriptors; using %s", configured, soft, cap)
        return cap
    return configured


def _capped(runner: web.AppRunner, cap: int) -> Any:
    """The server's protocol factory, answering 503 (and closing) past ``cap`` open connections."""
    server = runner.server
    assert server is not None  # after runner.setup()
    refused = _OncePerMinute()

    def factory() -> asyncio.BaseProtocol:
        if len(server.connections) >= cap:
            metrics.CONNECTIONS_REFUSED.inc()
            if refused.allow():
                log.warning("%s connections open: refusing more with 503 (DEALCOACH_MAX_CONNECTIONS)", cap)
            return _Busy()
        return server()

    return factory


class _Busy(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(BUSY)  # type: ignore[attr-defined]
        transport.close()


class _OncePerMinute(logging.Filter):
    """Lets one "out of file descriptors" record through per minute: asyncio logs one per failed accept,
    the database and HTTP clients one per failed connect, thousands a second at the limit."""

    def __init__(self, every: float = 60.0) -> None:
        super().__init__()
        self.every = every
        self._last = -every

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        return True

    def filter(self, record: logging.LogRecord) -> bool:
        return not _out_of_descriptors(record) or self.allow()


def _out_of_descriptors(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
        return True
    return "Too many open files" in record.getMessage()
