"""A suspended tenant: every credential of it is refused at once, and resuming restores them."""

from __future__ import annotations

from .helpers import (
    API_KEYS,
    LOGIN,
    ME,
    PASSWORD,
    REFRESH,
    USERS,
    bearer,
    headers_for,
    make_user,
    problem,
    set_tenant_status,
    token_pair,
)


def suspended(response) -> None:
    body = problem(response, 403, "tenant-suspended")
    assert body["title"] == "Organization suspended"


async def test_suspension_refuses_tokens_and_keys_at_once(
    kraliki_client, kraliki_platform, acme, admin
):
    key = (await kraliki_client.post(API_KEYS, headers=admin, json={"name": "crm"})).json()
    assert (await kraliki_client.get(ME, headers=bearer(key["secret"]))).status_code == 200

    await set_tenant_status(kraliki_platform, acme, "suspended")

    suspended(await kraliki_client.get(USERS, headers=admin))
    suspended(await kraliki_client.get(ME, headers=admin))
    suspended(await kraliki_client.get(ME, headers=bearer(key["secret"])))


async def test_suspended_tenant_cannot_log_in_or_refresh(kraliki_client, kraliki_platform, acme):
    await make_user(kraliki_platform, acme, "ada@example.com")
    pair = await token_pair(kraliki_client, "ada@example.com")
    await set_tenant_status(kraliki_platform, acme, "suspended")

    right = {"tenant": "acme", "email": "ada@example.com", "password": PASSWORD}
    suspended(await kraliki_client.post(LOGIN, json=right))
    # Wrong credentials still get the answer that tells nothing.
    wrong = await kraliki_client.post(LOGIN, json=right | {"password": "wrong"})
    problem(wrong, 401, "invalid-credentials")

    refreshed = await kraliki_client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    suspended(refreshed)

    # The refusal did not use the refresh token up: it works again after resuming.
    await set_tenant_status(kraliki_platform, acme, "active")
    again = await kraliki_client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 200, again.text


async def test_other_tenants_are_unaffected(kraliki_client, kraliki_platform, acme, globex):
    await make_user(kraliki_platform, globex, "grace@example.com", roles=["admin"])
    grace = await headers_for(kraliki_client, "grace@example.com", tenant="globex")
    await set_tenant_status(kraliki_platform, acme, "suspended")
    assert (await kraliki_client.get(USERS, headers=grace)).status_code == 200
    await token_pair(kraliki_client, "grace@example.com", tenant="globex")


async def test_resuming_restores_access(kraliki_client, kraliki_platform, acme, admin):
    key = (await kraliki_client.post(API_KEYS, headers=admin, json={"name": "crm"})).json()
    await set_tenant_status(kraliki_platform, acme, "suspended")
    suspended(await kraliki_client.get(ME, headers=admin))

    await set_tenant_status(kraliki_platform, acme, "active")

    assert (await kraliki_client.get(USERS, headers=admin)).status_code == 200
    assert (await kraliki_client.get(ME, headers=bearer(key["secret"]))).status_code == 200
    await token_pair(kraliki_client, "admin@example.com")
