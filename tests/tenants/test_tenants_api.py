"""The operator API for the tenant lifecycle (/api/v1/tenants)."""

from __future__ import annotations

from sqlalchemy import func, select

from kernel import Tenant, tenant_scope
from kernel.testing import operator_audit_events, tenant_models


async def test_create_tenant_with_owner_who_can_log_in(owner_login, kraliki_client, create_tenant):
    body = await create_tenant("acme")
    assert body["slug"] == "acme"
    assert body["status"] == "active"
    headers = await owner_login(kraliki_client, "acme")
    me = (await kraliki_client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["tenant"]["id"] == body["id"]
    assert me["roles"] == ["owner"]
    assert me["subject"] == body["owner_user_id"]


async def test_slug_is_unique_and_validated(kraliki_client, create_tenant, operator_headers):
    await create_tenant("acme")
    again = await kraliki_client.post(
        "/api/v1/tenants",
        headers=operator_headers,
        json={
            "name": "Other",
            "slug": "acme",
            "owner_email": "x@y.example.com",
            "owner_password": "owner password 123",
        },
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/slug-taken"
    bad = await kraliki_client.post(
        "/api/v1/tenants",
        headers=operator_headers,
        json={
            "name": "Bad",
            "slug": "Not A Slug",
            "owner_email": "x@y.example.com",
            "owner_password": "owner password 123",
        },
    )
    assert bad.status_code == 422


async def test_list_and_get(kraliki_client, create_tenant, operator_headers):
    a = await create_tenant("alpha")
    await create_tenant("beta")
    page = (await kraliki_client.get("/api/v1/tenants?limit=1", headers=operator_headers)).json()
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    rest = (
        await kraliki_client.get(
            f"/api/v1/tenants?limit=5&cursor={page['next_cursor']}", headers=operator_headers
        )
    ).json()
    assert {t["slug"] for t in page["items"] + rest["items"]} == {"alpha", "beta"}
    got = await kraliki_client.get(f"/api/v1/tenants/{a['id']}", headers=operator_headers)
    assert got.json()["slug"] == "alpha"
    missing = await kraliki_client.get(
        "/api/v1/tenants/00000000-0000-0000-0000-000000000000", headers=operator_headers
    )
    assert missing.status_code == 404


async def test_tenant_users_cannot_use_the_operator_api(owner_login, kraliki_client, create_tenant):
    await create_tenant("acme")
    headers = await owner_login(kraliki_client, "acme")
    for method, path in (
        ("GET", "/api/v1/tenants"),
        ("POST", "/api/v1/tenants"),
        ("GET", "/api/v1/audit/platform"),
        ("GET", "/api/v1/system/plugins"),
    ):
        response = await kraliki_client.request(method, path, headers=headers, json={})
        assert response.status_code == 403, path


async def test_operators_cannot_read_tenant_data(kraliki_client, create_tenant, operator_headers):
    await create_tenant("acme")
    for path in ("/api/v1/users", "/api/v1/audit", "/api/v1/tenant", "/api/v1/roles"):
        response = await kraliki_client.get(path, headers=operator_headers)
        assert response.status_code == 403, path


async def test_suspend_refuses_credentials_at_once_and_resume_restores(
    owner_login, kraliki_client, create_tenant, operator_headers
):
    acme = await create_tenant("acme")
    await create_tenant("beta")
    acme_headers = await owner_login(kraliki_client, "acme")
    beta_headers = await owner_login(kraliki_client, "beta")
    suspended = await kraliki_client.post(
        f"/api/v1/tenants/{acme['id']}/suspend", headers=operator_headers
    )
    assert suspended.json()["status"] == "suspended"
    refused = await kraliki_client.get("/api/v1/auth/me", headers=acme_headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/tenant-suspended"
    assert (await kraliki_client.get("/api/v1/auth/me", headers=beta_headers)).status_code == 200
    await kraliki_client.post(f"/api/v1/tenants/{acme['id']}/resume", headers=operator_headers)
    assert (await kraliki_client.get("/api/v1/auth/me", headers=acme_headers)).status_code == 200


async def test_delete_needs_the_slug_as_confirmation(
    kraliki_client, create_tenant, operator_headers
):
    acme = await create_tenant("acme")
    no = await kraliki_client.delete(f"/api/v1/tenants/{acme['id']}", headers=operator_headers)
    assert no.status_code == 409
    assert no.json()["type"] == "/problems/confirmation-required"
    wrong = await kraliki_client.delete(
        f"/api/v1/tenants/{acme['id']}?confirm=beta", headers=operator_headers
    )
    assert wrong.status_code == 409
    yes = await kraliki_client.delete(
        f"/api/v1/tenants/{acme['id']}?confirm=acme", headers=operator_headers
    )
    assert yes.status_code == 204
    gone = await kraliki_client.get(f"/api/v1/tenants/{acme['id']}", headers=operator_headers)
    assert gone.status_code == 404


async def _rows_per_table(platform, tenant_id) -> dict[str, int]:
    counts = {}
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for model in await tenant_models(platform):
                counts[model.__tablename__] = await session.scalar(
                    select(func.count()).select_from(model)
                )
    return counts


async def test_delete_purges_every_tenant_owned_row_and_only_that_tenants(
    owner_login, kraliki_client, kraliki_platform, create_tenant, operator_headers
):
    import uuid

    ids = {}
    for slug in ("acme", "beta"):
        tenant = await create_tenant(slug)
        ids[slug] = uuid.UUID(tenant["id"])
        headers = await owner_login(kraliki_client, slug)
        # rows in the identity tables: a user, a role, an API key, sessions, audit, settings
        await kraliki_client.post(
            "/api/v1/users",
            headers=headers,
            json={"email": f"agent@{slug}.example.com", "password": "agent password 123"},
        )
        await kraliki_client.post(
            "/api/v1/roles", headers=headers, json={"name": "qa", "permissions": ["users:read"]}
        )
        await kraliki_client.post("/api/v1/api-keys", headers=headers, json={"name": "crm"})
        await kraliki_client.patch(
            "/api/v1/tenant", headers=headers, json={"timezone": "Europe/Prague"}
        )
    before = await _rows_per_table(kraliki_platform, ids["acme"])
    populated = {table for table, count in before.items() if count}
    assert {
        "users",
        "auth_sessions",
        "refresh_tokens",
        "api_keys",
        "roles",
        "casbin_rule",
        "audit_events",
        "tenant_settings",
    } <= populated
    beta_before = await _rows_per_table(kraliki_platform, ids["beta"])

    response = await kraliki_client.delete(
        f"/api/v1/tenants/{ids['acme']}?confirm=acme", headers=operator_headers
    )
    assert response.status_code == 204
    assert set((await _rows_per_table(kraliki_platform, ids["acme"])).values()) == {0}
    assert await _rows_per_table(kraliki_platform, ids["beta"]) == beta_before


async def test_every_operator_action_is_in_the_operator_audit_log(
    kraliki_client, kraliki_platform, create_tenant, operator_headers
):
    acme = await create_tenant("acme")
    await kraliki_client.post(f"/api/v1/tenants/{acme['id']}/suspend", headers=operator_headers)
    await kraliki_client.post(f"/api/v1/tenants/{acme['id']}/resume", headers=operator_headers)
    await kraliki_client.delete(
        f"/api/v1/tenants/{acme['id']}?confirm=acme", headers=operator_headers
    )
    log = await kraliki_client.get("/api/v1/audit/platform", headers=operator_headers)
    actions = [event["action"] for event in log.json()["items"]]
    assert actions[:4] == ["tenant.deleted", "tenant.resumed", "tenant.suspended", "tenant.created"]
    assert all(e["operator_label"] == "ops@platform.example.com" for e in log.json()["items"])
    assert {e["tenant_id"] for e in log.json()["items"][:4]} == {acme["id"]}
    filtered = await kraliki_client.get(
        "/api/v1/audit/platform?action=tenant.suspended", headers=operator_headers
    )
    assert [e["action"] for e in filtered.json()["items"]] == ["tenant.suspended"]
    assert len(await operator_audit_events(kraliki_platform, "auth.login")) == 1


async def test_plugins_seed_defaults_and_are_told_of_deletion(
    kraliki_make_app, kraliki_register_plugin, make_plugin, operator_credentials
):
    from kernel.testing import app_client

    OPERATOR_EMAIL, OPERATOR_PASSWORD = operator_credentials

    calls: list[tuple[str, object, object]] = []

    def created(platform, tenant_id):
        from kernel import current_tenant_id

        calls.append(("created", tenant_id, current_tenant_id()))

    async def deleted(platform, tenant_id):
        from kernel import current_tenant_id

        async with platform.database.session() as session:
            still_there = await session.get(Tenant, tenant_id)
        calls.append(("deleted", tenant_id, still_there is not None and current_tenant_id()))

    def broken(platform, tenant_id):
        raise RuntimeError("seeding failed")

    kraliki_register_plugin(make_plugin("seeder", tenant_created=created, tenant_deleted=deleted))
    kraliki_register_plugin(make_plugin("broken", tenant_created=broken, tenant_deleted=broken))
    app = await kraliki_make_app()
    platform = app.state.platform
    from kernel.testing import add_operator, login

    await add_operator(platform, OPERATOR_EMAIL, OPERATOR_PASSWORD)
    async with app_client(app) as client:
        headers = await login(client, OPERATOR_EMAIL, OPERATOR_PASSWORD)
        response = await client.post(
            "/api/v1/tenants",
            headers=headers,
            json={
                "name": "Acme",
                "slug": "acme",
                "owner_email": "o@acme.example.com",
                "owner_password": "owner password 123",
            },
        )
        assert response.status_code == 201, "a failing plugin hook never breaks creation"
        tenant_id = response.json()["id"]
        deleted_response = await client.delete(
            f"/api/v1/tenants/{tenant_id}?confirm=acme", headers=headers
        )
        assert deleted_response.status_code == 204
    import uuid

    tid = uuid.UUID(tenant_id)
    assert calls == [("created", tid, tid), ("deleted", tid, tid)]
    assert platform.hooks.failures[("broken", "kraliki_tenant_created")] == 1
    assert platform.hooks.failures[("broken", "kraliki_tenant_deleted")] == 1
