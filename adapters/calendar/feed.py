"""Fetching calendar feeds from the providers (Google Calendar, Outlook / Microsoft 365, any iCal server)
— the :class:`coaching.ports.CalendarFeeds` port.

A feed address is untrusted input: a rep could paste ``http://169.254.169.254/…`` or a name that
resolves to the intranet. So only http(s) is fetched, and every address a connection goes to is checked
*when the socket is made* (aiohttp's ``socket_factory``), after DNS, on every redirect (followed here, at
most three): private, loopback, CGNAT and unique-local addresses are refused unless ``allow_private``
is set; link-local and the clouds' metadata addresses always. Checking the resolved address at connect
time, not the name beforehand, is what keeps DNS rebinding out. The resolver also drops refused
addresses, so a name with one public and one private address connects only to the public one.

Limits: 10 s for the whole fetch, 5 MB of (decompressed) body, read in chunks and abandoned the moment
it is exceeded. Conditional GET: an unchanged feed costs one request and a 304.

The URL is a secret: logs get :func:`coaching.calendar.address.redact`'s scheme + host, and no reason
text ever quotes it (nor a library's exception, which might).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from coaching.calendar.address import FeedAddressError, feed_url, redact
from coaching.calendar.reading import MAX_FEED_BYTES
from coaching.ports import FeedOutcome, FeedResult

log = logging.getLogger(__name__)

USER_AGENT = "DealCoach/0.1 (calendar import)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_GONE = frozenset({401, 403, 404, 410})
_CHUNK = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services. Most are link-local (refused anyway); these are not, or not only.
METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class FeedLimits:
    timeout: float = 10.0  # seconds for the whole fetch, redirects included
    max_bytes: int = MAX_FEED_BYTES
    max_redirects: int = 3


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a feed may be fetched from. ``trusted`` networks are allowed as if public (an
    on-premise calendar server; tests use it to play a public host on loopback) — metadata addresses
    never are."""

    allow_private: bool = False
    trusted: tuple[IPNetwork, ...] = ()

    def refusal(self, address: str) -> str | None:
        """None when ``address`` (an IP literal) may be connected to, else the reason in plain words."""
        try:
            ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "it is not an internet address"
        for inner in _embedded(ip):
            reason = self._refusal(inner)
            if reason:
                return reason
        return self._refusal(ip)

    def _refusal(self, ip: IPAddress) -> str | None:
        if ip in METADATA or ip.is_link_local:
            return "it points at a link-local or cloud metadata address"
        if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return "it is not an internet address"
        if ip.is_global or self.allow_private or any(ip in network for network in self.trusted):
            return None
        return "it points at a private or local network address"


def _embedded(ip: IPAddress) -> Iterable[IPAddress]:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, NAT64): judged as themselves too."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            yield ip.ipv4_mapped
        if ip.sixtofour:
            yield ip.sixtofour
        if ip in _NAT64:
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


