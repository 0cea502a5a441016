"""Safe by default: no app id and no emulator setting → /api/messages is not served (and start-up says
why); the emulator serves this machine only; with an app id replies only go to allowed serviceUrls."""

from __future__ import annotations

import logging
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from adapters import teams
from adapters.teams.trust import ServiceUrls
from adapters.teams.web import Endpoint, messages_handler
from bot.config import ConfigError, Settings
from coaching.ports import Address, DeliveryError
from tests.test_cli import DEALCOACH, env_for, free_port

from .fakes import TENANT, activity, recorded


def test_without_an_app_id_or_the_emulator_setting_nothing_is_mounted(fake_coach, caplog):
    app = web.Application()

    with caplog.at_level(logging.WARNING, logger="adapters.teams"):
        sender = teams.setup(app, Settings(), fake_coach)

    assert sender is None
    assert [route.resource.canonical for route in app.router.routes()] == []
    [why] = [r.getMessage() for r in caplog.records if r.name == "adapters.teams"]
    assert "/api/messages is NOT served" in why and "DEALCOACH_TEAMS_EMULATOR=1" in why and "MicrosoftAppId" in why


def test_dealcoach_serve_listens_on_host_and_does_not_serve_teams_unconfigured(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*DEALCOACH, "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env_for(tmp_path, PORT=str(port), HOST="127.0.0.1"),
        )
        try:
            deadline = time.monotonic() + 30
            while "listening on" not in log.read_text():
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("dealcoach serve did not come up:\n" + log.read_text())
                time.sleep(0.2)
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/messages", data=b"{}", method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            refused.value.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
    text = log.read_text()
    assert f"listening on http://127.0.0.1:{port}" in text
    assert "/api/messages is NOT served" in text
    assert refused.value.code in (404, 405)


def test_settings_for_host_emulator_and_service_urls():
    settings = Settings.from_env(
        {
            "HOST": "127.0.0.1",
            "DEALCOACH_TEAMS_EMULATOR": "1",
            "DEALCOACH_TEAMS_SERVICE_URLS": "https://smba.example.net/, http://127.0.0.1:3978/",
        }
    )
    assert (settings.host, settings.teams_emulator) == ("127.0.0.1", True)
    assert settings.teams_service_urls == ("https://smba.example.net/", "http://127.0.0.1:3978/")
    assert Settings.from_env({}).host == "0.0.0.0" and not Settings.from_env({}).teams_emulator
    for bad in ({"DEALCOACH_TEAMS_EMULATOR": "maybe"}, {"DEALCOACH_TEAMS_SERVICE_URLS": "smba.example.net"}):
        with pytest.raises(ConfigError):
            Settings.from_env(bad)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://smba.trafficmanager.net/emea/", True),
        ("https://smba.infra.gcc.teams.microsoft.com/teams/", True),
        ("https://europe.webchat.botframework.com/", True),
        ("http://smba.trafficmanager.net/emea/", False),  # not https
        ("https://smba.trafficmanager.net.evil.example/", False),
        ("https://smba.trafficmanager.net@evil.example/", False),
        ("https://evilbotframework.com/", False),
        ("https://smba.example.net/amer/", True),  # the operator's prefix
        ("https://smba.example.net:8443/amer/", False),
        ("http://127.0.0.1:3978/", True),
        ("http://127.0.0.1:39781/", False),
        ("http://127.0.0.1:3978/deeper/path", True),
    ],
)
def test_the_service_url_allow_list(url, allowed):
    policy = ServiceUrls(("https://smba.example.net/", "http://127.0.0.1:3978"))
    assert policy.allows(url) is allowed


def test_in_emulator_mode_only_loopback_service_urls():
    policy = ServiceUrls(("https://smba.example.net/",), loopback_only=True)
    assert policy.allows("http://localhost:3978/") and policy.allows("http://[::1]:1/")
    assert not policy.allows("https://smba.trafficmanager.net/emea/") and not policy.allows("https://smba.example.net/")


async def test_emulator_mode_refuses_clients_and_service_urls_not_on_this_machine(make_app, fake_coach, connector):
    client, _ = await make_app(fake_coach)
    elsewhere = activity("https://smba.trafficmanager.net/emea/", text="help")

    response = await client.post("/api/messages", json=elsewhere)

    assert response.status == 403 and fake_coach.texts == []
    handler = messages_handler(Endpoint(adapter=None, bot=None, service_urls=ServiceUrls(), loopback_clients=True))
    remote = make_mocked_request("POST", "/api/messages", transport=_Transport(("203.0.113.7", 50000)))
    refused = await handler(remote)
    assert refused.status == 403


class _Transport:
    """Just enough of an asyncio transport for aiohttp to read the peer's address from."""

    def __init__(self, peer):
        self._peer = peer

    def get_extra_info(self, name, default=None):
        return self._peer if name == "peername" else default

    def is_closing(self):
        return False


async def test_with_an_app_id_a_service_url_off_the_allow_list_is_refused_even_with_a_valid_token(
    make_app, fake_coach, connector, issuer
):
    client, _ = await make_app(fake_coach, authenticated=True, teams_service_urls=())
    token = issuer.token(service_url=connector.url)  # the claim matches the activity: only the list says no

    response = await client.post(
        "/api/messages", json=activity(connector.url, text="help"), headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status == 403 and connector.calls == [] and fake_coach.texts == []


async def test_with_an_app_id_microsofts_hosts_are_accepted(make_app, fake_coach, connector, issuer):
    client, _ = await make_app(fake_coach, authenticated=True, teams_service_urls=())
    teams_url = "https://smba.trafficmanager.net/emea/"
    token = issuer.token(service_url=teams_url)
    reaction = recorded("message_reaction", teams_url)  # answered by nobody: nothing leaves this machine

    response = await client.post("/api/messages", json=reaction, headers={"Authorization": f"Bearer {token}"})

    assert response.status == 201


async def test_a_stored_reference_to_a_service_url_off_the_list_is_never_contacted(make_app, fake_coach, connector):
    _, setup = await make_app(fake_coach)  # emulator mode: loopback only
    address = Address("teams", TENANT, "aad-user-1")
    fake_coach.users[("teams", TENANT, "aad-user-1")] = {
        "conversation_ref": {
            "serviceUrl": "https://evil.example/",
            "conversation": {"id": "a:1"},
            "channelId": "msteams",
            "user": {"id": "29:x"},
            "bot": {"id": "28:b"},
        }
    }
    from coaching.messages import Message

    with pytest.raises(DeliveryError) as failure:
        await setup.sender.send(address, Message(text="hi"))

    assert failure.value.permanent and setup.pool.requests == 0


async def test_build_web_app_mounts_teams_only_when_configured(database_url, clock):
    from bot.app import build_runtime
    from bot.web import build_web_app

    for settings, served in (
        (Settings(database_url=database_url), False),
        (Settings(database_url=database_url, teams_emulator=True), True),
    ):
        runtime = await build_runtime(settings, clock=clock)
        client = TestClient(TestServer(build_web_app(runtime, scheduler=False), host="127.0.0.1", port=0))
        await client.start_server()
        try:
            response = await client.post("/api/messages", json={})
            assert (response.status != 404) is served
            assert ("teams" in runtime.senders) is served
        finally:
            await client.close()
