"""The app's life in a workspace: profile changes, and uninstalls or revoked tokens (which delete the
workspace's data)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp

from adapters.slack import translate
from adapters.slack.handlers.deps import Deps, once_per_event

log = logging.getLogger(__name__)


async def on_user_change(deps: Deps, ack: Any, body: dict[str, Any], event: dict[str, Any]) -> None:
    user = event.get("user")
    if isinstance(user, Mapping):
        await deps.profiles.update(translate.team_of(body), user)


async def forget(deps: Deps, team: str) -> None:
    log.warning("slack: app removed from workspace %s; deleting its data", team)
    await deps.coach.forget_workspace("slack", team)
    deps.profiles.forget_team(team)
    if deps.on_uninstall is not None:
        await deps.on_uninstall(team)


async def on_uninstalled(deps: Deps, ack: Any, body: dict[str, Any]) -> None:
    await forget(deps, translate.installation_of(body))


async def on_tokens_revoked(deps: Deps, ack: Any, body: dict[str, Any], event: dict[str, Any]) -> None:
    if translate.bot_tokens_revoked(event):
        await forget(deps, translate.installation_of(body))


def register(app: AsyncApp, deps: Deps) -> None:
    app.event("user_change")(once_per_event(on_user_change, deps))
    app.event("app_uninstalled")(once_per_event(on_uninstalled, deps))
    app.event("tokens_revoked")(once_per_event(on_tokens_revoked, deps))
