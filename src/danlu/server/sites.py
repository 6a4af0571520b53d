"""Which web pages and host names the server answers: its defence against cross-site requests.

A browser lets any page send "simple" requests (text/plain or form bodies) to 127.0.0.1
without asking first, and a page that rebinds its own DNS name to 127.0.0.1 can read the
answers too (Ollama's CVE-2024-28224). So the guard asks this policy, before anything else:

* `Host`: an address (nothing to rebind), localhost, a name without a dot or under
  .localhost/.local/.internal/.home.arpa (no outside site can own one), the bound name
  and the names in `allowed_hosts` are answered; any other name is refused.
* `Origin` (sent by browsers only): a page on this machine (loopback), the server's own
  pages (same scheme://host:port as the Host), the pages in `allowed_origins`, and pages
  that are not web sites (app://, vscode-webview://, extensions) are answered; any other,
  and `null` (sandboxed frames and file pages of any site), is refused.

The pages answered, but for the server's own, also get CORS headers to read the answers.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

ANY = "*"
WEB_SCHEMES = ("http", "https")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")
LABELS = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[^:\[\]]+)(:(?P<port>[0-9]{1,5}))?")
ORIGIN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>[^/?#]+)")


def host_name(value: str) -> str | None:
    """The name or address in a Host header (or an origin's host): lower case, without
    the port, the brackets or a trailing dot; None when it is not a name or an address."""
    match = HOST.fullmatch(value.strip().lower())
    if match is None:
        return None
    name = match["name"].removesuffix(".")
    if name.startswith("["):
        return name[1:-1] if _address(name[1:-1]) else None
    return name if _address(name) or LABELS.fullmatch(name) else None


def origin_key(origin: str) -> str | None:
    """`scheme://host[:port]` in lower case, as browsers send it; None if it is not one."""
    match = ORIGIN.fullmatch(origin.strip().lower().removesuffix("/"))
    if match is None or host_name(match["host"]) is None:
        return None
    return f"{match['scheme']}://{match['host']}"


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _address(name)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address is not None and (address.is_loopback or bool(mapped and mapped.is_loopback))


def _local_name(name: str) -> bool:
    """A name a DNS-rebinding page cannot have: it owns a name with a dot under a public suffix."""
    return _address(name) is not None or "." not in name or name.endswith(LOCAL_SUFFIXES)


@dataclass(frozen=True)
class SitePolicy:
    origins: frozenset[str]  # origin keys, or ANY
    hosts: frozenset[str]  # host names, or ANY

    @classmethod
    def of(cls, origins: list[str], hosts: list[str], bound: str) -> SitePolicy:
        """The policy of a server bound to `bound` with these allowed origins and hosts."""
        keys = {ANY if o == ANY else origin_key(o) for o in origins}
        names = {ANY if h == ANY else host_name(h) for h in [*hosts, bound]}
        return cls(frozenset(keys - {None}), frozenset(names - {None}))

    def host_allowed(self, host: str | None) -> bool:
        if not host:
            return True  # HTTP/1.0 without a Host: not a browser
        name = host_name(host)
        if name is None:
            return False
        return ANY in self.hosts or name in self.hosts or _local_name(name)

    def welcomes(self, origin: str) -> bool:
        """A page whose requests run and whose answers it may read (CORS)."""
        if ANY in self.origins:
            return True
        key = origin_key(origin)
        if key is None:
            return False  # `null`, or not an origin at all
        scheme, _, host = key.partition("://")
        if scheme not in WEB_SCHEMES:
            return True  # a local app or an extension: no web site has such an origin
        return key in self.origins or _loopback(host_name(host) or "")

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """May a request that carries `origin` (None: no browser page) run?"""
        if origin is None or self.welcomes(origin):
            return True
        key = origin_key(origin)  # one of the server's own pages (Host is checked first)
        return key is not None and bool(host) and key.partition("://")[2] == host.lower()


class SiteCORS(CORSMiddleware):
    """Starlette's CORS answers, given to the pages the site policy welcomes."""

    def __init__(self, app: ASGIApp, policy: SitePolicy) -> None:
        super().__init__(
            app,
            allow_origins=[ANY] if ANY in policy.origins else [],
            allow_methods=["*"],
            allow_headers=["*"],
            allow_private_network=True,  # Chrome asks before a public page calls loopback
        )
        self.policy = policy

    def is_allowed_origin(self, origin: str) -> bool:
        return self.policy.welcomes(origin)
