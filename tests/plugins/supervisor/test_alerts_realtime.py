"""An alert reaches a supervisor's real-time stream as it is raised and cleared (the
wallboard listens there): SSE over a served app, the alert driven through the API (a webhook
endpoint disabled, then enabled again)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from kernel import add_user, tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, create_tenant, login, serve_app

WAIT = 30.0


@pytest.fixture(autouse=True)
def webhooks_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true")


async def user(app: Any, api: httpx.AsyncClient, tenant_id: Any, role: str) -> dict[str, str]:
    email = f"{role}@acme.test"
    with tenant_scope(tenant_id):
        async with app.state.platform.database.session() as session:
            await add_user(session, email=email, password=DEFAULT_TEST_PASSWORD, roles=[role])
            await session.commit()
    return await login(api, email, tenant="acme")


async def next_alert(lines: Any) -> dict[str, Any]:
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name.startswith("supervisor.alert."):
            envelope: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return envelope
    raise AssertionError("the stream ended")


async def test_a_supervisor_sees_alerts_raised_and_cleared_on_the_stream(kraliki_make_app):
    app = await kraliki_make_app()
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=WAIT) as api:
        tenant_id = await create_tenant(app.state.platform, "acme")
        admin = await user(app, api, tenant_id, "admin")
        supervisor = await user(app, api, tenant_id, "supervisor")
        hook = await api.post(
            "/api/v1/webhooks/endpoints",
            headers=admin,
            json={"url": "http://127.0.0.1:9/crm", "description": "CRM", "event_types": ["*"]},
        )
        assert hook.status_code == 201, hook.text
        endpoint = hook.json()["id"]
        rule = await api.post(
            "/api/v1/supervisor/alerts/rules",
            headers=supervisor,
            json={"name": "Hooks", "kind": "webhook_endpoint_disabled"},
        )
        assert rule.status_code == 201, rule.text
        async with api.stream(
            "GET",
            "/api/v1/realtime/sse",
            headers=supervisor,
            params={"events": ["supervisor.alert.*"]},
            timeout=httpx.Timeout(WAIT, read=WAIT),
        ) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            assert await anext(lines) == "event: ready"
            path = f"/api/v1/webhooks/endpoints/{endpoint}"
            off = await api.patch(path, headers=admin, json={"enabled": False})
            assert off.status_code == 200, off.text
            raised = await next_alert(lines)  # woken by webhooks.endpoint.disabled
            assert raised["type"] == "supervisor.alert.raised"
            assert raised["data"]["subject_key"] == endpoint
            assert raised["data"]["subject_name"] == "CRM"
            on = await api.patch(path, headers=admin, json={"enabled": True})
            assert on.status_code == 200, on.text
            cleared = await next_alert(lines)  # at the job's next round (10 s)
            assert cleared["type"] == "supervisor.alert.cleared"
            assert cleared["data"]["alert_id"] == raised["data"]["alert_id"]
