"""Fixtures for the Teams adapter tests: a fake connector, a fake token issuer, a Teams app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.teams import TEAMS, Teams, setup
from bot.config import Settings
from coaching.commands import Actor, Command
from coaching.messages import Button, Message, Section
from coaching.ports import Address, Personal

from .fakes import APP_ID, APP_PASSWORD, ISSUER, FakeConnector, FakeIssuer, FakeOneDrive


class FakeCoach:
    """Stands in for ``coaching.engine.Coach`` in the adapter's own tests: records what reached it."""

    def __init__(self) -> None:
        self.users: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.texts: list[tuple[Actor, str]] = []
        self.commands: list[Command] = []
        self.forgotten: list[Address] = []
        self.upserts = 0

    @staticmethod
    def _key(address: Address) -> tuple[str, str, str]:
        return (address.platform, address.workspace, address.user)

    async def handle_text(self, actor: Actor, text: str, *, shared: bool = False) -> Message:
        """Like the coach: ``help`` is for anyone; every other answer is the person's own (``Message.personal``),
        and asked ``shared``, it is not given (:class:`Personal`)."""
        reply = self._reply(actor, text)
        personal = text.removeprefix("/negotiation").split()[:1] != ["help"]
        if shared and personal:
            self.texts.pop()
            raise Personal("personal")
        return replace(reply, personal=personal)

    def _reply(self, actor: Actor, text: str) -> Message:
        self.texts.append((actor, text))
        words = text.removeprefix("/negotiation").split()
        if not words:
            return Message(text="Say `help` to see what I can do.", kind="error")
        if words[0] == "help":
            return Message(
                text="DealCoach commands",
                sections=(Section(lines=("log <counterpart> <when>", "list", "commitments")),),
            )
        if words[0] == "list":
            return Message(
                text="Your negotiations",
                sections=(Section(heading="#4 Acme", facts=(("When", "tomorrow 15:00"),)),),
                buttons=(
                    Button("Prep", "negotiation.prep", "prep 4", "primary"),
                    Button("Log outcome", "form.outcome", "done 4"),
                    Button("Add commitment", "form.commitment", "commit 4 ours "),
                ),
            )
        if words[0] == "reminder":
            return Message(
                text="In 30 minutes: #4 with Acme (15:00, video).",
                sections=(Section(heading="Personal connection first", lines=("Ask about the sailing trip.",)),),
                buttons=(
                    Button("Got it", "nudge.ok", "ok", "primary"),
                    Button("Snooze 10 min", "nudge.snooze", "later negotiation 4 10"),
                    Button("Prep brief", "negotiation.prep", "prep 99"),
                ),
                kind="precall",
                ref="negotiation:4",
            )
        if words[0] == "prep" and words[1:] == ["99"]:
            return Message(text="There is no negotiation #99.", kind="error")
        if words[0] == "boom":
            raise RuntimeError("engine exploded")
        return Message(text=f"ok: {' '.join(words)}")

    async def handle(self, command: Command, *, shared: bool = False) -> Message:
        if shared:
            raise Personal("personal")
        self.commands.append(command)
        return Message(text=f"Recorded {type(command).__name__}", personal=True)

    async def upsert_user(
        self, actor: Actor, *, channel: str | None = None, conversation_ref: dict[str, Any] | None = None
    ) -> None:
        self.upserts += 1
        user = self.users.setdefault(self._key(actor.address), {})
        user.update(display_name=actor.display_name, timezone=actor.timezone, channel=channel)
        if conversation_ref is not None:
            user["conversation_ref"] = conversation_ref

    async def conversation_ref(self, address: Address) -> dict[str, Any] | None:
        return self.users.get(self._key(address), {}).get("conversation_ref")

    async def export_file(self, address: Address) -> None:
        return None  # this stand-in stores no negotiations: nothing to export

    async def forget_user(self, address: Address) -> None:
        self.forgotten.append(address)
        self.users.pop(self._key(address), None)


@pytest.fixture
def fake_coach() -> FakeCoach:
    """A recording stand-in for the coach, for the adapter's edge cases (the real one is ``coach``)."""
    return FakeCoach()


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.close()


@pytest.fixture
async def onedrive() -> AsyncIterator[FakeOneDrive]:
    fake = await FakeOneDrive().start()
    yield fake
    await fake.close()


@pytest.fixture(scope="session")
def issuer() -> Iterator[FakeIssuer]:
    fake = FakeIssuer()
    yield fake
    fake.close()


class StaticCredentials:
    """App credentials that never call AAD: a fixed outbound token the fake connector can check."""

    def __init__(self, app_id: str) -> None:
        self.microsoft_app_id = app_id

    def get_access_token(self, force_refresh: bool = False) -> str:
        return f"outbound-token-for-{self.microsoft_app_id}"

    def signed_session(self, session: Any = None) -> Any:
        import requests

        session = session or requests.Session()
        session.headers["Authorization"] = f"Bearer {self.get_access_token()}"
        return session


class StaticCredentialsFactory:
    """A ``ServiceClientCredentialsFactory`` for tests (duck-typed, as the SDK only calls these)."""

    def __init__(self, app_id: str | None) -> None:
        self.app_id = app_id
        self.created = 0

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        self.created += 1
        return StaticCredentials(app_id if self.app_id else "")


TeamsApp = tuple[TestClient, Teams]
MakeApp = Callable[..., Awaitable[TeamsApp]]


@pytest.fixture
async def make_app(issuer: FakeIssuer, connector: FakeConnector) -> AsyncIterator[MakeApp]:
    """Builds DealCoach's aiohttp app with Teams mounted, served on loopback: in emulator mode, or with
    ``authenticated=True`` an app id whose tokens come from the fake issuer (and the fake connector's
    loopback address allowed as a ``serviceUrl``, as DEALCOACH_TEAMS_SERVICE_URLS would)."""
    clients: list[TestClient] = []

    async def make(
        coach: Any, *, authenticated: bool = False, overrides: dict[str, Any] | None = None, **settings: Any
    ) -> TeamsApp:
        extra = overrides or {}
        overrides = {}
        factory = None
        if not authenticated:
            settings.setdefault("teams_emulator", True)
        if authenticated:
            settings.setdefault("teams_service_urls", (connector.url,))
            settings.setdefault("microsoft_app_id", APP_ID)
            settings.setdefault("microsoft_app_password", APP_PASSWORD)
            overrides = {
                "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": issuer.metadata_url,
                "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": ISSUER,
            }
            factory = StaticCredentialsFactory(settings["microsoft_app_id"])
        overrides |= extra
        app = web.Application()
        setup(app, Settings(**settings), coach, sdk_overrides=overrides, credentials_factory=factory)
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return client, app[TEAMS]

    yield make
    for client in clients:
        await client.close()
