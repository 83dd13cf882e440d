"""``/api/v1/users``: creating, inviting, listing, deactivating users and setting roles."""

from __future__ import annotations

import asyncio
import contextlib

from kernel._identity import grants

from .helpers import (
    ACCEPT,
    LOGIN,
    ME,
    PASSWORD,
    ROLES,
    USERS,
    audit_events,
    headers_for,
    make_user,
    problem,
    token_pair,
    unauthenticated,
)

NEW_PASSWORD = "a brand new password"


async def create(client, headers, **body):
    return await client.post(USERS, headers=headers, json=body)


async def test_admin_creates_a_user_who_can_log_in(kraliki_client, admin):
    response = await create(
        kraliki_client,
        admin,
        email="Bob@Example.com",
        display_name="Bob",
        password=NEW_PASSWORD,
        roles=["supervisor"],
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == "bob@example.com"
    assert user["display_name"] == "Bob"
    assert user["roles"] == ["supervisor"]
    assert user["is_active"] is True
    assert user["invitation_pending"] is False
    assert user["invitation_token"] is None
    assert user["last_login_at"] is None
    assert NEW_PASSWORD not in response.text
    assert "password" not in response.text
    me = await kraliki_client.get(
        ME, headers=await headers_for(kraliki_client, "bob@example.com", NEW_PASSWORD)
    )
    assert me.json()["roles"] == ["supervisor"]


async def test_invitation_sets_the_password_once(kraliki_client, admin):
    response = await create(kraliki_client, admin, email="bob@example.com")
    assert response.status_code == 201, response.text
    invited = response.json()
    token = invited["invitation_token"]
    assert token.startswith("kiv_")
    assert invited["invitation_pending"] is True
    shown = await kraliki_client.get(f"{USERS}/{invited['id']}", headers=admin)
    assert "invitation_token" not in shown.json()
    assert token not in shown.text
    assert token not in (await kraliki_client.get(USERS, headers=admin)).text

    # No password yet: nothing logs in, not even the timing-equalizer's password.
    for password in (NEW_PASSWORD, "kraliki-timing-equalizer"):
        refused = await kraliki_client.post(
            LOGIN, json={"tenant": "acme", "email": "bob@example.com", "password": password}
        )
        problem(refused, 401, "invalid-credentials")

    short = await kraliki_client.post(ACCEPT, json={"token": token, "password": "tiny-pass"})
    problem(short, 422, "validation-error")
    assert "tiny-pass" not in short.text
    accepted = await kraliki_client.post(ACCEPT, json={"token": token, "password": NEW_PASSWORD})
    assert accepted.status_code == 204, accepted.text
    await token_pair(kraliki_client, "bob@example.com", NEW_PASSWORD)

    again = await kraliki_client.post(ACCEPT, json={"token": token, "password": "another password"})
    problem(again, 401, "unauthenticated")
    await token_pair(kraliki_client, "bob@example.com", NEW_PASSWORD)  # unchanged
    after = await kraliki_client.get(f"{USERS}/{invited['id']}", headers=admin)
    assert after.json()["invitation_pending"] is False
    (event,) = await audit_events(kraliki_client, admin, action="user.invitation_accepted")
    assert event["target_id"] == invited["id"]
    assert token not in str(event)


async def test_invalid_or_dead_invitations_are_refused(kraliki_client, admin, acme):
    for token in ("garbage", f"kiv_{acme.hex}_" + "x" * 43, "kiv_platform_" + "x" * 43):
        response = await kraliki_client.post(
            ACCEPT, json={"token": token, "password": NEW_PASSWORD}
        )
        problem(response, 401, "unauthenticated")
    invited = (await create(kraliki_client, admin, email="bob@example.com")).json()
    await kraliki_client.post(f"{USERS}/{invited['id']}/deactivate", headers=admin)
    response = await kraliki_client.post(
        ACCEPT, json={"token": invited["invitation_token"], "password": NEW_PASSWORD}
    )
    problem(response, 401, "unauthenticated")


async def test_duplicate_email_is_a_conflict(kraliki_client, kraliki_platform, admin, globex):
    await make_user(kraliki_platform, globex, "bob@example.com")  # another tenant: no clash
    first = await create(kraliki_client, admin, email="bob@example.com", password=NEW_PASSWORD)
    assert first.status_code == 201
    assert first.json()["roles"] == ["agent"]  # the default
    again = await create(kraliki_client, admin, email="BOB@example.com", password=NEW_PASSWORD)
    problem(again, 409, "conflict")
    taken = await create(kraliki_client, admin, email="admin@example.com")
    problem(taken, 409, "conflict")


async def test_create_validates_its_input(kraliki_client, admin):
    cases = [
        {"email": "not an email", "password": NEW_PASSWORD},
        {"email": "bob@example.com", "password": "too short"},
        {"email": "bob@example.com", "roles": ["Not A Role Name"]},
        {"email": "bob@example.com", "is_active": False},
    ]
    for body in cases:
        problem(await create(kraliki_client, admin, **body), 422, "validation-error")


async def test_unknown_role_is_refused(kraliki_client, admin, agent_id):
    response = await create(kraliki_client, admin, email="bob@example.com", roles=["wizard"])
    body = problem(response, 422, "unknown-role")
    assert body["roles"] == ["wizard"]
    listed = await kraliki_client.get(USERS, headers=admin, params={"email": "bob@example.com"})
    assert listed.json()["items"] == []
    put = await kraliki_client.put(
        f"{USERS}/{agent_id}/roles", headers=admin, json={"roles": ["agent", "wizard"]}
    )
    problem(put, 422, "unknown-role")


async def test_list_pages_through_every_user(kraliki_client, kraliki_platform, acme, admin):
    for name in ("bob", "carol", "dave"):
        await make_user(kraliki_platform, acme, f"{name}@example.com")
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await kraliki_client.get(USERS, headers=admin, params=params)).json()
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["email"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [
        "admin@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
    ]
    assert seen[0] == "dave@example.com"  # newest first
    bad = await kraliki_client.get(USERS, headers=admin, params={"cursor": "nonsense"})
    problem(bad, 400, "invalid-cursor")


async def test_list_filters_by_email_and_activity(kraliki_client, kraliki_platform, acme, admin):
    bob = await make_user(kraliki_platform, acme, "bob@example.com")
    await make_user(kraliki_platform, acme, "carol@example.com")
    await kraliki_client.post(f"{USERS}/{bob}/deactivate", headers=admin)

    async def emails(**params):
        response = await kraliki_client.get(USERS, headers=admin, params=params)
        assert response.status_code == 200
        return sorted(user["email"] for user in response.json()["items"])

    assert await emails(email=" Carol@Example.com") == ["carol@example.com"]
    assert await emails(email="nobody@example.com") == []
    assert await emails(active="false") == ["bob@example.com"]
    assert await emails(active="true") == ["admin@example.com", "carol@example.com"]


async def test_get_and_patch_a_user(kraliki_client, admin, admin_id, agent_id):
    response = await kraliki_client.get(f"{USERS}/{agent_id}", headers=admin)
    assert response.status_code == 200
    user = response.json()
    assert user["id"] == str(agent_id)
    assert user["email"] == "agent@example.com"
    assert user["roles"] == ["agent"]
    missing = await kraliki_client.get(
        f"{USERS}/00000000-0000-0000-0000-000000000000", headers=admin
    )
    problem(missing, 404, "not-found")

    patched = await kraliki_client.patch(
        f"{USERS}/{agent_id}", headers=admin, json={"display_name": "Agent Smith"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["display_name"] == "Agent Smith"
    shown = await kraliki_client.get(f"{USERS}/{agent_id}", headers=admin)
    assert shown.json()["display_name"] == "Agent Smith"


async def test_users_of_another_tenant_are_invisible(
    kraliki_client, kraliki_platform, admin, globex
):
    stranger = await make_user(kraliki_platform, globex, "stranger@example.com")
    problem(await kraliki_client.get(f"{USERS}/{stranger}", headers=admin), 404, "not-found")
    deactivate = await kraliki_client.post(f"{USERS}/{stranger}/deactivate", headers=admin)
    problem(deactivate, 404, "not-found")
    listed = (await kraliki_client.get(USERS, headers=admin)).json()["items"]
    assert "stranger@example.com" not in [user["email"] for user in listed]


async def test_password_reset_ends_the_users_sessions(kraliki_client, admin, agent, agent_id):
    response = await kraliki_client.patch(
        f"{USERS}/{agent_id}", headers=admin, json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.text
    unauthenticated(await kraliki_client.get(ME, headers=agent))
    old = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "agent@example.com", "password": PASSWORD}
    )
    problem(old, 401, "invalid-credentials")
    await token_pair(kraliki_client, "agent@example.com", NEW_PASSWORD)


async def test_admin_cannot_reset_an_owners_password(kraliki_client, admin, owner_id):
    response = await kraliki_client.patch(
        f"{USERS}/{owner_id}", headers=admin, json={"password": NEW_PASSWORD}
    )
    body = problem(response, 403, "forbidden")
    assert "tenant.ownership:manage" in body["missing_permissions"]
    await token_pair(kraliki_client, "owner@example.com")  # the password did not change


async def test_deactivation_locks_the_user_out_at_once(kraliki_client, admin, agent, agent_id):
    assert (await kraliki_client.get(ME, headers=agent)).status_code == 200
    response = await kraliki_client.post(f"{USERS}/{agent_id}/deactivate", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    unauthenticated(await kraliki_client.get(ME, headers=agent))
    login = await kraliki_client.post(
        LOGIN, json={"tenant": "acme", "email": "agent@example.com", "password": PASSWORD}
    )
    problem(login, 401, "invalid-credentials")

    reactivated = await kraliki_client.post(f"{USERS}/{agent_id}/reactivate", headers=admin)
    assert reactivated.status_code == 200
    assert reactivated.json()["is_active"] is True
    unauthenticated(await kraliki_client.get(ME, headers=agent))  # old sessions stay ended
    await token_pair(kraliki_client, "agent@example.com")

    again = await kraliki_client.post(f"{USERS}/{agent_id}/reactivate", headers=admin)
    assert again.status_code == 200  # no change, nothing recorded
    events = await audit_events(kraliki_client, admin, action="user.", target_id=str(agent_id))
    assert [e["action"] for e in events] == ["user.reactivated", "user.deactivated"]


async def test_setting_roles_takes_effect_on_the_next_request(
    kraliki_client, admin, agent, agent_id
):
    problem(await kraliki_client.get(USERS, headers=agent), 403, "forbidden")
    response = await kraliki_client.put(
        f"{USERS}/{agent_id}/roles", headers=admin, json={"roles": ["supervisor", "agent"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["agent", "supervisor"]
    me = (await kraliki_client.get(ME, headers=agent)).json()
    assert me["roles"] == ["agent", "supervisor"]
    assert "users:read" in me["permissions"]
    assert (await kraliki_client.get(USERS, headers=agent)).status_code == 200

    down = await kraliki_client.put(f"{USERS}/{agent_id}/roles", headers=admin, json={"roles": []})
    assert down.json()["roles"] == []
    assert (await kraliki_client.get(ME, headers=agent)).status_code == 403
    problem(await kraliki_client.get(USERS, headers=agent), 403, "forbidden")


async def test_an_agent_cannot_manage_users(kraliki_client, agent, admin_id):
    problem(await create(kraliki_client, agent, email="x@example.com"), 403, "forbidden")
    deactivate = await kraliki_client.post(f"{USERS}/{admin_id}/deactivate", headers=agent)
    problem(deactivate, 403, "forbidden")
    roles = await kraliki_client.put(
        f"{USERS}/{admin_id}/roles", headers=agent, json={"roles": ["agent"]}
    )
    problem(roles, 403, "forbidden")


async def test_a_supervisor_reads_users_but_cannot_write(kraliki_client, kraliki_platform, acme):
    sue = await make_user(kraliki_platform, acme, "sue@example.com", roles=["supervisor"])
    headers = await headers_for(kraliki_client, "sue@example.com")
    assert (await kraliki_client.get(f"{USERS}/{sue}", headers=headers)).status_code == 200
    patch = await kraliki_client.patch(
        f"{USERS}/{sue}", headers=headers, json={"display_name": "x"}
    )
    problem(patch, 403, "forbidden")


async def test_an_admin_cannot_make_an_owner(kraliki_client, admin, admin_id, agent_id):
    response = await create(kraliki_client, admin, email="boss@example.com", roles=["owner"])
    body = problem(response, 403, "forbidden")
    assert body["missing_permissions"] == ["tenant.ownership:manage"]
    for user_id in (agent_id, admin_id):  # nor promote anyone, themselves included
        put = await kraliki_client.put(
            f"{USERS}/{user_id}/roles", headers=admin, json={"roles": ["owner"]}
        )
        assert problem(put, 403, "forbidden")["missing_permissions"] == ["tenant.ownership:manage"]
    me = (await kraliki_client.get(ME, headers=admin)).json()
    assert me["roles"] == ["admin"]


async def test_an_owner_can_make_an_owner(kraliki_client, owner, agent, agent_id):
    response = await kraliki_client.put(
        f"{USERS}/{agent_id}/roles", headers=owner, json={"roles": ["owner"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["owner"]
    me = (await kraliki_client.get(ME, headers=agent)).json()
    assert "tenant.ownership:manage" in me["permissions"]
    created = await create(kraliki_client, owner, email="boss@example.com", roles=["owner"])
    assert created.status_code == 201


async def test_the_last_owner_stays(kraliki_client, owner, owner_id):
    deactivate = await kraliki_client.post(f"{USERS}/{owner_id}/deactivate", headers=owner)
    problem(deactivate, 409, "last-owner")
    demote = await kraliki_client.put(
        f"{USERS}/{owner_id}/roles", headers=owner, json={"roles": ["admin"]}
    )
    problem(demote, 409, "last-owner")
    me = (await kraliki_client.get(ME, headers=owner)).json()
    assert me["roles"] == ["owner"]


async def test_an_owner_can_step_down_when_another_active_owner_remains(
    kraliki_client, kraliki_platform, acme, owner, owner_id
):
    second = await make_user(kraliki_platform, acme, "second@example.com", roles=["owner"])
    demote = await kraliki_client.put(
        f"{USERS}/{owner_id}/roles", headers=owner, json={"roles": ["admin"]}
    )
    assert demote.status_code == 200, demote.text
    # Now `second` is the last owner.
    second_headers = await headers_for(kraliki_client, "second@example.com")
    problem(
        await kraliki_client.post(f"{USERS}/{second}/deactivate", headers=second_headers),
        409,
        "last-owner",
    )


async def test_an_inactive_owner_does_not_count_as_the_remaining_owner(
    kraliki_client, kraliki_platform, acme, owner, owner_id
):
    second = await make_user(kraliki_platform, acme, "second@example.com", roles=["owner"])
    assert (
        await kraliki_client.post(f"{USERS}/{second}/deactivate", headers=owner)
    ).status_code == 200
    problem(
        await kraliki_client.put(
            f"{USERS}/{owner_id}/roles", headers=owner, json={"roles": ["admin"]}
        ),
        409,
        "last-owner",
    )


async def test_an_invited_owner_who_never_accepted_does_not_count(kraliki_client, owner, owner_id):
    invited = await create(kraliki_client, owner, email="heir@example.com", roles=["owner"])
    assert invited.status_code == 201, invited.text
    assert invited.json()["invitation_pending"] is True
    problem(
        await kraliki_client.post(f"{USERS}/{owner_id}/deactivate", headers=owner),
        409,
        "last-owner",
    )
    problem(
        await kraliki_client.put(
            f"{USERS}/{owner_id}/roles", headers=owner, json={"roles": ["admin"]}
        ),
        409,
        "last-owner",
    )
    problem(
        await kraliki_client.delete(f"{ROLES}/owner/members/{owner_id}", headers=owner),
        409,
        "last-owner",
    )
    # The organization still has an owner who can log in.
    assert (await kraliki_client.get(ME, headers=owner)).json()["roles"] == ["owner"]

    # Once the invitee has set a password, the first owner may step down.
    accepted = await kraliki_client.post(
        ACCEPT, json={"token": invited.json()["invitation_token"], "password": NEW_PASSWORD}
    )
    assert accepted.status_code == 204, accepted.text
    deactivate = await kraliki_client.post(f"{USERS}/{owner_id}/deactivate", headers=owner)
    assert deactivate.status_code == 200, deactivate.text
    heir = await headers_for(kraliki_client, "heir@example.com", NEW_PASSWORD)
    assert (await kraliki_client.get(ME, headers=heir)).json()["roles"] == ["owner"]


async def test_user_changes_are_audited(kraliki_client, admin, admin_id, agent_id):
    created = (
        await create(kraliki_client, admin, email="bob@example.com", password=NEW_PASSWORD)
    ).json()
    invited = (await create(kraliki_client, admin, email="carol@example.com")).json()
    await kraliki_client.post(f"{USERS}/{agent_id}/deactivate", headers=admin)
    await kraliki_client.put(
        f"{USERS}/{created['id']}/roles", headers=admin, json={"roles": ["supervisor"]}
    )
    events = await audit_events(kraliki_client, admin, action="user.")
    by_action = {event["action"]: event for event in events}
    assert set(by_action) == {
        "user.created",
        "user.invited",
        "user.deactivated",
        "user.roles_changed",
    }
    assert by_action["user.created"]["target_id"] == created["id"]
    assert by_action["user.created"]["details"] == {"email": "bob@example.com", "roles": ["agent"]}
    assert by_action["user.invited"]["target_id"] == invited["id"]
    assert by_action["user.deactivated"]["target_id"] == str(agent_id)
    assert by_action["user.roles_changed"]["details"] == {
        "added": ["supervisor"],
        "removed": ["agent"],
    }
    for event in events:
        assert event["actor_kind"] == "user"
        assert event["actor_id"] == str(admin_id)
        assert event["actor_label"] == "admin@example.com"
    text = str(events)
    assert NEW_PASSWORD not in text
    assert invited["invitation_token"] not in text


async def test_concurrent_demotions_still_leave_an_owner(
    kraliki_client, kraliki_platform, acme, monkeypatch
):
    first = await make_user(kraliki_platform, acme, "first@example.com", roles=["owner"])
    second = await make_user(kraliki_platform, acme, "second@example.com", roles=["owner"])
    first_headers = await headers_for(kraliki_client, "first@example.com")
    second_headers = await headers_for(kraliki_client, "second@example.com")
    # Make the interleaving as hostile as possible: each request passes the owner check, then
    # waits until the other has checked too. The check serialises the two (the first holds
    # the tenant row), so the wait times out after 2 s (below SQLite's 5 s busy timeout).
    check = grants.check_owner_remains
    both_checked = asyncio.Barrier(2)

    async def check_then_wait(*args, **kwargs):
        await check(*args, **kwargs)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both_checked.wait(), timeout=2)

    monkeypatch.setattr(grants, "check_owner_remains", check_then_wait)
    responses = await asyncio.gather(
        kraliki_client.put(
            f"{USERS}/{first}/roles", headers=first_headers, json={"roles": ["admin"]}
        ),
        kraliki_client.put(
            f"{USERS}/{second}/roles", headers=second_headers, json={"roles": ["admin"]}
        ),
    )
    owners = (await kraliki_client.get(f"{ROLES}/owner", headers=first_headers)).json()
    assert owners["members"], "the organization has no owner left"
    assert sorted(r.status_code for r in responses) == [200, 409]
