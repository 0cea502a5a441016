"""Multi-workspace install: Bolt's OAuth flow on our routes, installations stored encrypted in our
database (slack_sdk's async SQLAlchemy stores, migrated by Alembic), tokens used per workspace."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SLACK, setup, store
from bot.config import ConfigError, Settings
from coaching.messages import Message
from coaching.ports import Address, DeliveryError
from tests.slack.conftest import SlackHarness
from tests.slack.slackfakes import SECRET, USER, fixture

# slack_sdk's oauth.v2.access still builds aiohttp.BasicAuth, which aiohttp 3.14 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"  # what the fake oauth.v2.access issues


@pytest.fixture
async def oauth(slack_api, coach, sessions):
    settings = Settings(
        slack_client_id="111.222",
        slack_client_secret="client-secret",
        slack_signing_secret=SECRET,
        slack_api_url=slack_api.url,
        secret_key="a long random string from the environment",
    )
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
    assert "scope=commands,chat:write,users:read,im:history" in html.replace("%2C", ",").replace("%3A", ":")
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
