"""SSRF: webhook URLs that reach the platform's own network are refused, when an endpoint is
saved and again before every attempt, unless the operator allowed them. The rules themselves
are the kernel's (tests/kernel/test_outbound.py)."""

from __future__ import annotations

import ipaddress

import pytest
from webhook_helpers import OrderPlaced, create_endpoint, publish, settle

from kernel import OutboundPolicy
from kernel.testing import use_dns_answers
from plugins.webhooks.config import WebhookSettings
from plugins.webhooks.service import SETTINGS

CLOSED = WebhookSettings(_env_file=None, allow_private_networks=False)  # type: ignore[call-arg]


def test_the_settings_give_the_kernel_policy():
    assert CLOSED.policy == OutboundPolicy()
    narrow = WebhookSettings(
        _env_file=None, allow_private_networks=False, allowed_networks="10.20.0.0/16, fd00:1::/64"
    )  # type: ignore[call-arg]
    assert narrow.policy == OutboundPolicy(
        allowed_networks=(
            ipaddress.ip_network("10.20.0.0/16"),
            ipaddress.ip_network("fd00:1::/64"),
        )
    )
    everything = WebhookSettings(_env_file=None, allow_private_networks=True)  # type: ignore[call-arg]
    assert everything.policy.allow_private_networks


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

    use_dns_answers(monkeypatch, answers)
    SETTINGS.set(platform, CLOSED)
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
