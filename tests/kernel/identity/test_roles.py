"""``/api/v1/roles`` and ``/api/v1/permissions``: built-in and custom roles, grants, members."""

from __future__ import annotations

from kernel import BUILTIN_ROLES

from .helpers import (
    API_KEYS,
    ME,
    PERMISSIONS,
    ROLES,
    USERS,
    audit_events,
    bearer,
    problem,
)


async def create_role(client, headers, name="auditor", permissions=(), **extra):
    return await client.post(
        ROLES, headers=headers, json={"name": name, "permissions": list(permissions), **extra}
    )


async def test_permissions_lists_tenant_permissions_only(kraliki_client, admin):
    response = await kraliki_client.get(PERMISSIONS, headers=admin)
    assert response.status_code == 200
    permissions = {p["key"]: p for p in response.json()}
    assert {"profile:read", "users:read", "users:write", "tenant.ownership:manage"} <= set(
        permissions
    )
    assert "platform.audit:read" not in permissions
    assert "system.plugins:read" not in permissions
    users_read = permissions["users:read"]
    assert users_read["resource"] == "users"
    assert users_read["action"] == "read"
    assert users_read["plugin"] == "kernel"
    assert users_read["default_roles"] == ["admin", "owner", "supervisor"]
    assert permissions["tenant.ownership:manage"]["default_roles"] == ["owner"]


async def test_builtin_roles_are_listed(kraliki_client, admin, admin_id):
    response = await kraliki_client.get(ROLES, headers=admin)
    assert response.status_code == 200
    roles = {role["name"]: role for role in response.json()}
    assert list(roles) == list(BUILTIN_ROLES)
    assert all(role["builtin"] for role in roles.values())
    everything = {p["key"] for p in (await kraliki_client.get(PERMISSIONS, headers=admin)).json()}
    assert set(roles["owner"]["permissions"]) == everything
    assert "users:write" in roles["admin"]["permissions"]
    assert "tenant.ownership:manage" not in roles["admin"]["permissions"]
    assert "users:read" not in roles["agent"]["permissions"]
    assert roles["admin"]["members"] == [f"user:{admin_id}"]
    assert roles["owner"]["members"] == []


async def test_an_agent_cannot_read_roles(kraliki_client, agent):
    problem(await kraliki_client.get(ROLES, headers=agent), 403, "forbidden")
    problem(await kraliki_client.get(PERMISSIONS, headers=agent), 403, "forbidden")
    problem(await create_role(kraliki_client, agent), 403, "forbidden")


async def test_create_a_custom_role(kraliki_client, admin):
    response = await create_role(
        kraliki_client,
        admin,
        permissions=["users:read", "audit:read", "users:read"],
        description="Reads users and the log",
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "name": "auditor",
        "description": "Reads users and the log",
        "builtin": False,
        "permissions": ["audit:read", "users:read"],
        "members": [],
    }
    shown = await kraliki_client.get(f"{ROLES}/auditor", headers=admin)
    assert shown.json() == response.json()
    listed = [role["name"] for role in (await kraliki_client.get(ROLES, headers=admin)).json()]
    assert listed == [*BUILTIN_ROLES, "auditor"]
    problem(await kraliki_client.get(f"{ROLES}/nothing", headers=admin), 404, "not-found")


async def test_role_names_must_be_new(kraliki_client, admin):
    for name in ("admin", "owner"):
        problem(await create_role(kraliki_client, admin, name=name), 409, "conflict")
    assert (await create_role(kraliki_client, admin, name="auditor")).status_code == 201
    problem(await create_role(kraliki_client, admin, name="auditor"), 409, "conflict")
    problem(await create_role(kraliki_client, admin, name="Bad Name"), 422, "validation-error")


async def test_nobody_grants_what_they_do_not_hold(kraliki_client, admin, owner):
    response = await create_role(
        kraliki_client,
        admin,
        name="kingmaker",
        permissions=["users:read", "tenant.ownership:manage"],
    )
    body = problem(response, 403, "forbidden")
    assert body["missing_permissions"] == ["tenant.ownership:manage"]
    problem(await kraliki_client.get(f"{ROLES}/kingmaker", headers=admin), 404, "not-found")
    assert (await create_role(kraliki_client, admin, name="kingmaker")).status_code == 201
    grant = await kraliki_client.post(
        f"{ROLES}/kingmaker/permissions",
        headers=admin,
        json={"permission": "tenant.ownership:manage"},
    )
    assert problem(grant, 403, "forbidden")["missing_permissions"] == ["tenant.ownership:manage"]
    by_owner = await kraliki_client.post(
        f"{ROLES}/kingmaker/permissions",
        headers=owner,
        json={"permission": "tenant.ownership:manage"},
    )
    assert by_owner.status_code == 200, by_owner.text
    assert by_owner.json()["permissions"] == ["tenant.ownership:manage"]


