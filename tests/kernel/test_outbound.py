"""The kernel's SSRF policy: URLs that reach the platform's own network are refused unless
the operator's policy allows them, and the checked address is pinned."""

from __future__ import annotations

import ipaddress

import pytest

from kernel import OutboundPolicy, OutboundTarget, UrlRefusedError, _outbound, check_outbound_url

CLOSED = OutboundPolicy()

NOT_PUBLIC = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (CGNAT)
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 around 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
]


def test_the_default_policy_allows_nothing_private():
    assert CLOSED.allow_private_networks is False
    assert CLOSED.allowed_networks == ()


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_non_public_addresses(address):
    assert not _outbound._is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address):
    assert _outbound._is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:7f00:1]/hook",
        "https://localhost/hook",
        "https://api.localhost/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_refused_without_the_allowance(url):
    with pytest.raises(UrlRefusedError) as refused:
        await check_outbound_url(url, CLOSED)
    assert refused.value.reason == "private-address"
    assert url not in str(refused.value)


async def test_a_name_resolving_to_loopback_is_refused(monkeypatch):
    async def loopback(host, port):
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(_outbound, "_resolve", loopback)
    with pytest.raises(UrlRefusedError, match="non-public"):
        await check_outbound_url("https://sneaky.example.com/hook", CLOSED)


async def test_localhost_really_resolves_to_loopback():
    addresses = await _outbound._resolve("localhost", 80)
    assert addresses
    assert all(not _outbound._is_public(a) for a in addresses)


async def test_the_operator_allowance():
    everything = OutboundPolicy(allow_private_networks=True)
    target = await check_outbound_url("http://127.0.0.1:8080/a?b=c", everything)
    assert target.url == "http://127.0.0.1:8080/a?b=c"
    assert target.host_header == "127.0.0.1:8080"

    narrow = OutboundPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    await check_outbound_url("http://127.0.0.1:8080/a", narrow)
    for url in ("https://10.0.0.1/a", "https://169.254.169.254/a", "https://localhost/a"):
        with pytest.raises(UrlRefusedError):
            await check_outbound_url(url, narrow)
    # Plain http only where the allowance applies; public receivers need https.
    with pytest.raises(UrlRefusedError) as refused:
        await check_outbound_url("http://93.184.215.14/a", everything)
    assert refused.value.reason == "https-required"


async def test_the_pinned_target_keeps_the_host_for_tls(monkeypatch):
    async def public(host, port):
        return [ipaddress.ip_address("93.184.215.14")]

    monkeypatch.setattr(_outbound, "_resolve", public)
    target = await check_outbound_url("https://hooks.example.com:8443/in?token=x", CLOSED)
    assert target.url == "https://93.184.215.14:8443/in?token=x"
    assert target.host == "hooks.example.com"
    assert target.host_header == "hooks.example.com:8443"
    assert target.https


def test_the_extensions_name_the_host_for_tls_only_over_https():
    address = ipaddress.ip_address("93.184.215.14")
    secure = OutboundTarget(
        url="https://93.184.215.14/in",
        host="hooks.example.com",
        host_header="hooks.example.com",
        address=address,
        https=True,
    )
    assert secure.extensions() == {"sni_hostname": "hooks.example.com"}
    plain = OutboundTarget(
        url="http://10.0.0.1/in",
        host="internal",
        host_header="internal",
        address=address,
        https=False,
    )
    assert plain.extensions() == {}
