"""Where webhooks may go: the SSRF policy, applied when an endpoint is saved and again right
before every attempt (a name can be re-pointed at an internal address after it was checked).

A URL is refused when it is not http(s), carries credentials, names ``localhost``, or when
any address its host resolves to is not a public unicast address: loopback, private,
link-local, shared (CGNAT), multicast, reserved, unspecified, and IPv6 forms that embed such
an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64). The operator may allow non-public
addresses (``KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS`` or ``..._ALLOWED_NETWORKS``); plain
http is accepted only towards such allowed addresses, public receivers must use https.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, urlsplit, urlunsplit

from plugins.webhooks.config import WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Reason = Literal["invalid-url", "https-required", "private-address", "unresolvable"]

RESOLVE_TIMEOUT = 5.0
MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefusedError(Exception):
    """The URL may not receive webhooks. The message names the reason, never the URL (its
    query string may carry the receiver's token)."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked destination: connect to ``address``, present ``host`` (Host, TLS SNI)."""

    url: str
    """The URL to request, with the host replaced by the checked address."""
    host: str
    host_header: str
    address: IPAddress
    https: bool


def is_public(address: IPAddress) -> bool:
    """A public unicast address (what a webhook receiver on the internet has)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_private
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def allowed_privately(address: IPAddress, settings: WebhookSettings) -> bool:
    """The operator's allowance covers this (non-public) address."""
    if settings.allow_private_networks:
        return True
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in settings.allowed_networks
    )


def parse(url: str) -> SplitResult:
    """Syntax checks that need no DNS: scheme, host, no credentials, no fragment."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefusedError("invalid-url", f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port out of range or not a number
    except ValueError:
        raise UrlRefusedError("invalid-url", "the URL cannot be parsed") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefusedError("invalid-url", "the URL must start with https:// (or http://)")
    if not parts.hostname:
        raise UrlRefusedError("invalid-url", "the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefusedError("invalid-url", "the URL must not carry credentials (user:password@)")
    if parts.fragment:
        raise UrlRefusedError("invalid-url", "the URL must not have a #fragment")
    if any(ch.isspace() for ch in url):
        raise UrlRefusedError("invalid-url", "the URL must not contain whitespace")
    return parts


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        raise UrlRefusedError("unresolvable", "the URL's host name does not resolve") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        try:  # IPv4 and IPv6 socket addresses; a scoped one ends in %<zone>
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        except ValueError:
            continue
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefusedError("unresolvable", "the URL's host name does not resolve")
    return addresses


async def check(url: str, settings: WebhookSettings) -> Target:
    """Apply the policy; returns where to connect. Raises :class:`UrlRefusedError`."""
    parts = parse(url)
    host = (parts.hostname or "").rstrip(".").lower()
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    if (host == "localhost" or host.endswith(".localhost")) and not settings.allow_private_networks:
        raise UrlRefusedError("private-address", "the URL names this machine (localhost)")
    addresses = await resolve(host, port)
    private = [a for a in addresses if not is_public(a)]
    for address in private:
        if not allowed_privately(address, settings):
            raise UrlRefusedError(
                "private-address",
                "the URL's host is or resolves to a loopback, private, link-local or other "
                "non-public address",
            )
    if not https and len(private) != len(addresses):
        raise UrlRefusedError("https-required", "public receivers must use https://")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    host_header = parts.netloc.rsplit("@", 1)[-1]
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(url=pinned, host=host, host_header=host_header, address=address, https=https)