class AddressRefused(OSError):
    """A connection to an address the policy refuses. An OSError, so aiohttp and aiohappyeyeballs treat it
    as a failed connection attempt (and try the next address, if any)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _CheckedResolver(AbstractResolver):
    """Resolves with ``inner`` and keeps only the addresses the policy allows."""

    def __init__(self, inner: AbstractResolver, policy: AddressPolicy):
        self.inner = inner
        self.policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        allowed = [result for result in results if self.policy.refusal(result["host"]) is None]
        if not allowed:
            raise AddressRefused(self.policy.refusal(results[0]["host"]) if results else "the name does not resolve")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


ConnectGuard = Callable[[str], None]  # called with each IP a socket is about to connect to; raises to stop it


class FeedFetcher:
    """The :class:`~coaching.ports.CalendarFeeds` port over aiohttp. One instance (one connection pool,
    so feeds on the same provider host reuse connections) for the process; close it at shutdown.

    ``resolver`` replaces DNS (tests map ``calendar.example.com`` to the address they need);
    ``connect_guard`` sees every address a socket is made for, after the policy — tests use it to make
    sure nothing but loopback is ever contacted, whatever the code under test does."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        policy: AddressPolicy | None = None,
        limits: FeedLimits = FeedLimits(),  # noqa: B008 - frozen
        resolver: AbstractResolver | None = None,
        connect_guard: ConnectGuard | None = None,
        concurrency: int = 50,
    ):
        self.policy = policy or AddressPolicy(allow_private=allow_private)
        self.limits = limits
        self._resolver = resolver
        self._guard = connect_guard
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FeedFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _socket(self, addr_info: Any) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = str(sockaddr[0])
        reason = self.policy.refusal(address)
        if reason:
            raise AddressRefused(reason)
        if self._guard is not None:
            self._guard(address)
        return socket.socket(family=family, type=kind, proto=proto)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=_CheckedResolver(self._resolver or DefaultResolver(), self.policy),
                socket_factory=self._socket,
                limit=self._concurrency,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"},
                trust_env=False,  # no proxy from the environment: it would connect where the policy cannot see
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FeedResult:
        try:
            target = feed_url(url)
        except FeedAddressError as exc:
            return FeedResult(FeedOutcome.BLOCKED, reason=str(exc))
        shown = redact(target)
        try:
            async with asyncio.timeout(self.limits.timeout):
                result = await self._follow(target, etag, last_modified)
        except TimeoutError:
            result = FeedResult(
                FeedOutcome.FAILED, reason=f"the calendar server did not answer within {self.limits.timeout:g} seconds"
            )
        except aiohttp.ClientConnectorError as exc:
            refused = exc.os_error if isinstance(exc.os_error, AddressRefused) else None
            if refused is not None:
                result = FeedResult(FeedOutcome.BLOCKED, reason=f"I won't fetch that calendar: {refused.reason}")
            else:
                result = FeedResult(FeedOutcome.FAILED, reason="I could not connect to the calendar server")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            log.info("calendar feed %s: %s", shown, type(exc).__name__)  # the class only: the text may hold the URL
            result = FeedResult(FeedOutcome.FAILED, reason="the calendar server's answer broke off")
        log.info("calendar feed %s: %s %s", shown, result.outcome, result.status or "")
        return result

    async def _follow(self, url: str, etag: str | None, last_modified: str | None) -> FeedResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = URL(url, encoded=True)
        for _ in range(self.limits.max_redirects + 1):
            reason = self._literal_refusal(current)
            if reason:
                return FeedResult(FeedOutcome.BLOCKED, reason=f"I won't fetch that calendar: {reason}")
            async with self._client().get(current, headers=headers, allow_redirects=False) as response:
                if response.status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        return FeedResult(
                            FeedOutcome.FAILED, status=response.status, reason="a redirect without a target"
                        )
                    following = current.join(URL(location, encoded=True))
                    if following.scheme not in ("http", "https"):
                        return FeedResult(
                            FeedOutcome.BLOCKED, reason="the calendar server redirects to a non-web address"
                        )
                    if current.scheme == "https" and following.scheme == "http":
                        return FeedResult(
                            FeedOutcome.BLOCKED, reason="the calendar server redirects from https to http"
                        )
                    current = following
                    continue
                return await self._answer(response, etag, last_modified)
        return FeedResult(
            FeedOutcome.FAILED, reason=f"the calendar address redirects more than {self.limits.max_redirects} times"
        )

    def _literal_refusal(self, url: URL) -> str | None:
        """An IP literal as host is checked before connecting, for a clear reason (the socket check
        would stop it too); a name is checked once resolved."""
        host = url.host or ""
        try:
            ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            return None
        return self.policy.refusal(host.strip("[]"))

    async def _answer(
        self, response: aiohttp.ClientResponse, etag: str | None, last_modified: str | None
    ) -> FeedResult:
        status = response.status
        if status == 304:
            return FeedResult(
                FeedOutcome.UNCHANGED,
                etag=response.headers.get("ETag", etag),
                last_modified=response.headers.get("Last-Modified", last_modified),
                status=status,
            )
        if status in _GONE:
            return FeedResult(
                FeedOutcome.GONE,
                status=status,
                reason="the calendar provider refuses this address or no longer knows it "
                "(was the secret address reset, or the calendar unpublished?)",
            )
        if status != 200:
            return FeedResult(FeedOutcome.FAILED, status=status, reason=f"the calendar server answered {status}")
        too_large = FeedResult(
            FeedOutcome.FAILED,
            status=status,
            reason=f"the calendar is larger than {self.limits.max_bytes // (1024 * 1024)} MB",
        )
        if (response.content_length or 0) > self.limits.max_bytes:
            return too_large
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):  # decompressed: a gzip bomb stops here too
            body += chunk
            if len(body) > self.limits.max_bytes:
                return too_large
        return FeedResult(
            FeedOutcome.CHANGED,
            body=bytes(body),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            status=status,
        )
