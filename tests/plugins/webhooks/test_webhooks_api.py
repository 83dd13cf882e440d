"""``/api/v1/webhooks`` endpoints: create, list, get, update, delete, rotate, enable; the
problems they answer; who may call them (built-in roles, real logins)."""

from __future__ import annotations

import uuid

from webhook_helpers import create_endpoint, make_tenant, make_user

from kernel.testing import login

PUBLIC = "https://93.184.215.14/hooks"  # a public address: no DNS needed, never called here


async def test_create_list_get_update_delete(client, tenant):
    created = await create_endpoint(
        client, PUBLIC, event_types=["shop.order.*", "shop.order.*"], description="CRM"
    )
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert created["event_types"] == ["shop.order.*"]  # de-duplicated
    assert created["enabled"] is True
    assert created["secret_version"] == 1

    listed = (await client.get("/api/v1/webhooks/endpoints")).json()
    assert [e["id"] for e in listed["items"]] == [created["id"]]
    path = f"/api/v1/webhooks/endpoints/{created['id']}"
    got = (await client.get(path)).json()
    assert got["url"] == PUBLIC
    assert got["description"] == "CRM"
    assert "secret" not in got
    assert "secret" not in listed["items"][0]

    changed = await client.patch(path, json={"description": "ERP", "event_types": ["*"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "ERP"
    assert changed.json()["event_types"] == ["*"]
    paused = (await client.patch(path, json={"enabled": False})).json()
    assert paused["enabled"] is False
    assert paused["disabled_reason"] == "disabled by a user"
    resumed = (await client.post(f"{path}/enable")).json()
    assert resumed["enabled"] is True
    assert resumed["disabled_reason"] is None

    assert (await client.delete(path)).status_code == 204
    gone = await client.get(path)
    assert gone.status_code == 404
    assert gone.json()["type"] == "/problems/webhooks-endpoint-not-found"
    assert gone.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/webhooks/endpoints")).json()["items"] == []


async def test_secrets_live_in_the_vault_and_go_with_the_endpoint(client, tenant, platform):
    from kernel import tenant_scope

    created = await create_endpoint(client, PUBLIC)
    name = f"webhooks.signing.{uuid.UUID(created['id']).hex}-v1"
    value = await platform.vault.reveal(name, plugin="webhooks", purpose="test", tenant_id=tenant)
    assert value is not None
    assert value.reveal() == created["secret"]
    await client.delete(f"/api/v1/webhooks/endpoints/{created['id']}")
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            assert await platform.vault.get(session, name) is None


async def test_problems(client, tenant, webhook_settings):
    bad_pattern = await client.post(
        "/api/v1/webhooks/endpoints", json={"url": PUBLIC, "event_types": ["Shop.*"]}
    )
    assert bad_pattern.status_code == 422
    assert bad_pattern.json()["type"] == "/problems/validation-error"

    unknown = await client.post(
        "/api/v1/webhooks/endpoints", json={"url": PUBLIC, "event_types": ["shop.*", "shpo.*"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["type"] == "/problems/webhooks-unknown-event-type"
    assert unknown.json()["patterns"] == ["shpo.*"]

    for url, reason in [
        ("ftp://93.184.215.14/x", "invalid-url"),
        ("https://user:pw@93.184.215.14/x", "invalid-url"),
        ("http://93.184.215.14/x", "https-required"),
        ("https://no-such-host.invalid/x", "unresolvable"),
    ]:
        refused = await client.post(
            "/api/v1/webhooks/endpoints", json={"url": url, "event_types": ["*"]}
        )
        assert refused.status_code == 422, (url, refused.text)
        body = refused.json()
        assert body["type"] == "/problems/webhooks-url-refused"
        assert body["reason"] == reason
        assert "pw" not in refused.text

    missing = uuid.uuid4()
    for method, path in [
        ("GET", f"/api/v1/webhooks/endpoints/{missing}"),
        ("PATCH", f"/api/v1/webhooks/endpoints/{missing}"),
        ("DELETE", f"/api/v1/webhooks/endpoints/{missing}"),
        ("POST", f"/api/v1/webhooks/endpoints/{missing}/test"),
        ("POST", f"/api/v1/webhooks/endpoints/{missing}/rotate-secret"),
        ("POST", f"/api/v1/webhooks/endpoints/{missing}/enable"),
        ("GET", f"/api/v1/webhooks/deliveries/{missing}"),
        ("POST", f"/api/v1/webhooks/deliveries/{missing}/replay"),
    ]:
        response = await client.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)
    bulk = await client.post(
        "/api/v1/webhooks/deliveries/replay", json={"endpoint_id": str(missing)}
    )
    assert bulk.json()["type"] == "/problems/webhooks-endpoint-not-found"

    endpoint = await create_endpoint(client, PUBLIC)
    allowed = await client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}", json={"url": "https://127.0.0.1/x"}
    )
    assert allowed.status_code == 200  # loopback is allowed in these tests (the operator)


async def test_endpoint_cap(kraliki_make_app, kraliki_authenticate, webhook_settings):
    from webhook_helpers import ALL

    from kernel.testing import app_client

    webhook_settings(max_endpoints=1)
    app = await kraliki_make_app(background_workers=False)
    async with app_client(app) as client:
        tenant_id = await make_tenant(app.state.platform, "capped")
        kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant_id)
        await create_endpoint(client, PUBLIC)
        second = await client.post(
            "/api/v1/webhooks/endpoints", json={"url": PUBLIC, "event_types": ["*"]}
        )
        assert second.status_code == 409
        assert second.json()["type"] == "/problems/webhooks-too-many-endpoints"


async def test_rotation_returns_the_new_secret_once(client, tenant):
    endpoint = await create_endpoint(client, PUBLIC)
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    rotated = await client.post(f"{path}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != endpoint["secret"]
    assert body["endpoint"]["secret_version"] == 2
    assert body["endpoint"]["previous_secret_expires_at"] is not None
    again = await client.post(f"{path}/rotate-secret", json={"grace_hours": 0})
    assert again.json()["endpoint"]["previous_secret_expires_at"] is None
    got = (await client.get(path)).json()
    assert got["secret_version"] == 3
    assert body["secret"] not in str(got)
    assert again.json()["secret"] not in str(got)


async def test_event_types_lists_what_can_be_subscribed(client, tenant):
    names = [t["name"] for t in (await client.get("/api/v1/webhooks/event-types")).json()]
    assert {"shop.order.placed", "webhooks.endpoint.disabled", "webhooks.delivery.dead"} <= set(
        names
    )


async def test_built_in_roles(client, platform):
    tenant_id = await make_tenant(platform, "roles")
    await make_user(platform, tenant_id, "admin@roles.example.com", roles=["admin"])
    await make_user(platform, tenant_id, "crm@roles.example.com", roles=["integrator"])
    await make_user(platform, tenant_id, "agent@roles.example.com", roles=["agent"])
    admin = await login(client, "admin@roles.example.com", tenant="roles")
    integrator = await login(client, "crm@roles.example.com", tenant="roles")
    agent = await login(client, "agent@roles.example.com", tenant="roles")
    body = {"url": PUBLIC, "event_types": ["*"]}
    made = await client.post("/api/v1/webhooks/endpoints", json=body, headers=admin)
    assert made.status_code == 201, made.text
    listed = await client.get("/api/v1/webhooks/endpoints", headers=integrator)
    assert len(listed.json()["items"]) == 1
    assert (await client.get("/api/v1/webhooks/deliveries", headers=integrator)).status_code == 200
    denied = await client.get("/api/v1/webhooks/endpoints", headers=agent)
    assert denied.status_code == 403
    assert (await client.get("/api/v1/webhooks/endpoints")).status_code == 401


async def test_subscribing_needs_the_events_read_permission(
    client, app, tenant, kraliki_authenticate
):
    kraliki_authenticate(
        app, "webhooks.endpoints:read", "webhooks.endpoints:write", kind="user", tenant_id=tenant
    )
    for patterns in (["shop.*"], ["*"], ["shop.order.paid"]):
        denied = await client.post(
            "/api/v1/webhooks/endpoints", json={"url": PUBLIC, "event_types": patterns}
        )
        assert denied.status_code == 403, denied.text
        assert denied.json()["type"] == "/problems/webhooks-event-not-permitted"
        assert "shop.order.paid" in denied.json()["events"]
    kraliki_authenticate(
        app, "webhooks.endpoints:write", "webhooks.deliveries:read", kind="user", tenant_id=tenant
    )
    created = await create_endpoint(client, PUBLIC, event_types=["webhooks.delivery.*"])
    widened = await client.patch(
        f"/api/v1/webhooks/endpoints/{created['id']}", json={"event_types": ["webhooks.*"]}
    )
    assert widened.status_code == 403
    assert widened.json()["events"] == ["webhooks.endpoint.disabled"]
