"""DealCoach as a Slack app: Bolt's ``AsyncApp`` mounted on DealCoach's own aiohttp server.

``setup(web_app, settings, coach, sessions)`` adds ``POST /slack/events`` (commands, interactivity
and events on one URL) and, for multi-workspace installs, ``GET /slack/install`` and
``GET /slack/oauth_redirect``; it returns the :class:`~adapters.slack.sender.SlackSender` the
scheduler uses for nudges. It also ties the command inbox's worker (:mod:`adapters.slack.inbox`) to
the aiohttp app: started on start-up, stopped on cleanup. Nothing here is module-global: every app
gets its own Bolt app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.oauth.installation_store.async_cacheable_installation_store import (
    AsyncCacheableInstallationStore,
)
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.slack import handlers, inbound, sender, store
from adapters.slack.files import Downloads
from adapters.slack.inbox import Entry, Inbox, InboxConfig, command_key
from bot.config import ConfigError, Settings
from coaching import correlation
from coaching.commands import Actor
from coaching.ports import Sender

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"

# Least privilege; docs/slack.md says why each is needed. Keep in step with deploy/slack/manifest.yaml.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "users:read",
    "users:read.email",
    "im:history",
    "app_mentions:read",
    "files:read",
    "files:write",
)


class SlackAdapter:
    """Everything one running Slack integration holds: the Bolt app, stores, caches, the sender."""

    def __init__(
        self,
        settings: Settings,
        coach: handlers.CoachPort,
        sessions: async_sessionmaker[AsyncSession],
        *,
        min_interval: float = 1.0,
        ack_deadline: float = 2.0,
        inbox: InboxConfig | None = None,
    ):
        if not settings.slack_signing_secret:
            raise ConfigError("SLACK_SIGNING_SECRET is required for the Slack endpoint")
        # Bolt ignores ``token=`` when given a client, so a single workspace's token goes on the client.
        single = settings.slack_bot_token if not settings.slack_client_id else None
        self.client = sender.make_client(settings.slack_api_url, token=single)
        self.installation_store: store.EncryptedInstallationStore | None = None
        self._cached_store: AsyncCacheableInstallationStore | None = None
        app_kwargs: dict[str, Any] = {}
        if settings.slack_client_id:
            app_kwargs, tokens = self._installed(settings, sessions)
        elif settings.slack_bot_token:
            tokens = sender.StaticToken(settings.slack_bot_token)
        else:
            raise ConfigError("set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID (OAuth install)")

        self.bolt = AsyncApp(
            name="dealcoach",
            signing_secret=settings.slack_signing_secret,
            client=self.client,
            process_before_response=True,
            logger=_bolt_log(),
            **app_kwargs,
        )
        self._signing_secret = settings.slack_signing_secret
        self.bolt.middleware(_command_key)  # after Bolt's own: the request is signed and its body parsed
        self.seen = store.Seen(sessions)
        self.profiles = handlers.Profiles(coach)
        self.background = handlers.Background()
        self.sender = sender.SlackSender(self.client, tokens, min_interval=min_interval)
        self.inbox = Inbox(
            sessions,
            coach,
            actor=self._actor,
            post_message=self._post_message,
            post_ephemeral=self._post_ephemeral,
            config=inbox,
        )
        self.files = Downloads(settings.slack_api_url)
        handlers.register(
            self.bolt,
            coach,
            command=settings.slack_command,
            seen=self.seen,
            profiles=self.profiles,
            background=self.background,
            inbox=self.inbox,
            on_uninstall=self._uninstalled,
            ack_deadline=ack_deadline,
            files=self.files,
        )

    def _installed(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> tuple[dict[str, Any], sender.TokenSource]:
        """OAuth mode (many workspaces): Bolt's authorize step and OAuth flow over the encrypted installation
        store, and the workspaces' bot tokens from it."""
        if not (settings.slack_client_secret and settings.secret_key):
            raise ConfigError(
                "SLACK_CLIENT_ID needs SLACK_CLIENT_SECRET and DEALCOACH_SECRET_KEY (tokens are stored encrypted)"
            )
        engine = store.engine_of(sessions)
        self.installation_store = store.EncryptedInstallationStore(
            client_id=settings.slack_client_id,
            engine=engine,
            cipher=store.TokenCipher(settings.secret_key),
        )
        # The authorize step: installation rows cached in memory, auth.test results cached too.
        self._cached_store = AsyncCacheableInstallationStore(self.installation_store)
        authorize = AsyncInstallationStoreAuthorize(
            logger=log,
            installation_store=self._cached_store,
            bot_only=True,
            cache_enabled=True,
            client=self.client,
        )
        oauth_settings = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            scopes=list(BOT_SCOPES),
            installation_store=self._cached_store,
            installation_store_bot_only=True,
            state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine),
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
        )
        return {"authorize": authorize, "oauth_settings": oauth_settings}, _InstalledTokens(self._cached_store)

    @property
    def oauth(self) -> bool:
        return self.installation_store is not None

    async def _actor(self, entry: Entry) -> Actor:
        """Who typed an inbox row: the time zone from the profile cache, else one ``users.info``."""
        client = _TokenClient(self.client, lambda: self.sender.token(entry.team))
        return await self.profiles.actor(client, entry.team, entry.user, display_name=entry.user_name)

    async def _post_message(self, team: str, channel: str, payload: Any) -> None:
        await self.sender.call(team, "chat.postMessage", channel=channel, **payload)

    async def _post_ephemeral(self, team: str, channel: str, user: str, payload: Any) -> None:
        await self.sender.call(team, "chat.postEphemeral", channel=channel, user=user, **payload)

    async def _uninstalled(self, team: str) -> None:
        await self.inbox.forget_team(team)
        if self._cached_store is not None:
            await self._cached_store.async_delete_all(enterprise_id=None, team_id=team)

    async def receive(self, request: web.Request) -> web.Response:
        """``POST /slack/events`` in the inbox's request context: a slash command that could not be stored
        is answered in its acknowledgement (200, saying it was not saved), never with a 500."""
        with Inbox.request() as delivery:
            response = await self.handle_events(request)
        if delivery.answer is not None:
            return web.json_response(delivery.answer)
        return response

    async def handle_events(self, request: web.Request) -> web.Response:
        """``POST /slack/events``: checked by :mod:`~adapters.slack.inbound` (signature, then the body's
        parse and shape: 401/400/413 with a short reason), then Bolt, then Bolt's aiohttp response."""
        with correlation.request():
            if request.content_length is not None and request.content_length > inbound.MAX_BODY:
                return _rejected(413, "body too large")
            raw = await request.read()
            try:
                body = inbound.read(self._signing_secret, raw, request.headers)
            except inbound.Rejected as rejected:
                return _rejected(rejected.status, rejected.reason)
            bolt_request = inbound.SlackRequest(
                raw_body=raw.decode("utf-8", "replace"),
                body=body,
                query=request.query_string,
                headers=request.headers,
            )
            # Bolt checks the signature again, then runs the listener (handlers.register)
            bolt_response = await self.bolt.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

    async def handle_oauth(self, request: web.Request) -> web.Response:
        """``GET /slack/install`` and ``GET /slack/oauth_redirect`` through Bolt's OAuth flow."""
        flow = self.bolt.oauth_flow
        if flow is None:  # pragma: no cover - routes exist only in OAuth mode
            raise web.HTTPNotFound()
        bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=dict(request.headers))
        with correlation.request():
            if request.path == flow.install_path:
                bolt_response = await flow.handle_installation(bolt_request)
            else:
                bolt_response = await flow.handle_callback(bolt_request)
            return await to_aiohttp_response(bolt_response)

    async def close(self, grace: float = 0.0) -> None:
        """Answer what the inbox already took within ``grace`` seconds, release the rest, then finish the
        display work under way."""
        await self.inbox.stop(grace)
        await self.background.drain()
        await self.files.close()
        await self.sender.close()


