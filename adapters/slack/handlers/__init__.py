"""Bolt listeners, registered once at start-up by :func:`register`, one module per surface: slash
commands and DMs (:mod:`.commands`), calendar files sent in the DM (:mod:`.files`), clicks
(:mod:`.clicks`), forms (:mod:`.forms`), the App Home (:mod:`.home`) and the app's lifecycle events
(:mod:`.lifecycle`). Each module's ``register(app, deps)`` attaches plain functions that take a
:class:`~adapters.slack.handlers.deps.Deps`.

Bolt runs with ``process_before_response=True``: the HTTP response leaves when the listener
returns, so a listener does only what the answer needs. A slash command or a DM to the app is one
INSERT into the durable inbox (:mod:`adapters.slack.inbox`) and an empty acknowledgement; the coach
runs after the ack and the answer follows through ``response_url``. Buttons and forms run the coach
before they answer (a click is one short transaction; a form may show field errors), unless it takes
longer than ``ack_deadline``: then Slack gets its acknowledgement and the answer follows. Web API
calls that merely *show* something (``views.open``, ``chat.update``, ``views.publish``) go to
:class:`Background`. Nudges go through the coach's outbox, never through tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from adapters.slack import translate
from adapters.slack.files import Downloads
from adapters.slack.handlers import clicks, commands, files, forms, home, lifecycle
from adapters.slack.handlers.deps import Background, CoachPort, Deps
from adapters.slack.handlers.profiles import Profiles
from adapters.slack.inbox import Inbox
from adapters.slack.store import Seen

__all__ = ["Background", "CoachPort", "Deps", "Profiles", "register"]

SURFACES = (commands, clicks, files, forms, home, lifecycle)


def register(
    app: AsyncApp,
    coach: CoachPort,
    *,
    command: str,
    seen: Seen,
    profiles: Profiles,
    background: Background,
    inbox: Inbox,
    on_uninstall: Callable[[str], Awaitable[None]] | None = None,
    ack_deadline: float = 2.0,
    files: Downloads | None = None,
) -> None:
    """Attach every DealCoach listener to ``app``. Call once, at start-up. (The arguments: see :class:`Deps`.)"""
    deps = Deps(coach, command, seen, profiles, background, inbox, on_uninstall, ack_deadline, files)
    for surface in SURFACES:
        surface.register(app, deps)
    app.error(on_error)


async def on_error(error: Exception, body: Any, logger: Any) -> BoltResponse | None:
    if isinstance(error, translate.PayloadError):
        logger.info("slack: rejected a payload: %s", error)
        return BoltResponse(status=400, body='{"error": "malformed request"}')
    logger.error("slack: listener failed: %s: %s", type(error).__name__, error, exc_info=error)
    return None
