"""``POST /api/messages``: aiohttp request → ``CloudAdapter.process_activity`` → aiohttp response.

The stock ``CloudAdapter.process`` answers 500 to a request without a Content-Type, to malformed JSON
and to a malformed bearer token. This handler answers 415, 400 and 401 instead, and leaves the
authentication, turn and reply logic to the SDK.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from botbuilder.core import Bot, serializer_helper
from botbuilder.schema import Activity

from adapters.teams.connector import AuthUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)


def parse_activity(body: Any) -> Activity:
    """The Activity in a request body, or ValueError saying what is wrong with it."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object (a Bot Framework Activity)")
    if not isinstance(body.get("type"), str) or not body["type"]:
        raise ValueError("the activity has no type")
    for key in ("conversation", "from", "recipient"):
        if key in body and not isinstance(body[key], dict):
            raise ValueError(f"{key} must be an object")
    service_url = body.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url.startswith(("https://", "http://")):
        raise ValueError("the activity needs a serviceUrl (http or https)")
    if not isinstance(body.get("conversation"), dict) or not body["conversation"].get("id"):
        raise ValueError("the activity needs conversation.id")
    if body["type"] in ("message", "installationUpdate") and not (body.get("from") or {}).get("id"):
        raise ValueError(f"a {body['type']} activity needs from.id")
    try:
        return Activity().deserialize(body)
    except Exception as error:  # msrest raises DeserializationError and friends
        raise ValueError(f"not a valid activity: {error}") from error


def messages_handler(adapter: Any, bot: Bot) -> Handler:
    async def api_messages(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return _problem(415, "Content-Type must be application/json")
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _problem(400, "the body is not valid JSON")
        try:
            activity = parse_activity(body)
        except ValueError as error:
            return _problem(400, str(error))
        # None, not "", for a missing header: the SDK's "no token" check is `is None` on some paths.
        auth_header = request.headers.get("Authorization") or None
        try:
            auth = adapter.bot_framework_authentication
            authenticated = await auth.authenticate_request(activity, auth_header)
        except PermissionError as error:
            log.info("teams: unauthorized request to /api/messages: %s", error)
            return _problem(401, "unauthorized")
        except AuthUnavailable as error:
            log.error("teams: %s", error)
            return _problem(503, "cannot validate the token right now")
        try:
            invoke_response = await adapter.process_activity(authenticated, activity, bot.on_turn)
        except Exception:
            log.exception("teams: turn failed for a %s activity", activity.type)
            return _problem(500, "the bot failed to handle this activity")
        if invoke_response:
            return web.json_response(serializer_helper(invoke_response.body), status=invoke_response.status)
        return web.Response(status=201)

    return api_messages