def _bolt_log() -> logging.Logger:
    """Bolt's logger, without its warning about a token it does not use (below)."""
    bolt_log = logging.getLogger("dealcoach.slack.bolt")
    bolt_log.addFilter(_same_token_warning)
    return bolt_log


def _same_token_warning(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and, given our client as well, warns
    that the token "will be unused"; the client carries that very token, so the warning only alarms."""
    return warning_client_prioritized_and_token_skipped() not in record.getMessage()


_REJECTIONS = {401: "invalid request", 413: "request too large"}


async def _command_key(body: dict[str, Any], req: AsyncBoltRequest, next: Callable[[], Awaitable[Any]]) -> Any:
    """A Bolt middleware: a slash command's dedupe key for the inbox (same trigger_id or same signed body)."""
    if body.get("command"):
        stamp = (req.headers.get("x-slack-request-timestamp") or [None])[0]
        Inbox.set_key(command_key(str(body.get("team_id") or ""), body.get("trigger_id"), stamp, req.raw_body))
    return await next()


def _rejected(status: int, why: str) -> web.Response:
    log.info("slack: rejected a request to %s (%s): %s", EVENTS_PATH, status, why)
    return web.json_response({"error": _REJECTIONS.get(status, "malformed request")}, status=status)


class _TokenClient:
    """The one Web API call :class:`~adapters.slack.handlers.Profiles` makes (``users.info``), with
    the workspace's bot token (looked up only when the profile is not cached): the inbox worker has
    no Bolt context that carries a token."""

    def __init__(self, client: Any, token: Callable[[], Awaitable[str]]):
        self._client = client
        self._token = token

    async def users_info(self, *, user: str, include_locale: bool | None = None) -> Any:
        return await self._client.users_info(user=user, include_locale=include_locale, token=await self._token())


class _InstalledTokens:
    """OAuth mode: a workspace's bot token from the (cached, encrypted) installation store."""

    def __init__(self, installations: AsyncCacheableInstallationStore):
        self._installations = installations

    async def bot_token(self, team: str) -> str | None:
        bot = await self._installations.async_find_bot(enterprise_id=None, team_id=team)
        return bot.bot_token if bot is not None else None


SLACK = web.AppKey("dealcoach.slack", SlackAdapter)
NOT_INSTALLED = "slack: a request arrived before the app is installed: set SLACK_BOT_TOKEN and restart"


def setup_verification(web_app: web.Application, settings: Settings) -> None:
    """Only the signing secret is set (the app is created, not installed yet): ``POST /slack/events`` answers
    Slack's URL verification, so the admin can verify the request URL before installing the app and copying its
    bot token. Every request is signature-checked first; anything but the verification gets a 503."""
    secret = settings.slack_signing_secret
    if not secret:
        raise ConfigError("SLACK_SIGNING_SECRET is required for the Slack endpoint")

    async def handle(request: web.Request) -> web.Response:
        with correlation.request():
            if request.content_length is not None and request.content_length > inbound.MAX_BODY:
                return _rejected(413, "body too large")
            raw = await request.read()
            try:
                body = inbound.read(secret, raw, request.headers)
            except inbound.Rejected as rejected:
                return _rejected(rejected.status, rejected.reason)
            if body.get("type") == "url_verification":
                log.info("slack: answered Slack's URL verification")
                return web.json_response({"challenge": body["challenge"]})
            log.warning(NOT_INSTALLED)
            return web.json_response({"error": "DealCoach is not installed in this workspace yet"}, status=503)

    web_app.router.add_post(EVENTS_PATH, handle)
    log.info(
        "slack: POST %s answers Slack's URL verification; install the app, then set SLACK_BOT_TOKEN "
        "(or SLACK_CLIENT_ID for OAuth) and restart",
        EVENTS_PATH,
    )


def setup(
    web_app: web.Application,
    settings: Settings,
    coach: Any,
    sessions: async_sessionmaker[AsyncSession],
    *,
    min_interval: float = 1.0,
    ack_deadline: float = 2.0,
    inbox: InboxConfig | None = None,
    start_inbox: bool = True,
    grace: Callable[[], float] | None = None,
) -> Sender:
    """Mount Slack on ``web_app`` and return the Slack :class:`~coaching.ports.Sender`.

    ``min_interval``: seconds between two messages to one channel; ``ack_deadline``: seconds the slash
    form waits for the coach before closing the modal (the answer then follows as a DM); ``inbox``:
    the command inbox's lease, sweep and retry settings; ``start_inbox=False`` leaves its worker
    stopped (tests of what survives a crash start it by hand: ``app[SLACK].inbox.start()``); ``grace()``:
    seconds left, on shutdown, to answer the commands already taken (DEALCOACH_SHUTDOWN_SECONDS).
    """
    adapter = SlackAdapter(settings, coach, sessions, min_interval=min_interval, ack_deadline=ack_deadline, inbox=inbox)
    web_app[SLACK] = adapter
    web_app.router.add_post(EVENTS_PATH, adapter.receive)
    if adapter.oauth:
        web_app.router.add_get(INSTALL_PATH, adapter.handle_oauth)
        web_app.router.add_get(REDIRECT_PATH, adapter.handle_oauth)

    async def _start(_app: web.Application) -> None:
        await adapter.sender.open()
        if start_inbox:
            await adapter.inbox.start()

    async def _close(_app: web.Application) -> None:
        # on_shutdown, before the cleanup contexts unwind (bot.web's disposes the database engine): the
        # inbox worker and the display tasks still write to the database while they finish
        await adapter.close(grace() if grace is not None else 0.0)

    web_app.on_startup.append(_start)
    web_app.on_shutdown.append(_close)
    mode = "OAuth (multi-workspace)" if adapter.oauth else "single workspace"
    log.info("slack: %s at POST %s, command %s", mode, EVENTS_PATH, settings.slack_command)
    return adapter.sender


__all__ = ["SLACK", "InboxConfig", "SlackAdapter", "setup", "setup_verification"]
