"""DealCoach's one aiohttp application: platform endpoints, /healthz, /metrics, and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import func, select, text

from bot.app import Runtime
from coaching.models import Nudge

log = logging.getLogger(__name__)
RUNTIME = web.AppKey("runtime", Runtime)
try:  # the Slack adapter's app key, to read its inbox counters when it is mounted
    from adapters.slack import SLACK as SLACK_KEY
except ImportError:  # pragma: no cover
    SLACK_KEY = None


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        async with runtime.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format: what this process sent, and the outbox as the database sees it."""
    runtime = request.app[RUNTIME]
    lines = ["# TYPE dealcoach_nudges_total counter"]
    for outcome in ("sent", "merged", "retried", "failed", "skipped", "deferred"):
        lines.append(f'dealcoach_nudges_total{{outcome="{outcome}"}} {runtime.dispatcher.totals[outcome]}')
    slack = request.app.get(SLACK_KEY) if SLACK_KEY is not None else None
    if slack is not None:  # slash commands answered after the ack (adapters/slack/inbox.py)
        lines.append("# TYPE dealcoach_slack_commands_total counter")
        for outcome in ("delivered", "retried", "failed"):
            lines.append(f'dealcoach_slack_commands_total{{outcome="{outcome}"}} {getattr(slack.inbox, outcome)}')
    async with runtime.sessions() as session:
        rows = await session.execute(select(Nudge.status, func.count()).group_by(Nudge.status))
        lines.append("# TYPE dealcoach_outbox_nudges gauge")
        lines.extend(f'dealcoach_outbox_nudges{{status="{status}"}} {count}' for status, count in rows)
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def build_web_app(runtime: Runtime, *, scheduler: bool = True) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
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

        runtime.senders["slack"] = slack.setup(app, settings, runtime.coach, runtime.sessions)
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