async def test_an_admin_cannot_hand_out_a_role_that_holds_more_than_they_do(
    kraliki_client, admin, owner, agent_id
):
    created = await create_role(
        kraliki_client, owner, name="kingmaker", permissions=["tenant.ownership:manage"]
    )
    assert created.status_code == 201
    assign = await kraliki_client.post(
        f"{ROLES}/kingmaker/members", headers=admin, json={"user_id": str(agent_id)}
    )
    assert problem(assign, 403, "forbidden")["missing_permissions"] == ["tenant.ownership:manage"]
    delete = await kraliki_client.delete(f"{ROLES}/kingmaker", headers=admin)
    problem(delete, 403, "forbidden")


async def test_unknown_or_platform_permissions_are_refused(kraliki_client, admin):
    unknown = await create_role(kraliki_client, admin, permissions=["users:read", "calls:fly"])
    assert problem(unknown, 422, "unknown-permission")["permissions"] == ["calls:fly"]
    platform = await create_role(kraliki_client, admin, permissions=["platform.audit:read"])
    problem(platform, 422, "unknown-permission")
    assert (await create_role(kraliki_client, admin)).status_code == 201
    grant = await kraliki_client.post(
        f"{ROLES}/auditor/permissions", headers=admin, json={"permission": "system.plugins:read"}
    )
    problem(grant, 422, "unknown-permission")
    malformed = await kraliki_client.post(
        f"{ROLES}/auditor/permissions", headers=admin, json={"permission": "users"}
    )
    problem(malformed, 422, "validation-error")


async def test_builtin_roles_cannot_change(kraliki_client, owner):
    for response in (
        await kraliki_client.delete(f"{ROLES}/admin", headers=owner),
        await kraliki_client.post(
            f"{ROLES}/agent/permissions", headers=owner, json={"permission": "users:read"}
        ),
        await kraliki_client.delete(f"{ROLES}/admin/permissions/users:read", headers=owner),
    ):
        problem(response, 409, "builtin-role")
    roles = {r["name"]: r for r in (await kraliki_client.get(ROLES, headers=owner)).json()}
    assert "users:read" not in roles["agent"]["permissions"]
    assert "users:read" in roles["admin"]["permissions"]


async def test_grant_assign_revoke_unassign_take_effect_on_the_next_request(
    kraliki_client, admin, agent, agent_id
):
    problem(await kraliki_client.get(USERS, headers=agent), 403, "forbidden")
    assert (await create_role(kraliki_client, admin, name="directory")).status_code == 201
    grant = await kraliki_client.post(
        f"{ROLES}/directory/permissions", headers=admin, json={"permission": "users:read"}
    )
    assert grant.status_code == 200
    assert grant.json()["permissions"] == ["users:read"]
    assign = await kraliki_client.post(
        f"{ROLES}/directory/members", headers=admin, json={"user_id": str(agent_id)}
    )
    assert assign.status_code == 200, assign.text
    assert assign.json()["members"] == [f"user:{agent_id}"]
    assert (await kraliki_client.get(USERS, headers=agent)).status_code == 200
    me = (await kraliki_client.get(ME, headers=agent)).json()
    assert me["roles"] == ["agent", "directory"]
    assert "users:read" in me["permissions"]

    revoke = await kraliki_client.delete(f"{ROLES}/directory/permissions/users:read", headers=admin)
    assert revoke.status_code == 200
    assert revoke.json()["permissions"] == []
    problem(await kraliki_client.get(USERS, headers=agent), 403, "forbidden")

    await kraliki_client.post(
        f"{ROLES}/directory/permissions", headers=admin, json={"permission": "users:read"}
    )
    assert (await kraliki_client.get(USERS, headers=agent)).status_code == 200
    unassign = await kraliki_client.delete(f"{ROLES}/directory/members/{agent_id}", headers=admin)
    assert unassign.status_code == 200, unassign.text
    assert unassign.json()["members"] == []
    problem(await kraliki_client.get(USERS, headers=agent), 403, "forbidden")
    assert (await kraliki_client.get(ME, headers=agent)).json()["roles"] == ["agent"]
    again = await kraliki_client.delete(f"{ROLES}/directory/members/{agent_id}", headers=admin)
    problem(again, 404, "not-found")


