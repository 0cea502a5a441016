"""Who may post to ``/api/messages`` and where DealCoach may send replies (``serviceUrl``).

The Bot Framework tells a bot where to answer in every activity's ``serviceUrl``; the bot then sends its
replies — with its token — to that address. So an address is only trusted when it is one of Microsoft's
documented Bot Framework / Teams hosts, or one the operator added (``DEALCOACH_TEAMS_SERVICE_URLS``).
The SDK additionally checks a channel token's ``serviceurl`` claim against the activity's.

In emulator mode (``DEALCOACH_TEAMS_EMULATOR=1``, no app id) nothing is authenticated, so both the
client and every ``serviceUrl`` must be on this machine (loopback).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

# Microsoft's Teams connector hosts (public cloud, GCC, GCC High, DoD, 21Vianet): https only.
TEAMS_HOSTS = frozenset(
    {
        "smba.trafficmanager.net",
        "smba.onyx.prod.teams.trafficmanager.net",
        "smba.infra.gcc.teams.microsoft.com",
        "smba.infra.gov.teams.microsoft.us",
        "smba.infra.dod.teams.microsoft.us",
        "frontend.botapi.msg.infra.teams.microsoftonline.cn",
    }
)
# The Bot Framework's own channels (Web Chat, Direct Line and their regional hosts), public and US Gov.
BOT_FRAMEWORK_DOMAINS = ("botframework.com", "botframework.azure.us")


@dataclass(frozen=True)
class _Prefix:
    scheme: str
    host: str
    port: int | None
    path: str

    @classmethod
    def parse(cls, url: str) -> _Prefix | None:
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:  # a port that is not a number
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            return None
        default = 443 if parts.scheme == "https" else 80
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return cls(parts.scheme, parts.hostname.lower(), port or default, path)

    def covers(self, other: _Prefix) -> bool:
        same_origin = (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)
        return same_origin and other.path.startswith(self.path)


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _microsoft(url: _Prefix) -> bool:
    if url.scheme != "https" or url.port != 443:
        return False
    return url.host in TEAMS_HOSTS or any(url.host.endswith("." + domain) for domain in BOT_FRAMEWORK_DOMAINS)


class ServiceUrls:
    """The ``serviceUrl`` policy: Microsoft's hosts plus the operator's prefixes, or loopback only."""

    def __init__(self, extra: tuple[str, ...] = (), *, loopback_only: bool = False) -> None:
        self._extra = [p for p in (_Prefix.parse(url) for url in extra) if p is not None]
        self.loopback_only = loopback_only

    def allows(self, url: object) -> bool:
        if not isinstance(url, str) or len(url) > 2048:
            return False
        parsed = _Prefix.parse(url)
        if parsed is None:
            return False
        if self.loopback_only:
            return is_loopback_host(parsed.host)
        return _microsoft(parsed) or any(prefix.covers(parsed) for prefix in self._extra)
