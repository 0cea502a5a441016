"""Outbound Bot Framework connector clients, built once and reused, and inbound auth that answers 401.

The stock ``CloudAdapter`` asks its ``BotFrameworkAuthentication`` for a fresh ``ConnectorFactory`` on
every turn, and that factory builds a fresh ``ConnectorClient`` (msrest configuration, a ``requests``
session with its retry policy, new app credentials whose token cache starts empty) and a fresh user
token client. That is several milliseconds of CPU per activity, a thread-pool hop per HTTP call, and —
with an app id — a new AAD token request per turn.

:class:`ReusingAuthentication` wraps the SDK's own authentication (it *is* a ``BotFrameworkAuthentication``,
the seam ``CloudAdapter`` takes) and hands out :class:`PooledConnectorFactory` objects that return one
client per (app id, service URL, audience). The first client for a key is still built by the SDK's own
factory so credentials come from the configured ``ServiceClientCredentialsFactory``; the pooled client
then sends through one shared ``aiohttp`` session with no hidden retries (429/5xx surface to the caller,
which retries through DealCoach's outbox), and fetches AAD tokens off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import jwt
import requests
from botbuilder.schema import Activity
from botframework.connector import BotFrameworkConnectorConfiguration
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    EmulatorValidation,
    GovernmentConstants,
    JwtTokenExtractor,
    SkillValidation,
    UserTokenClient,
)
from botframework.connector.skills import BotFrameworkClient
from msrest import Serializer
from msrest.exceptions import ClientRequestError, SerializationError
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Request, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import Model
from msrest.universal_http.aiohttp import AioHttpClientResponse

log = logging.getLogger(__name__)

USER_AGENT = "DealCoach (BotBuilder Python; pooled connector)"


class AuthUnavailable(RuntimeError):
    """Token validation could not run (OpenID metadata unreachable): answer 503, not 401."""


class ServiceUrlRefused(PermissionError):
    """A connector was asked for a ``serviceUrl`` that is not on the allow-list (see trust.py)."""


class _SharedSessionSender(AsyncHTTPSender):
    """msrest pipeline sender over one shared aiohttp session; no retries, body loaded eagerly."""

    def __init__(self, pool: ConnectorPool) -> None:
        self._pool = pool

    async def __aenter__(self) -> _SharedSessionSender:
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        return None  # the session belongs to the pool, not to one client

    async def send(self, request: Request, **config: Any) -> Response:
        http_request = request.http_request
        self._pool.requests += 1
        try:
            raw = await self._pool.session().request(
                http_request.method,
                http_request.url,
                headers=dict(http_request.headers),
                data=http_request.data,
            )
            response = AioHttpClientResponse(http_request, raw)
            await response.load_body()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ClientRequestError(f"{http_request.method} {http_request.url}: {error!r}", error) from error
        return Response(request, response)


class _PooledPipeline(AsyncPipeline):
    """User agent → bearer token → JSON deserialisation → log → the shared aiohttp session.

    (The SDK's ``AsyncBfPipeline`` would do, but it inserts a credentials *policy* object that msrest's
    client constructor then also chains into its own default pipeline, rewiring ``next`` to ``requests``.)
    """

    def __init__(self, config: BotFrameworkConnectorConfiguration) -> None:
        policies = [
            config.user_agent_policy,
            _BearerPolicy(config.credentials),
            RawDeserializer(),
            config.http_logger_policy,
        ]
        super().__init__(policies, config.sender)


class _BearerPolicy(AsyncHTTPPolicy):
    """Adds ``Authorization: Bearer …`` from SDK app credentials; msal's blocking call runs in a thread.

    Anonymous credentials (emulator mode) add nothing, as the SDK does.
    """

    def __init__(self, credentials: AppCredentials | Any) -> None:
        super().__init__()
        self._credentials = credentials
        app_id = getattr(credentials, "microsoft_app_id", None)
        self._anonymous = not app_id or app_id == AuthenticationConstants.ANONYMOUS_SKILL_APP_ID

    async def send(self, request: Request, **kwargs: Any) -> Response:
        if not self._anonymous:
            token = await asyncio.to_thread(self._credentials.get_access_token)
            request.http_request.headers["Authorization"] = f"Bearer {token}"
        return await self.next.send(request, **kwargs)


_PLAIN_KINDS = {"str": str, "bool": bool, "int": int, "float": float}  # written as they are (not subclasses: enums)


class _CardPassThroughSerializer(Serializer):
    """msrest's serializer, minus two walks that a reply built by the SDK does not need.

    msrest serialises an attachment's ``content`` (type ``object``) node by node — for an Adaptive Card
    that is most of the CPU a reply costs. DealCoach's cards are plain dicts of JSON values, so the
    envelope goes through msrest as usual and the card dicts are put back into the result unchanged.
    And ``Serializer.body`` first runs the *deserializer* over a model it is given ("just in case" a
    nested value is a dict) and then validates it; an ``Activity`` here is built from the SDK's own
    models, so it goes straight to ``_serialize`` — together about a third of what sending a reply cost
    (one that does hold a dict where a model belongs takes msrest's whole way after all).
    """

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if data_type != "Activity" or not isinstance(data, Activity):
            return super().body(data, data_type, **kwargs)
        attachments = data.attachments
        if not attachments or not all(isinstance(a.content, dict) for a in attachments):
            return self._built(data, data_type, **kwargs)
        contents = [a.content for a in attachments]
        try:
            for attachment in attachments:
                attachment.content = None
            serialized = self._built(data, data_type, **kwargs)
        finally:
            for attachment, content in zip(attachments, contents, strict=True):
                attachment.content = content
        for item, content in zip(serialized["attachments"], contents, strict=True):
            item["content"] = content
        return serialized

    def _built(self, data: Activity, data_type: str, **kwargs: Any) -> Any:
        try:
            return self._plain(data)
        except SerializationError:  # a dict where a model belongs: msrest's deserializer turns it into one
            return super().body(data, data_type, **kwargs)

    def _plain(self, model: Model) -> dict[str, Any]:
        """What ``_serialize`` writes for a schema model, written directly: the Bot Framework schema has no
        flattened keys, read-only fields, subtypes or additional properties, so a model is its non-None
        attributes under their JSON keys. Leaves that need converting (dates, enums, ``object`` values, bytes)
        still go through msrest's own ``serialize_data``; tests/teams/test_wire compares both ways' bodies."""
        out: dict[str, Any] = {}
        for attr, spec in type(model)._attribute_map.items():
            value = getattr(model, attr)
            if value is not None:
                out[spec["key"]] = self._value(value, spec["type"])
        return out

    def _value(self, value: Any, kind: str) -> Any:
        if type(value) is _PLAIN_KINDS.get(kind):
            return value
        if kind[0] == "[" and isinstance(value, list):
            item = kind[1:-1]
            return [None if v is None else self._value(v, item) for v in value]
        model = self.dependencies.get(kind)
        if isinstance(model, type) and issubclass(model, Model):
            if not isinstance(value, Model):
                raise SerializationError(f"{type(value).__name__} where {kind} belongs")
            return self._plain(value)
        return self.serialize_data(value, kind)


class ConnectorPool:
    """Connector clients by (app id, service URL, audience), least recently used dropped past ``size``."""

    def __init__(self, *, size: int = 256, timeout: float = 20.0, allows: Callable[[str], bool] | None = None) -> None:
        self.allows = allows or (lambda _url: True)  # where replies may go (trust.ServiceUrls.allows)
        self._clients: OrderedDict[tuple[str, str, str], ConnectorClient] = OrderedDict()
        self._size = size
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.built = 0  # how many clients were built (tests and the bench read it)
        self.requests = 0  # how many HTTP requests went through the shared session

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(limit=100, limit_per_host=50),
            )
        return self._session

    def get(self, key: tuple[str, str, str]) -> ConnectorClient | None:
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
        return client

    def build(self, key: tuple[str, str, str], service_url: str, credentials: Any) -> ConnectorClient:
        config = BotFrameworkConnectorConfiguration(
            credentials, service_url, pipeline_type=_PooledPipeline, sender=_SharedSessionSender(self)
        )
        client = ConnectorClient(None, custom_configuration=config)
        client.config.add_user_agent(USER_AGENT)
        client.conversations._serialize = _CardPassThroughSerializer(client._serialize.dependencies)
        self._clients[key] = client
        self.built += 1
        while len(self._clients) > self._size:
            self._clients.popitem(last=False)
        return client

    async def close(self) -> None:
        self._clients.clear()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def app_id_of(claims_identity: ClaimsIdentity | None) -> str:
    """The bot's app id as the SDK reads it: ``aud`` claim, else ``appid``; "" when anonymous."""
    if claims_identity is None:
        return ""
    app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return app_id or ""


class PooledConnectorFactory(ConnectorFactory):
    def __init__(self, pool: ConnectorPool, inner: ConnectorFactory, app_id: str, default_audience: str):
        self._pool = pool
        self._inner = inner
        self._app_id = app_id
        self._default_audience = default_audience  # what the SDK uses when no audience is given

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        if not self._pool.allows(service_url):  # also for proactive sends from a reference stored long ago
            raise ServiceUrlRefused("serviceUrl is not on the allow-list; nothing was sent")
        key = (self._app_id, service_url, audience or self._default_audience)
        client = self._pool.get(key)
        if client is None:
            # Let the SDK make the first one so credentials come from its configured factory.
            template = await self._inner.create(service_url, audience)
            client = self._pool.get(key) or self._pool.build(key, service_url, template.config.credentials)
        return client


def _key_id(auth_header: str) -> str | None:
    """The ``kid`` a bearer token says it was signed with (unverified: it only picks the key to verify with)."""
    try:
        kid = jwt.get_unverified_header(auth_header.split(" ", 1)[-1]).get("kid")
    except jwt.PyJWTError:
        return None  # not a JWT: the SDK rejects it before it needs any key
    return kid if isinstance(kid, str) else None


class SigningKeys:
    """Keeps the SDK's cached OpenID signing keys fresh — fetched in a thread, not on the event loop.

    The SDK refreshes them with blocking ``requests`` calls from inside token validation (once a day,
    and on the first request), which would stall every other request on this server (Slack acks
    included) for as long as the fetch takes. This refreshes the same cache entries off the loop first.
    """

    MAX_AGE = timedelta(hours=23)  # the SDK refreshes after 24 h: stay ahead of it
    # A token signed with a key the cache does not hold (Microsoft rotated its keys): the SDK would refetch on the
    # loop after an hour, and until then fail on it (IndexError in _find) — so the keys are fetched here, at most
    # this often per metadata URL.
    UNKNOWN_KEY_RETRY = timedelta(minutes=1)

    def __init__(self, channel_url: str, emulator_url: str, *, timeout: float = 10.0) -> None:
        self._channel_url = channel_url
        self._emulator_url = emulator_url
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._looked_for: dict[str, datetime] = {}  # when each URL's keys were last fetched for an unknown kid

    def url_for(self, auth_header: str) -> str:
        """Which metadata the SDK will check this token against (emulator and skill tokens differ)."""
        try:
            emulator = EmulatorValidation.is_token_from_emulator(auth_header)
            other = emulator or SkillValidation.is_skill_token(auth_header)
        except Exception:  # not a JWT at all: the SDK rejects it before it needs any key
            other = False
        return self._emulator_url if other else self._channel_url

    def _stale(self, url: str, kid: str | None = None) -> tuple[Any, bool] | None:
        """The SDK's cache entry for ``url`` when it must be fetched, and whether for the token's unknown key."""
        entry = JwtTokenExtractor.get_open_id_metadata(url)
        now = datetime.now()  # naive, like the SDK
        if entry.last_updated < now - self.MAX_AGE:
            return entry, False
        if kid is None or kid in {key.get("kid") for key in entry.keys or ()}:
            return None
        if now - self._looked_for.get(url, datetime.min) <= self.UNKNOWN_KEY_RETRY:
            return None  # looked for one a moment ago: a made-up kid fetches nothing more
        return entry, True

    def _fetch(self, entry: Any) -> None:
        metadata = requests.get(entry.url, timeout=self._timeout)
        metadata.raise_for_status()
        keys = requests.get(metadata.json()["jwks_uri"], timeout=self._timeout)
        keys.raise_for_status()
        entry.keys = keys.json()["keys"]
        entry.last_updated = datetime.now()

    async def ensure_fresh(self, auth_header: str) -> None:
        url, kid = self.url_for(auth_header), _key_id(auth_header)
        if self._stale(url, kid) is None:
            return
        async with self._lock:
            stale = self._stale(url, kid)  # another request may have refreshed it meanwhile
            if stale is None:
                return
            entry, unknown = stale
            if unknown:
                self._looked_for[url] = datetime.now()
            try:
                await asyncio.to_thread(self._fetch, entry)
            except (requests.RequestException, ValueError, KeyError) as error:
                raise AuthUnavailable(f"cannot fetch signing keys from {url}: {error}") from error

    @classmethod
    def for_config(cls, config: Any) -> SigningKeys:
        """The OpenID metadata URLs the SDK validates against, for this configuration."""
        gov = getattr(config, "CHANNEL_SERVICE", None) == GovernmentConstants.CHANNEL_SERVICE
        constants = GovernmentConstants if gov else AuthenticationConstants
        return cls(
            getattr(config, "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", None)
            or constants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
            getattr(config, "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL", None)
            or constants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        )


class ReusingAuthentication(BotFrameworkAuthentication):
    """Delegates to the SDK's authentication; pools connectors and turns bad tokens into PermissionError."""

    def __init__(
        self, inner: BotFrameworkAuthentication, pool: ConnectorPool, *, keys: SigningKeys | None = None
    ) -> None:
        self._inner = inner
        self._pool = pool
        self._keys = keys  # None: no app id, nothing to validate
        self._user_token_clients: dict[str, UserTokenClient] = {}
        self._audience = inner.get_originating_audience() or ""

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        if self._keys is not None and auth_header:
            await self._keys.ensure_fresh(auth_header)
        try:
            result = await self._inner.authenticate_request(activity, auth_header)
        except PermissionError:
            raise
        except requests.RequestException as error:
            raise AuthUnavailable(f"cannot fetch Bot Framework signing keys: {error}") from error
        except Exception as error:  # a malformed token makes PyJWT and the SDK raise all sorts of things
            raise PermissionError(f"invalid token: {type(error).__name__}: {error}") from error
        if result.connector_factory is not None:
            result.connector_factory = PooledConnectorFactory(
                self._pool, result.connector_factory, app_id_of(result.claims_identity), self._audience
            )
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        inner = self._inner.create_connector_factory(claims_identity)
        return PooledConnectorFactory(self._pool, inner, app_id_of(claims_identity), self._audience)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # DealCoach never signs users in, but the adapter asks for one per turn: build it once per app id.
        app_id = app_id_of(claims_identity)
        client = self._user_token_clients.get(app_id)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._user_token_clients[app_id] = client
        return client

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)
