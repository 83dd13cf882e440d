"""Two workers (app instances) on one database: a change made through one is enforced by the
other on its very next request, and each worker reloads a tenant's policy only when the
tenant's policy version changed."""

from __future__ import annotations

from kernel.testing import app_client

from .helpers import ME, USERS, bearer, headers_for, make_tenant, make_user, problem, token_pair


async def two_workers(kraliki_make_app):
    first = await kraliki_make_app()
    second = await kraliki_make_app(migrate=False)  # the same database, a cache of its own
    return first, second


async def test_a_grant_made_on_one_worker_applies_on_the_other_at_once(kraliki_make_app):
    app1, app2 = await two_workers(kraliki_make_app)
    platform = app1.state.platform
    acme = await make_tenant(platform, "acme")
    await make_user(platform, acme, "admin@example.com", roles=["admin"])
    agent_id = await make_user(platform, acme, "agent@example.com")
    policies = app2.state.platform.identity.policies
    async with app_client(app1) as worker1, app_client(app2) as worker2:
        admin = await headers_for(worker1, "admin@example.com")
        agent = await headers_for(worker1, "agent@example.com")  # tokens work on every worker

        problem(await worker2.get(USERS, headers=agent), 403, "forbidden")
        loads = policies.loads
        problem(await worker2.get(USERS, headers=agent), 403, "forbidden")
        assert policies.loads == loads, "unchanged version: the cached policy is used"

        promoted = await worker1.put(
            f"{USERS}/{agent_id}/roles", headers=admin, json={"roles": ["admin"]}
        )
        assert promoted.status_code == 200, promoted.text

        assert (await worker2.get(USERS, headers=agent)).status_code == 200
        assert policies.loads == loads + 1, "the version changed: reloaded once"
        assert (await worker2.get(ME, headers=agent)).json()["roles"] == ["admin"]
        assert policies.loads == loads + 1


async def test_a_revocation_made_on_one_worker_applies_on_the_other_at_once(kraliki_make_app):
    app1, app2 = await two_workers(kraliki_make_app)
    platform = app1.state.platform
    acme = await make_tenant(platform, "acme")
    await make_user(platform, acme, "owner@example.com", roles=["owner"])
    admin_id = await make_user(platform, acme, "admin@example.com", roles=["admin"])
    async with app_client(app1) as worker1, app_client(app2) as worker2:
        owner = await headers_for(worker1, "owner@example.com")
        admin = await headers_for(worker2, "admin@example.com")
        assert (await worker2.get(USERS, headers=admin)).status_code == 200

        demoted = await worker1.put(
            f"{USERS}/{admin_id}/roles", headers=owner, json={"roles": ["agent"]}
        )
        assert demoted.status_code == 200, demoted.text

        problem(await worker2.get(USERS, headers=admin), 403, "forbidden")
        problem(
            await worker2.post(USERS, headers=admin, json={"email": "x@example.com"}),
            403,
            "forbidden",
        )


async def test_a_custom_role_change_on_one_worker_applies_on_the_other(kraliki_make_app):
    app1, app2 = await two_workers(kraliki_make_app)
    platform = app1.state.platform
    acme = await make_tenant(platform, "acme")
    await make_user(platform, acme, "admin@example.com", roles=["admin"])
    agent_id = await make_user(platform, acme, "agent@example.com")
    async with app_client(app1) as worker1, app_client(app2) as worker2:
        admin = await headers_for(worker1, "admin@example.com")
        agent = await headers_for(worker2, "agent@example.com")
        await worker1.post(
            "/api/v1/roles",
            headers=admin,
            json={"name": "directory", "permissions": ["users:read"]},
        )
        await worker1.post(
            "/api/v1/roles/directory/members", headers=admin, json={"user_id": str(agent_id)}
        )
        assert (await worker2.get(USERS, headers=agent)).status_code == 200
        await worker1.delete("/api/v1/roles/directory/permissions/users:read", headers=admin)
        problem(await worker2.get(USERS, headers=agent), 403, "forbidden")


async def test_a_deactivation_on_one_worker_refuses_the_token_on_the_other(kraliki_make_app):
    app1, app2 = await two_workers(kraliki_make_app)
    platform = app1.state.platform
    acme = await make_tenant(platform, "acme")
    await make_user(platform, acme, "admin@example.com", roles=["admin"])
    agent_id = await make_user(platform, acme, "agent@example.com")
    async with app_client(app1) as worker1, app_client(app2) as worker2:
        admin = await headers_for(worker1, "admin@example.com")
        pair = await token_pair(worker2, "agent@example.com")
        agent = bearer(pair["access_token"])
        assert (await worker2.get(ME, headers=agent)).status_code == 200

        response = await worker1.post(f"{USERS}/{agent_id}/deactivate", headers=admin)
        assert response.status_code == 200

        assert (await worker2.get(ME, headers=agent)).status_code == 401
        refreshed = await worker2.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status_code == 401


async def test_caches_are_per_tenant(kraliki_make_app):
    """A change in one tenant does not make a worker reload another tenant's policy."""
    app1, app2 = await two_workers(kraliki_make_app)
    platform = app1.state.platform
    acme = await make_tenant(platform, "acme")
    globex = await make_tenant(platform, "globex")
    await make_user(platform, acme, "admin@example.com", roles=["admin"])
    agent_id = await make_user(platform, acme, "agent@example.com")
    await make_user(platform, globex, "grace@example.com", roles=["admin"])
    policies = app2.state.platform.identity.policies
    async with app_client(app1) as worker1, app_client(app2) as worker2:
        admin = await headers_for(worker1, "admin@example.com")
        grace = await headers_for(worker2, "grace@example.com", tenant="globex")
        assert (await worker2.get(USERS, headers=grace)).status_code == 200
        loads = policies.loads
        await worker1.put(f"{USERS}/{agent_id}/roles", headers=admin, json={"roles": ["admin"]})
        assert (await worker2.get(USERS, headers=grace)).status_code == 200
        assert policies.loads == loads
