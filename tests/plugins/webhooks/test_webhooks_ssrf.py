"""SSRF: webhook URLs that reach the platform's own network are refused, when an endpoint is
saved and again before every attempt, unless the operator allowed them."""

from __future__ import annotations

import ipaddress

import pytest
from webhook_helpers import OrderPlaced, create_endpoint, publish, settle

from plugins.webhooks import urls
from plugins.webhooks.config import WebhookSettings

CLOSED = WebhookSettings(_env_file=None, allow_private_networks=False)  # type: ignore[call-arg]

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


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_non_public_addresses(address):
    assert not urls.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address):
    assert urls.is_public(ipaddress.ip_address(address))


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
    with pytest.raises(urls.UrlRefusedError) as refused:
        await urls.check(url, CLOSED)
    assert refused.value.reason == "private-address"
    assert url not in str(refused.value)


async def test_a_name_resolving_to_loopback_is_refused(monkeypatch):
    async def loopback(host, port):
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(urls, "resolve", loopback)
    with pytest.raises(urls.UrlRefusedError, match="non-public"):
        await urls.check("https://sneaky.example.com/hook", CLOSED)


async def test_localhost_really_resolves_to_loopback():
    addresses = await urls.resolve("localhost", 80)
    assert addresses
    assert all(not urls.is_public(a) for a in addresses)


async def test_the_operator_allowance():
    everything = WebhookSettings(_env_file=None, allow_private_networks=True)  # type: ignore[call-arg]
    target = await urls.check("http://127.0.0.1:8080/a?b=c", everything)
    assert target.url == "http://127.0.0.1:8080/a?b=c"
    assert target.host_header == "127.0.0.1:8080"

    narrow = WebhookSettings(
        _env_file=None, allow_private_networks=False, allowed_networks="127.0.0.0/8"
    )  # type: ignore[call-arg]
    await urls.check("http://127.0.0.1:8080/a", narrow)
    for url in ("https://10.0.0.1/a", "https://169.254.169.254/a", "https://localhost/a"):
        with pytest.raises(urls.UrlRefusedError):
            await urls.check(url, narrow)
    # Plain http only where the allowance applies; public receivers need https.
    with pytest.raises(urls.UrlRefusedError) as refused:
        await urls.check("http://93.184.215.14/a", everything)
    assert refused.value.reason == "https-required"


async def test_the_pinned_target_keeps_the_host_for_tls(monkeypatch):
    async def public(host, port):
        return [ipaddress.ip_address("93.184.215.14")]

    monkeypatch.setattr(urls, "resolve", public)
    target = await urls.check("https://hooks.example.com:8443/in?token=x", CLOSED)
    assert target.url == "https://93.184.215.14:8443/in?token=x"
    assert target.host == "hooks.example.com"
    assert target.host_header == "hooks.example.com:8443"
    assert target.https


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "https://10.0.0.8/x",
        "https://169.254.169.254/x",
        "https://[::1]/x",
        "https://localhost/x",
    ],
)
async def test_the_api_refuses_private_urls(
    kraliki_make_app, kraliki_authenticate, webhook_settings, url
):
    from webhook_helpers import ALL

    from kernel import Tenant
    from kernel.testing import app_client

    webhook_settings(allow_private_networks="false")
    app = await kraliki_make_app(background_workers=False)
    async with app.state.platform.database.session() as session:
        tenant = Tenant(slug="acme", name="Acme")
        session.add(tenant)
        await session.commit()
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant.id)
    async with app_client(app) as client:
        refused = await client.post(
            "/api/v1/webhooks/endpoints", json={"url": url, "event_types": ["*"]}
        )
    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/webhooks-url-refused"
    assert refused.json()["reason"] == "private-address"


async def test_checked_again_at_delivery_time(client, tenant, platform, receiver, monkeypatch):
    """DNS rebinding: the name was public when saved, points at loopback when sending."""
    answers = {"rebind.example.com": "93.184.215.14"}

    async def resolve(host, port):
        return [ipaddress.ip_address(answers.get(host, host))]

    monkeypatch.setattr(urls, "resolve", resolve)
    platform.state["webhooks"] = CLOSED
    endpoint = await create_endpoint(client, "https://rebind.example.com/hook")
    answers["rebind.example.com"] = "127.0.0.1"
    await publish(platform, tenant, OrderPlaced(order_id="o-1"))
    await settle(platform)
    [delivery] = (await client.get("/api/v1/webhooks/deliveries")).json()["items"]
    assert delivery["endpoint_id"] == endpoint["id"]
    assert delivery["status"] == "failed"
    assert delivery["last_status_code"] is None
    assert delivery["last_error"].startswith("refused: ")
    assert receiver.requests == []
