"""``POST /api/messages``: aiohttp request → checks → ``CloudAdapter.process_activity`` → aiohttp response.

Before the SDK sees a request: in emulator mode the client must be on this machine (403); the body must
be JSON (415/400) and a well-formed activity (:mod:`adapters.teams.inbound`, 400 with a fixed message);
its ``serviceUrl`` must be one DealCoach may send replies to (:mod:`adapters.teams.trust`, 403); and the
bearer token must be valid (401, or 503 when the signing keys cannot be fetched). A failure inside the
turn is logged and answered 201 (an invoke: 200) — never 5xx for something a client sent, which would
also make the channel deliver it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botbuilder.core import Bot, serializer_helper

from adapters.teams import inbound
from adapters.teams.connector import AuthUnavailable
from adapters.teams.trust import ServiceUrls, is_loopback_host

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    adapter: Any  # CloudAdapter
    bot: Bot
    service_urls: ServiceUrls
    loopback_clients: bool  # emulator mode: only clients on this machine


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)


def _checked(endpoint: Endpoint, raw: bytes) -> Any:
    """The activity, or the response that refuses it."""
    try:
        activity = inbound.decode(raw)
    except inbound.BadActivity as error:
        return _problem(400, str(error))
    if not endpoint.service_urls.allows(activity.service_url):
        log.warning("teams: an activity named a serviceUrl that is not allowed; refused")
        return _problem(403, "serviceUrl not allowed")
    return activity


async def _authenticated(endpoint: Endpoint, request: web.Request, activity: Any) -> Any:
    # None, not "", for a missing header: the SDK's "no token" check is `is None` on some paths.
    auth_header = request.headers.get("Authorization") or None
    try:
        return await endpoint.adapter.bot_framework_authentication.authenticate_request(activity, auth_header)
    except PermissionError as error:
        log.info("teams: unauthorized request to /api/messages: %s", error)
        return _problem(401, "unauthorized")
    except AuthUnavailable as error:
        log.error("teams: %s", error)
        return _problem(503, "cannot validate the token right now")


async def _turn(endpoint: Endpoint, authenticated: Any, activity: Any) -> web.Response:
    try:
        invoke_response = await endpoint.adapter.process_activity(authenticated, activity, endpoint.bot.on_turn)
    except Exception:
        log.exception("teams: turn failed for a %s activity", activity.type)
        invoke_response = None
    if activity.type == "invoke":
        status = invoke_response.status if invoke_response and 200 <= invoke_response.status < 300 else 200
        body = invoke_response.body if invoke_response else None
        if body is not None and hasattr(body, "serialize"):  # an SDK model rather than JSON already
            body = serializer_helper(body)
        return web.json_response(body, status=status)
    return web.Response(status=201)


async def handle(endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
    if endpoint.loopback_clients and not is_loopback_host(request.remote):
        return _problem(403, "emulator mode accepts requests from this machine only")
    if request.content_type != "application/json":
        return _problem(415, "Content-Type must be application/json")
    checked = _checked(endpoint, await request.read())
    if isinstance(checked, web.Response):
        return checked
    authenticated = await _authenticated(endpoint, request, checked)
    if isinstance(authenticated, web.Response):
        return authenticated
    return await _turn(endpoint, authenticated, checked)


def messages_handler(endpoint: Endpoint) -> Handler:
    async def api_messages(request: web.Request) -> web.StreamResponse:
        try:
            return await handle(endpoint, request)
        except web.HTTPException:
            raise  # aiohttp's own 4xx (a body over the size limit: 413)
        except Exception:  # something in a request nobody foresaw: still a short 4xx, never a 500
            log.exception("teams: could not handle a request to /api/messages")
            return _problem(400, "the activity could not be handled")

    return api_messages
