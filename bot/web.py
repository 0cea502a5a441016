"""DealCoach's one aiohttp application: platform endpoints, /healthz, /readyz, /metrics, and the scheduler."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from bot.app import Runtime
from bot.database import schema_revision, script_heads
from coaching import metrics
from coaching.metrics import REGISTRY
from coaching.models import Nudge

log = logging.getLogger(__name__)
RUNTIME = web.AppKey("runtime", Runtime)
try:  # the Slack adapter's app key, to read its inbox backlog when it is mounted
    from adapters.slack import SLACK as SLACK_KEY
except ImportError:  # pragma: no cover
    SLACK_KEY = None

# which platform a request path belongs to, for the acknowledgement-latency histogram
SURFACES = (("/slack/", "slack"), ("/api/messages", "teams"))


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and its event loop answers (liveness: restart it if this fails)."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Send traffic here? Not while shutting down, nor without a reachable database at the schema's head."""
    runtime = request.app[RUNTIME]
    if runtime.shutdown.started:
        return web.json_response({"status": "stopping"}, status=503)
    try:
        async with runtime.engine.connect() as connection:
            revision = await connection.run_sync(schema_revision)
    except Exception as problem:  # noqa: BLE001 - any failure here means "not ready", never a 500
        log.warning("readiness: database unreachable: %s", type(problem).__name__)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    if revision not in script_heads():
        return web.json_response({"status": "error", "schema": revision or "none", "expected": "head"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Prometheus exposition (``prometheus-client``); the backlog gauges are read from the database now."""
    runtime = request.app[RUNTIME]
    try:
        await _read_backlog(request.app, runtime)
    except Exception as problem:  # noqa: BLE001 - the other metrics still matter when the database does not answer
        log.warning("metrics: could not read the backlog: %s", type(problem).__name__)
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _read_backlog(app: web.Application, runtime: Runtime) -> None:
    now = runtime.clock.now()
    horizon = now + runtime.dispatcher.lease  # claimed rows are due at most one lease from now
    waiting = (Nudge.due_at <= now) & Nudge.claimed_by.is_(None)
    async with runtime.sessions() as session:
        row = (
            await session.execute(
                select(
                    func.count().filter(waiting | Nudge.claimed_by.is_not(None)),
                    func.min(Nudge.due_at).filter(waiting),
                ).where(Nudge.status == "pending", Nudge.due_at <= horizon)
            )
        ).one()
    metrics.OUTBOX_DEPTH.set(row[0])
    metrics.OUTBOX_OLDEST_SECONDS.set(_age(now, row[1]))
    slack = app.get(SLACK_KEY) if SLACK_KEY is not None else None
    if slack is not None:  # commands typed in Slack, not answered yet (adapters/slack/inbox.py)
        depth, oldest = await slack.inbox.backlog()
        metrics.INBOX_DEPTH.set(depth)
        metrics.INBOX_OLDEST_SECONDS.set(_age(now, oldest))


def _age(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0


def limits(read_timeout: float) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Every platform request: its body within ``read_timeout`` (else 408), and its latency observed."""

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]]):
        surface = next((name for prefix, name in SURFACES if request.path.startswith(prefix)), None)
        started = time.perf_counter()
        if request.body_exists:
            try:
                await asyncio.wait_for(request.read(), read_timeout)  # aiohttp keeps it for the handler
            except TimeoutError:
                return web.json_response({"error": "request body too slow"}, status=408)
        response = await handler(request)
        if surface is not None:
            metrics.ACK_SECONDS.labels(surface).observe(time.perf_counter() - started)
        return response

    return middleware


def build_web_app(runtime: Runtime, *, scheduler: bool = True) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024, middlewares=[limits(runtime.settings.operations.read_timeout)])
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    mount_adapters(app, runtime)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        if scheduler:
            runtime.start_scheduler()
        yield
        await runtime.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def mount_adapters(app: web.Application, runtime: Runtime) -> None:
    """Mount the Slack and Teams endpoints that are configured, and register their senders."""
    settings = runtime.settings
    if settings.slack_enabled:
        from adapters import slack

        runtime.senders["slack"] = slack.setup(
            app, settings, runtime.coach, runtime.sessions, grace=runtime.shutdown.remaining
        )
    elif settings.slack_signing_secret:  # created, not installed yet: let Slack verify the request URL
        from adapters import slack

        slack.setup_verification(app, settings)
    else:
        log.info("Slack is not configured (set SLACK_SIGNING_SECRET, then SLACK_BOT_TOKEN): no /slack/events")
    try:
        from adapters import teams
    except ImportError:  # the Teams adapter is not part of this build yet
        return
    sender = teams.setup(app, settings, runtime.coach)  # None, and a log line saying why, when not configured
    if sender is not None:
        runtime.senders["teams"] = sender
