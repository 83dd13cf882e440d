"""``/api/v1/api-keys``: secrets shown once, role-bound permissions, revocation, expiry."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select, update

from kernel import tenant_scope, utcnow
from kernel._identity.models import ApiKey

from .helpers import (
    API_KEYS,
    ME,
    USERS,
    audit_events,
    bearer,
    make_user,
    problem,
    run,
    unauthenticated,
)


async def create_key(client, headers, **body):
    response = await client.post(API_KEYS, headers=headers, json={"name": "crm", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_shows_the_secret_once(kraliki_client, admin, admin_id, acme):
    key = await create_key(kraliki_client, admin, name="CRM sync")
    secret = key["secret"]
    assert secret.startswith(f"kvk_{acme.hex}_")
    assert len(secret) > 60
    assert key["name"] == "CRM sync"
    assert key["roles"] == ["integrator"]
    assert key["created_by"] == f"user:{admin_id}"
    assert key["expires_at"] is None
    assert key["revoked_at"] is None
    # The prefix shows the key's own first characters (the tenant part is the same for all).
    assert key["prefix"] == "kvk_" + secret.split("_", 2)[2][:8]

    listed = await kraliki_client.get(API_KEYS, headers=admin)
    shown = await kraliki_client.get(f"{API_KEYS}/{key['id']}", headers=admin)
    for response in (listed, shown):
        assert response.status_code == 200
        assert secret not in response.text
        assert "secret" not in response.text
    (item,) = listed.json()["items"]
    assert item["id"] == key["id"]
    assert item["prefix"] == key["prefix"]
    assert shown.json() == item
    other = await create_key(kraliki_client, admin, name="other")
    assert other["prefix"] != key["prefix"]
    assert other["secret"] != secret


async def test_the_key_authenticates_with_its_roles_permissions(kraliki_client, admin, acme):
    admin_key = await create_key(kraliki_client, admin, name="provisioning", roles=["admin"])
    integrator_key = await create_key(kraliki_client, admin, name="crm")

    assert (await kraliki_client.get(USERS, headers=bearer(admin_key["secret"]))).status_code == 200
    problem(
        await kraliki_client.get(USERS, headers=bearer(integrator_key["secret"])), 403, "forbidden"
    )
    me = await kraliki_client.get(ME, headers=bearer(integrator_key["secret"]))
    assert me.status_code == 200
    assert me.json() == {
        "subject": integrator_key["id"],
        "kind": "api_key",
        "label": "crm",
        "tenant": {"id": str(acme), "slug": "acme", "name": "Acme"},
        "roles": ["integrator"],
        "permissions": me.json()["permissions"],
    }
    assert "profile:read" in me.json()["permissions"]
    assert "users:read" not in me.json()["permissions"]


async def test_a_key_acts_in_its_tenant_only(kraliki_client, kraliki_platform, admin, globex):
    stranger = await make_user(kraliki_platform, globex, "stranger@example.com")
    key = await create_key(kraliki_client, admin, roles=["admin"])
    headers = bearer(key["secret"])
    problem(await kraliki_client.get(f"{USERS}/{stranger}", headers=headers), 404, "not-found")
    # Pointing the secret at another tenant (its tenant part) finds no key there.
    moved = key["secret"].replace(key["secret"].split("_")[1], globex.hex, 1)
    unauthenticated(await kraliki_client.get(ME, headers=bearer(moved)))


async def test_revoked_key_stops_working_at_once(kraliki_client, admin):
    key = await create_key(kraliki_client, admin)
    headers = bearer(key["secret"])
    assert (await kraliki_client.get(ME, headers=headers)).status_code == 200
    response = await kraliki_client.delete(f"{API_KEYS}/{key['id']}", headers=admin)
    assert response.status_code == 204
    unauthenticated(await kraliki_client.get(ME, headers=headers))
    again = await kraliki_client.delete(f"{API_KEYS}/{key['id']}", headers=admin)
    assert again.status_code == 204
    shown = (await kraliki_client.get(f"{API_KEYS}/{key['id']}", headers=admin)).json()
    assert shown["revoked_at"] is not None
    assert shown["roles"] == []
    missing = await kraliki_client.delete(
        f"{API_KEYS}/00000000-0000-0000-0000-000000000000", headers=admin
    )
    problem(missing, 404, "not-found")


async def test_expired_key_is_refused(kraliki_client, kraliki_platform, admin, acme):
    key = await create_key(kraliki_client, admin, expires_in_days=30)
    assert key["expires_at"] is not None
    headers = bearer(key["secret"])
    assert (await kraliki_client.get(ME, headers=headers)).status_code == 200
    await run(
        kraliki_platform,
        update(ApiKey)
        .where(ApiKey.name == "crm")
        .values(expires_at=utcnow() - timedelta(seconds=1)),
        acme,
    )
    unauthenticated(await kraliki_client.get(ME, headers=headers))


async def test_an_admin_cannot_create_an_owner_key(kraliki_client, admin, owner):
    response = await kraliki_client.post(
        API_KEYS, headers=admin, json={"name": "root", "roles": ["owner"]}
    )
    body = problem(response, 403, "forbidden")
    assert body["missing_permissions"] == ["tenant.ownership:manage"]
    assert (await kraliki_client.get(API_KEYS, headers=admin)).json()["items"] == []
    await create_key(kraliki_client, owner, name="root", roles=["owner"])


async def test_create_validates_its_input(kraliki_client, admin):
    for body in (
        {"name": ""},
        {"name": "x", "roles": []},
        {"name": "x", "expires_in_days": 0},
        {"name": "x", "secret": "kvk_mine"},
    ):
        response = await kraliki_client.post(API_KEYS, headers=admin, json=body)
        problem(response, 422, "validation-error")
    unknown = await kraliki_client.post(
        API_KEYS, headers=admin, json={"name": "x", "roles": ["wizard"]}
    )
    problem(unknown, 422, "unknown-role")


async def test_an_agent_cannot_see_or_create_keys(kraliki_client, agent):
    problem(await kraliki_client.get(API_KEYS, headers=agent), 403, "forbidden")
    response = await kraliki_client.post(API_KEYS, headers=agent, json={"name": "mine"})
    problem(response, 403, "forbidden")


async def test_keys_are_audited_without_their_secret(kraliki_client, admin, admin_id):
    key = await create_key(kraliki_client, admin, name="crm")
    await kraliki_client.delete(f"{API_KEYS}/{key['id']}", headers=admin)
    events = await audit_events(kraliki_client, admin, action="api_key.")
    assert [(e["action"], e["target_id"]) for e in events] == [
        ("api_key.revoked", key["id"]),
        ("api_key.created", key["id"]),
    ]
    assert events[1]["details"] == {"name": "crm", "roles": ["integrator"]}
    assert {e["actor_id"] for e in events} == {str(admin_id)}
    assert key["secret"] not in str(events)


async def test_the_database_keeps_only_the_secrets_hash(
    kraliki_client, kraliki_platform, admin, acme
):
    key = await create_key(kraliki_client, admin)
    with tenant_scope(acme):
        async with kraliki_platform.database.session() as session:
            (row,) = await session.scalars(select(ApiKey))
    assert row.secret_hash != key["secret"]
    assert row.secret_hash == hashlib.sha256(key["secret"].encode()).hexdigest()
    assert key["secret"] not in (row.prefix, row.name, row.created_by)


async def test_last_used_is_recorded_at_most_once_a_minute(
    kraliki_client, kraliki_platform, admin, acme
):
    key = await create_key(kraliki_client, admin)
    assert key["last_used_at"] is None

    async def use_then_read() -> str | None:
        assert (await kraliki_client.get(ME, headers=bearer(key["secret"]))).status_code == 200
        await kraliki_platform.identity.drain()  # the write happens after the request
        shown = await kraliki_client.get(f"{API_KEYS}/{key['id']}", headers=admin)
        return shown.json()["last_used_at"]

    first = await use_then_read()
    assert first is not None
    assert await use_then_read() == first
    # A minute later (in the database and in the worker's memory) the next use moves it.
    with tenant_scope(acme):
        async with kraliki_platform.database.session() as session:
            await session.execute(
                update(ApiKey)
                .where(ApiKey.name == "crm")
                .values(last_used_at=utcnow() - timedelta(minutes=2))
            )
            await session.commit()
    kraliki_platform.identity._key_touched.clear()
    assert await use_then_read() > first
