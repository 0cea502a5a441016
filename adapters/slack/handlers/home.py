"""The App Home tab: what is coming up and what is open, published when the tab opens or a click there
changes it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.handlers.deps import Deps, once_per_event, who
from coaching.commands import Actor
from coaching.messages import Message


async def publish_home(deps: Deps, client: AsyncWebClient, actor: Actor) -> None:
    parts: list[Message]
    home = getattr(deps.coach, "home", None)
    if home is not None:
        result = await home(actor)
        parts = list(result) if isinstance(result, list | tuple) else [result]
    else:
        parts = [await deps.coach.handle_text(actor, "list"), await deps.coach.handle_text(actor, "commitments")]
    await client.views_publish(user_id=actor.address.user, view=render.home_view(parts))


async def on_home_opened(deps: Deps, ack: Any, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
    if event.get("tab") != "home":
        return
    actor = await who(deps, client, body)
    if event.get("channel"):
        await deps.coach.upsert_user(actor, channel=event["channel"])
    deps.background.spawn(publish_home(deps, client, actor), "home")


def register(app: AsyncApp, deps: Deps) -> None:
    app.event("app_home_opened")(once_per_event(on_home_opened, deps))