async def test_members_must_exist_and_are_kept_once(kraliki_client, admin, agent_id):
    await create_role(kraliki_client, admin, name="directory")
    nobody = "00000000-0000-0000-0000-000000000000"
    for body, status, slug in (
        ({"user_id": nobody}, 404, "not-found"),
        ({"api_key_id": nobody}, 404, "not-found"),
        ({}, 422, "validation-error"),
        ({"user_id": str(agent_id), "api_key_id": nobody}, 422, "validation-error"),
    ):
        response = await kraliki_client.post(f"{ROLES}/directory/members", headers=admin, json=body)
        problem(response, status, slug)
    missing_role = await kraliki_client.post(
        f"{ROLES}/nothing/members", headers=admin, json={"user_id": str(agent_id)}
    )
    problem(missing_role, 404, "not-found")
    for _ in range(2):  # assigning twice keeps one membership
        response = await kraliki_client.post(
            f"{ROLES}/directory/members", headers=admin, json={"user_id": str(agent_id)}
        )
        assert response.json()["members"] == [f"user:{agent_id}"]
    assert len(await audit_events(kraliki_client, admin, action="role.assigned")) == 1


async def test_a_custom_role_can_be_given_to_an_api_key(kraliki_client, admin):
    key = (await kraliki_client.post(API_KEYS, headers=admin, json={"name": "crm"})).json()
    headers = bearer(key["secret"])
    problem(await kraliki_client.get(USERS, headers=headers), 403, "forbidden")
    await create_role(kraliki_client, admin, name="directory", permissions=["users:read"])
    assign = await kraliki_client.post(
        f"{ROLES}/directory/members", headers=admin, json={"api_key_id": key["id"]}
    )
    assert assign.json()["members"] == [f"key:{key['id']}"]
    assert (await kraliki_client.get(USERS, headers=headers)).status_code == 200
    unassign = await kraliki_client.delete(f"{ROLES}/directory/members/{key['id']}", headers=admin)
    assert unassign.status_code == 200
    problem(await kraliki_client.get(USERS, headers=headers), 403, "forbidden")


async def test_deleting_a_role_takes_it_from_its_members(kraliki_client, admin, agent, agent_id):
    await create_role(kraliki_client, admin, name="directory", permissions=["users:read"])
    await kraliki_client.post(
        f"{ROLES}/directory/members", headers=admin, json={"user_id": str(agent_id)}
    )
    assert (await kraliki_client.get(USERS, headers=agent)).status_code == 200
    response = await kraliki_client.delete(f"{ROLES}/directory", headers=admin)
    assert response.status_code == 204
    problem(await kraliki_client.get(USERS, headers=agent), 403, "forbidden")
    assert (await kraliki_client.get(ME, headers=agent)).json()["roles"] == ["agent"]
    problem(await kraliki_client.get(f"{ROLES}/directory", headers=admin), 404, "not-found")
    problem(await kraliki_client.delete(f"{ROLES}/directory", headers=admin), 404, "not-found")
    # A new role of the same name starts empty: nothing of the old one comes back.
    recreated = await create_role(kraliki_client, admin, name="directory")
    assert recreated.json()["members"] == []
    assert recreated.json()["permissions"] == []
    problem(await kraliki_client.get(USERS, headers=agent), 403, "forbidden")


async def test_builtin_roles_can_be_assigned_through_members(
    kraliki_client, owner, owner_id, admin, agent, agent_id
):
    last_owner = await kraliki_client.delete(f"{ROLES}/owner/members/{owner_id}", headers=owner)
    problem(last_owner, 409, "last-owner")
    assert (await kraliki_client.get(ME, headers=owner)).json()["roles"] == ["owner"]

    response = await kraliki_client.post(
        f"{ROLES}/supervisor/members", headers=admin, json={"user_id": str(agent_id)}
    )
    assert response.status_code == 200
    assert (await kraliki_client.get(USERS, headers=agent)).status_code == 200
    owner = await kraliki_client.post(
        f"{ROLES}/owner/members", headers=admin, json={"user_id": str(agent_id)}
    )
    problem(owner, 403, "forbidden")


async def test_role_changes_are_audited(kraliki_client, admin, agent_id):
    await create_role(kraliki_client, admin, name="directory", permissions=["users:read"])
    await kraliki_client.post(
        f"{ROLES}/directory/permissions", headers=admin, json={"permission": "audit:read"}
    )
    await kraliki_client.delete(f"{ROLES}/directory/permissions/audit:read", headers=admin)
    await kraliki_client.post(
        f"{ROLES}/directory/members", headers=admin, json={"user_id": str(agent_id)}
    )
    await kraliki_client.delete(f"{ROLES}/directory/members/{agent_id}", headers=admin)
    await kraliki_client.delete(f"{ROLES}/directory", headers=admin)
    events = await audit_events(kraliki_client, admin, action="role.")
    assert [e["action"] for e in reversed(events)] == [
        "role.created",
        "role.permission_granted",
        "role.permission_revoked",
        "role.assigned",
        "role.unassigned",
        "role.deleted",
    ]
    assert {e["target_id"] for e in events} == {"directory"}
