"""Multi-workspace install: Bolt's OAuth flow on our routes, installations stored encrypted in our
database (slack_sdk's async SQLAlchemy stores, migrated by Alembic), tokens used per workspace."""

from __future__ import annotations

import io
import logging
import re

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SLACK, setup, store
from bot import logs
from bot.config import ConfigError, Settings
from coaching.messages import Message
from coaching.ports import Address, DeliveryError
from tests.slack.conftest import SlackHarness
from tests.slack.slackfakes import SECRET, USER, fixture

# slack_sdk's oauth.v2.access still builds aiohttp.BasicAuth, which aiohttp 3.14 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"  # what the fake oauth.v2.access issues


def oauth_settings(slack_api, **more) -> Settings:
    return Settings(
        slack_client_id="111.222",
        slack_client_secret="client-secret-0123456789",
        slack_signing_secret=SECRET,
        slack_api_url=slack_api.url,
        secret_key="a long random string from the environment",
        **more,
    )


@pytest.fixture
async def oauth(slack_api, coach, sessions):
    settings = oauth_settings(slack_api)
    app = web.Application()
    sender = setup(app, settings, coach, sessions, min_interval=0)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield SlackHarness(client, app[SLACK], sender, slack_api)
    await client.close()


async def install(oauth) -> None:
    page = await oauth.client.get("/slack/install")
    assert page.status == 200
    html = await page.text()
    state = re.search(r"state=([\w-]+)", html).group(1)
    asked = html.replace("%2C", ",").replace("%3A", ":")
    scopes = "commands,chat:write,users:read,users:read.email,im:history,app_mentions:read,files:read,files:write"
    assert f"scope={scopes}" in asked
    cookie = page.headers["Set-Cookie"].split(";")[0]
    done = await oauth.client.get(f"/slack/oauth_redirect?code=the-code&state={state}", headers={"Cookie": cookie})
    assert done.status == 200, await done.text()


async def test_install_stores_the_bot_token_encrypted_and_uses_it(oauth, slack_api, sessions):
    await install(oauth)
    assert slack_api.to("oauth.v2.access")[0].args["code"] == "the-code"
    async with sessions() as session:
        stored = (await session.execute(sa.select(store.slack_bots.c.team_id, store.slack_bots.c.bot_token))).all()
    assert [team for team, _ in stored] == ["T0002"]
    assert stored[0][1].startswith("fernet:") and TOKEN not in stored[0][1]

    # a request from the new workspace is authorised with its own token
    reply = await oauth.ask("help", team_id="T0002")
    assert reply["response_type"] == "ephemeral"
    assert {c.token for c in slack_api.to("auth.test")} == {TOKEN}

    # nudges to that workspace go out with its token
    await oauth.sender.send(Address("slack", "T0002", USER), Message("hello"))
    assert slack_api.to("chat.postMessage")[-1].token == TOKEN

    # the authorize step is cached: more requests, no more auth.test (one was the install's own)
    checks = len(slack_api.to("auth.test"))
    for _ in range(3):
        await oauth.ask("help", team_id="T0002")
    assert len(slack_api.to("auth.test")) == checks


async def test_a_state_that_was_not_issued_is_refused(oauth, slack_api):
    response = await oauth.client.get("/slack/oauth_redirect?code=x&state=forged")
    assert response.status >= 400
    assert slack_api.to("oauth.v2.access") == []


async def test_requests_from_a_workspace_without_installation_are_refused(oauth, slack_api):
    response = await oauth.command("help", team_id="T0NOPE")
    assert response.status == 200  # Bolt acks Slack, then tells the person the app is not installed there
    assert "response_type" not in await response.text()
    [told] = slack_api.hook_calls(oauth.hook)
    assert "install" in told.args["text"].lower()
    assert slack_api.to("auth.test") == []


async def test_uninstall_removes_the_installation(oauth, slack_api, sessions):
    await install(oauth)
    event = fixture("event_app_uninstalled") | {"team_id": "T0002"}
    assert (await oauth.event(event)).status == 200
    async with sessions() as session:
        assert (await session.scalar(sa.select(sa.func.count()).select_from(store.slack_bots))) == 0
    with pytest.raises(DeliveryError) as raised:
        await oauth.sender.send(Address("slack", "T0002", USER), Message("hello"))
    assert raised.value.permanent


def test_oauth_needs_a_secret_key(slack_api, coach, sessions):
    settings = Settings(slack_client_id="1.2", slack_client_secret="s", slack_signing_secret=SECRET)
    with pytest.raises(ConfigError, match="DEALCOACH_SECRET_KEY"):
        setup(web.Application(), settings, coach, sessions)


def test_token_cipher_round_trip_and_wrong_key():
    cipher = store.TokenCipher("k1")
    sealed = cipher.seal(TOKEN)
    assert sealed != TOKEN and cipher.seal(sealed) == sealed
    assert cipher.open(sealed) == TOKEN
    assert cipher.open("xoxb-plain") == "xoxb-plain"
    assert store.TokenCipher("k2").open(sealed) is None


REFRESH = "xoxe-1-My0xLTEyMzQ1Njc4OTAxMi0xMjM0NTY3ODkwMTItYWJjZGVmMDEyMzQ1"


async def test_an_install_at_debug_logs_no_token_or_secret(slack_api, coach, sessions, restore_logging, capsys, caplog):
    """LOG_LEVEL=DEBUG for every logger, through bot.logs as `dealcoach serve` sets it up: slack_sdk logs
    the oauth.v2.access answer (bot and refresh token), Bolt and aiohttp log the requests."""
    settings = oauth_settings(slack_api, log_level="DEBUG")
    stream = io.StringIO()
    logs.configure(settings, stream=stream)
    for logger in [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]:
        logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    slack_api.oauth_extra = {"refresh_token": REFRESH, "expires_in": 43200}
    app = web.Application()
    sender = setup(app, settings, coach, sessions, min_interval=0)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        harness = SlackHarness(client, app[SLACK], sender, slack_api)
        await install(harness)
        await harness.ask("help", team_id="T0002")
        await harness.sender.send(Address("slack", "T0002", USER), Message("hello"))
    written = stream.getvalue() + caplog.text + "".join(capsys.readouterr())
    assert "oauth.v2.access" in written and "access_token" in written  # the install was logged, at DEBUG
    for secret in (TOKEN, REFRESH, settings.slack_client_secret, SECRET, settings.secret_key):
        assert secret not in written
    for part in ("pdFZKVeTuE8sk7oO", "My0xLTEyMzQ1Njc4"):  # nor a piece of one
        assert part not in written


async def test_uninstall_through_a_shared_channel_removes_the_installations_own_tokens(oauth, slack_api, sessions):
    await install(oauth)  # Globex, T0002

    async def bots() -> int:
        async with sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(store.slack_bots))

    def uninstalled(envelope_team: str, installation: str, event_id: str) -> dict:
        return fixture("event_app_uninstalled") | {
            "team_id": envelope_team,
            "event_id": event_id,
            "is_ext_shared_channel": True,
            "authorizations": [{"enterprise_id": None, "team_id": installation, "is_bot": True}],
        }

    # another organisation uninstalled DealCoach; the event reached us through a shared channel
    assert (await oauth.event(uninstalled("T0002", "T0009", "Ev0SHARE1"))).status == 200
    assert await bots() == 1
    # our own installation, whatever organisation the envelope names
    assert (await oauth.event(uninstalled("T0009", "T0002", "Ev0SHARE2"))).status == 200
    assert await bots() == 0
