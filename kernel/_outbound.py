"""Where the platform may send requests on a tenant's behalf: the SSRF policy.

Any URL a tenant chooses (a webhook endpoint, an IVR's lookup to the tenant's own system) makes
the platform a client inside its own network unless it is checked. Check it when it is saved
and again right before every request (a name can be re-pointed at an internal address after it
was checked), then send to the pinned address the check returns.

A URL is refused when it is not http(s), carries credentials, names ``localhost``, or when
any address its host resolves to is not a public unicast address: loopback, private,
link-local, shared (CGNAT), multicast, reserved, unspecified, and IPv6 forms that embed such
an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64). The operator (never a tenant) may allow
non-public addresses through the caller's :class:`OutboundPolicy` (e.g. the webhooks plugin's
``KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS`` or ``..._ALLOWED_NETWORKS``); plain http is
accepted only towards such allowed addresses, public receivers must use https.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Reason = Literal["invalid-url", "https-required", "private-address", "unresolvable"]

RESOLVE_TIMEOUT = 5.0
MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefusedError(Exception):
    """The platform may not send requests to the URL. The message names the reason, never the
    URL (its query string may carry the receiver's token)."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """The operator's allowance for non-public destinations (the default allows none).

    Built from operator settings, never from anything a tenant can set: it decides whether
    the platform may be made to reach its own network.
    """

    allow_private_networks: bool = False
    """Every non-public address, ``localhost`` included (tests, single-host setups)."""
    allowed_networks: tuple[IPNetwork, ...] = ()
    """Only these ranges although not public (an internal receiver)."""


@dataclass(frozen=True, slots=True)
class OutboundTarget:
    """A checked destination: connect to ``address``, present ``host`` (Host, TLS SNI)."""

    url: str
    """The URL to request, with the host replaced by the checked address."""
    host: str
    """The host name of the URL (lower case, no trailing dot): what TLS must verify."""
    host_header: str
    """The ``Host`` header to send (the URL's host and port as written)."""
    address: IPAddress
    https: bool

    def extensions(self) -> dict[str, str]:
        """httpx request extensions so TLS names ``host`` although ``url`` holds the address."""
        return {"sni_hostname": self.host} if self.https else {}


def _is_public(address: IPAddress) -> bool:
    """A public unicast address (what a receiver on the internet has)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not _is_public(embedded):
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


def _allowed_privately(address: IPAddress, policy: OutboundPolicy) -> bool:
    """The operator's allowance covers this (non-public) address."""
    if policy.allow_private_networks:
        return True
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in policy.allowed_networks
    )


def _parse(url: str) -> SplitResult:
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


async def _resolve(host: str, port: int) -> list[IPAddress]:
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


async def check_outbound_url(url: str, policy: OutboundPolicy) -> OutboundTarget:
    """Apply the rules; returns where to connect. Raises :class:`UrlRefusedError`."""
    parts = _parse(url)
    host = (parts.hostname or "").rstrip(".").lower()
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    if (host == "localhost" or host.endswith(".localhost")) and not policy.allow_private_networks:
        raise UrlRefusedError("private-address", "the URL names this machine (localhost)")
    addresses = await _resolve(host, port)
    private = [a for a in addresses if not _is_public(a)]
    for address in private:
        if not _allowed_privately(address, policy):
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
    return OutboundTarget(
        url=pinned, host=host, host_header=host_header, address=address, https=https
    )
