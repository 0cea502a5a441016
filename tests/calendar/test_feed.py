"""Fetching feeds safely (issue 11, Deliver 8), against a calendar provider on loopback.

Names are resolved by the test's own resolver, and every socket passes the fetcher's connect guard
(loopback only) and the conftest's net beneath it: no test here can reach anything but 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import logging

import pytest
from aiohttp import web

from adapters.calendar.feed import AddressPolicy, FeedFetcher, FeedLimits
from coaching.calendar.reading import read_calendar
from coaching.ports import CalendarFeeds, FeedOutcome
from tests.calendar.conftest import JANE, NOW, feed
from tests.calendar.feedserver import FeedServer, NotLoopback, StaticResolver, loopback_only

HOST = "calendar.example.com"
SECRET = "/calendar/ical/jane%40acme.com/private-5f2a9c0d1e8b7a6f/basic.ics"
LOOPBACK_AS_PUBLIC = AddressPolicy(trusted=(ipaddress.ip_network("127.0.0.1/32"),))


def fetcher(names: dict[str, str] | None = None, **kwargs) -> FeedFetcher:
    return FeedFetcher(resolver=StaticResolver(names or {}), connect_guard=loopback_only, **kwargs)


async def test_the_fetcher_is_the_coachs_calendar_feeds_port(provider: FeedServer):
    provider.publish(SECRET, feed("google.ics"))
    feeds: CalendarFeeds = fetcher({HOST: "127.0.0.1"}, allow_private=True)
    async with feeds:  # type: ignore[attr-defined]
        result = await feeds.fetch(provider.url(SECRET, HOST))
    assert result.outcome is FeedOutcome.CHANGED
    assert result.body == feed("google.ics")
    assert result.etag == provider.feeds[SECRET].etag
    assert result.last_modified == provider.feeds[SECRET].last_modified
    # and what it fetched reads as the calendar it is
    assert "Globex — pricing call" in [
        m.title for m in read_calendar(result.body, now=NOW, zone="UTC", me=[JANE]).meetings
    ]


async def test_a_name_resolving_to_loopback_is_refused_without_the_allow_setting(provider: FeedServer):
    provider.publish(SECRET, feed("google.ics"))
    async with fetcher({HOST: "127.0.0.1"}) as feeds:
        result = await feeds.fetch(provider.url(SECRET, HOST))
    assert result.outcome is FeedOutcome.BLOCKED
    assert "private or local" in result.reason
    assert provider.requests == []  # refused before any connection


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.0.0.5", "private or local"),
        ("192.168.1.20", "private or local"),
        ("100.64.3.4", "private or local"),  # CGNAT
        ("fd12:3456::1", "private or local"),  # unique-local
        ("::ffff:10.0.0.5", "private or local"),  # IPv4-mapped
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("0.0.0.0", "not an internet address"),
    ],
)
async def test_names_resolving_to_private_link_local_or_metadata_addresses_are_refused(address: str, why: str):
    async with fetcher({HOST: address}) as feeds:
        result = await feeds.fetch(f"https://{HOST}/basic.ics")
    assert result.outcome is FeedOutcome.BLOCKED
    assert why in result.reason
    assert HOST not in result.reason and "basic.ics" not in result.reason


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://10.0.0.5/x.ics"]
)
async def test_ip_literals_are_refused_before_connecting(url: str):
    async with fetcher() as feeds:
        result = await feeds.fetch(url)
    assert result.outcome is FeedOutcome.BLOCKED


async def test_metadata_addresses_stay_refused_even_with_the_allow_setting():
    async with fetcher({"metadata.example": "169.254.169.254"}, allow_private=True) as feeds:
        result = await feeds.fetch("http://metadata.example/latest/meta-data/")
    assert result.outcome is FeedOutcome.BLOCKED and "metadata" in result.reason


async def test_the_allow_setting_admits_a_loopback_server(provider: FeedServer):
    provider.publish(SECRET, feed("outlook.ics"))
    async with fetcher(allow_private=True) as feeds:
        result = await feeds.fetch(provider.url(SECRET))
    assert result.outcome is FeedOutcome.CHANGED


async def test_a_redirect_to_the_metadata_address_is_refused(provider: FeedServer):
    provider.redirects[SECRET] = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    async with fetcher({HOST: "127.0.0.1"}, policy=LOOPBACK_AS_PUBLIC) as feeds:
        result = await feeds.fetch(provider.url(SECRET, HOST))
    assert result.outcome is FeedOutcome.BLOCKED and "metadata" in result.reason
    assert [path for path, _ in provider.requests] == [SECRET]  # the first hop was fetched, the second never


@pytest.mark.parametrize(("target", "address"), [("intranet.example", "10.0.0.5"), ("loop.example", "127.0.0.2")])
async def test_a_redirect_to_a_name_resolving_to_a_private_address_is_refused(
    provider: FeedServer, target: str, address: str
):
    """Without the allow setting (loopback 127.0.0.1 stands in for a public provider here), a redirect
    is checked like the first address: its name resolves to a private address, so no connection."""
    provider.redirects[SECRET] = f"http://{target}:{provider.port}/feed.ics"
    async with fetcher({HOST: "127.0.0.1", target: address}, policy=LOOPBACK_AS_PUBLIC) as feeds:
        result = await feeds.fetch(provider.url(SECRET, HOST))
    assert result.outcome is FeedOutcome.BLOCKED and "private or local" in result.reason


async def test_redirects_are_followed_up_to_three(provider: FeedServer):
    provider.publish("/final.ics", feed("google.ics"))
    provider.redirects |= {"/a": "/b", "/b": "/c", "/c": "/final.ics"}
    async with fetcher(allow_private=True) as feeds:
        result = await feeds.fetch(provider.url("/a"))
    assert result.outcome is FeedOutcome.CHANGED
    provider.redirects |= {"/c": "/d", "/d": "/final.ics"}
    async with fetcher(allow_private=True) as feeds:
        result = await feeds.fetch(provider.url("/a"))
    assert result.outcome is FeedOutcome.FAILED and "more than 3" in result.reason


async def test_a_redirect_to_another_scheme_is_refused(provider: FeedServer):
    provider.redirects[SECRET] = "file:///etc/passwd"
    async with fetcher(allow_private=True) as feeds:
        result = await feeds.fetch(provider.url(SECRET))
    assert result.outcome is FeedOutcome.BLOCKED


@pytest.mark.parametrize("url", ["ftp://calendar.example.com/x.ics", "file:///etc/passwd", "gopher://x/", "not a url"])
async def test_only_http_and_https_are_fetched(url: str):
    async with fetcher() as feeds:
        result = await feeds.fetch(url)
    assert result.outcome is FeedOutcome.BLOCKED


async def test_webcal_means_https(provider: FeedServer):
    """webcal:// is fetched over https: the loopback server speaks plain http, so the TLS handshake
    fails — proof that https, not http, was tried, on the right host and port."""
    provider.publish(SECRET, feed("google.ics"))
    async with fetcher(allow_private=True) as feeds:
        result = await feeds.fetch(f"webcal://127.0.0.1:{provider.port}{SECRET}")
    assert result.outcome is FeedOutcome.FAILED
    assert provider.requests == []  # no plain-http request reached the server


async def test_an_unchanged_feed_costs_one_conditional_request_answered_304(provider: FeedServer):
    published = provider.publish(SECRET, feed("google.ics"))
    async with fetcher(allow_private=True) as feeds:
        first = await feeds.fetch(provider.url(SECRET))
        again = await feeds.fetch(provider.url(SECRET), etag=first.etag, last_modified=first.last_modified)
        provider.publish(SECRET, feed("google-edited.ics"), version=1)
        edited = await feeds.fetch(provider.url(SECRET), etag=first.etag, last_modified=first.last_modified)
    assert again.outcome is FeedOutcome.UNCHANGED and again.body == b""
    assert (again.etag, again.last_modified) == (published.etag, published.last_modified)
    assert provider.requests[1][1]["If-None-Match"] == published.etag
    assert provider.requests[1][1]["If-Modified-Since"] == published.last_modified
    assert edited.outcome is FeedOutcome.CHANGED and edited.body == feed("google-edited.ics")
    assert edited.etag != published.etag
    assert len(provider.requests) == 3


async def test_last_modified_alone_also_gives_304(provider: FeedServer):
    published = provider.publish(SECRET, feed("google.ics"))
    async with fetcher(allow_private=True) as feeds:
        result = await feeds.fetch(provider.url(SECRET), last_modified=published.last_modified)
    assert result.outcome is FeedOutcome.UNCHANGED


@pytest.mark.parametrize("status", [401, 403, 404, 410])
async def test_the_provider_refusing_or_not_knowing_the_address_is_its_own_outcome(provider: FeedServer, status: int):
    provider.statuses[SECRET] = status
    async with fetcher(allow_private=True) as feeds:
        result = await feeds.fetch(provider.url(SECRET))
    assert (result.outcome, result.status) == (FeedOutcome.GONE, status)
    assert "secret address" in result.reason


async def test_a_server_error_is_a_failure_to_retry(provider: FeedServer):
    provider.statuses[SECRET] = 503
    async with fetcher(allow_private=True) as feeds:
        result = await feeds.fetch(provider.url(SECRET))
    assert (result.outcome, result.status) == (FeedOutcome.FAILED, 503)


async def test_a_stalling_server_times_out(provider: FeedServer):
    provider.stalls.add(SECRET)
    async with fetcher(allow_private=True, limits=FeedLimits(timeout=0.3)) as feeds:
        result = await feeds.fetch(provider.url(SECRET))
    assert result.outcome is FeedOutcome.FAILED and "did not answer within 0.3 seconds" in result.reason


async def test_a_body_over_the_limit_is_abandoned_while_streaming(provider: FeedServer):
    provider.floods.add(SECRET)  # no Content-Length, bytes without end
    async with fetcher(allow_private=True, limits=FeedLimits(max_bytes=256 * 1024)) as feeds:
        result = await asyncio.wait_for(feeds.fetch(provider.url(SECRET)), timeout=5)
    assert result.outcome is FeedOutcome.FAILED and "larger than" in result.reason


async def test_a_declared_content_length_over_the_limit_is_refused_unread(provider: FeedServer):
    provider.publish(SECRET, b"BEGIN:VCALENDAR\r\n" + b"X" * 300_000)
    async with fetcher(allow_private=True, limits=FeedLimits(max_bytes=256 * 1024)) as feeds:
        result = await feeds.fetch(provider.url(SECRET))
    assert result.outcome is FeedOutcome.FAILED and "larger than" in result.reason


async def test_the_limit_counts_decompressed_bytes():
    bomb = gzip.compress(b"X" * (2 * 1024 * 1024))  # 2 MB of calendar in ~2 kB on the wire

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/calendar"})

    app = web.Application()
    app.router.add_get("/bomb.ics", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with fetcher(allow_private=True, limits=FeedLimits(max_bytes=1024 * 1024)) as feeds:
            result = await feeds.fetch(f"http://127.0.0.1:{port}/bomb.ics")
    finally:
        await runner.cleanup()
    assert result.outcome is FeedOutcome.FAILED and "larger than 1 MB" in result.reason


async def test_the_url_is_never_logged_in_full(provider: FeedServer, caplog: pytest.LogCaptureFixture):
    provider.publish(SECRET, feed("google.ics"))
    provider.statuses["/gone" + SECRET] = 404
    caplog.set_level(logging.DEBUG)
    async with fetcher({HOST: "127.0.0.1"}, allow_private=True) as feeds:
        await feeds.fetch(provider.url(SECRET, HOST))
        await feeds.fetch(provider.url("/gone" + SECRET, HOST))
        await feeds.fetch(f"http://{HOST}:1{SECRET}")  # nothing listens on port 1: a connection error
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"http://{HOST}/…" in logged
    assert "private-5f2a9c0d1e8b7a6f" not in logged and "jane%40acme.com" not in logged


async def test_the_guard_stops_a_connection_the_policy_would_allow():
    """The tests' own guard at connect time: even with everything allowed, nothing but loopback."""
    async with fetcher({HOST: "93.184.216.34"}, allow_private=True) as feeds:
        with pytest.raises(NotLoopback):
            await feeds.fetch(f"http://{HOST}/basic.ics")
