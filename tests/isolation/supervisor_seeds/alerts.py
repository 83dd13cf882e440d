"""Seeds the supervisor plugin's alert tables for the cross-tenant route walk: a rule on
disabled webhook endpoints and the alert it raised (an endpoint of the tenant's own, disabled
through the API). A stable alert: nothing the walk does, nor the alerts job meanwhile,
changes it."""

from __future__ import annotations

import asyncio
from typing import Any

RULES = "/api/v1/supervisor/alerts/rules"


async def seed(client: Any, tenant: Any) -> None:
    """A rule and its raised alert for ``tenant`` (``.headers``, ``.slug``, ``.secrets``)."""
    h = tenant.headers
    hook = await client.post(
        "/api/v1/webhooks/endpoints",
        headers=h,
        json={"url": f"http://127.0.0.1:9/{tenant.slug}-off", "event_types": ["webhooks.*"]},
    )
    assert hook.status_code == 201, hook.text
    tenant.secrets.add(hook.json()["secret"])
    endpoint = hook.json()["id"]
    off = await client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint}", headers=h, json={"enabled": False}
    )
    assert off.status_code == 200, off.text
    rule = await client.post(
        RULES,
        headers=h,
        json={"name": f"Hooks {tenant.slug}", "kind": "webhook_endpoint_disabled"},
    )
    assert rule.status_code == 201, rule.text
    # The alerts job was woken by the rule; a worker runs it (here, or in the background).
    async with asyncio.timeout(20):
        while True:
            ran = await client.post("/api/v1/walkvault/jobs", headers=h)
            assert ran.status_code == 200, ran.text
            raised = await client.get("/api/v1/supervisor/dashboard/alerts", headers=h)
            if raised.json()["items"]:
                break
            await asyncio.sleep(0.1)
    assert [a["subject_key"] for a in raised.json()["items"]] == [endpoint], raised.text
    # Its events (the endpoint disabled, the alert raised) dispatched: B's outbox at rest.
    drained = await client.post("/api/v1/walkvault/events", headers=h)
    assert drained.status_code == 200, drained.text
