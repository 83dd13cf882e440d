"""A connection lives only as long as its credential: each heartbeat checks it again, so a
logout, a deactivated user, a revoked key or a suspended tenant cuts the stream off, and a
role change applies to the next events."""

from __future__ import annotations

from realtime_support import closed_with, events, nothing_more, subscribe
from sqlalchemy import update

from kernel import Tenant


async def test_logging_out_closes_the_websocket_with_4001(site):
    agent = site.accounts["alpha-agent"]
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        logout = await site.http.post("/api/v1/auth/logout", json={"refresh_token": agent.refresh})
        assert logout.status_code == 204
        code, messages = await closed_with(ws)
    assert code == 4001
    assert messages[-1] == {
        "type": "error",
        "code": 4001,
        "message": "the session has ended; log in again",
    }


async def test_logging_out_ends_the_event_stream(site):
    agent = site.accounts["alpha-agent"]
    async with site.sse("alpha-agent", ["*"]) as stream:
        await stream.next()  # ready
        await site.http.post("/api/v1/auth/logout", json={"refresh_token": agent.refresh})
        frames = await stream.until_end()
    assert frames[-1]["event"] == "close"
    assert frames[-1]["data"]["code"] == 4001


async def test_a_deactivated_user_is_cut_off(site):
    admin = site.accounts["alpha-admin"]
    agent = site.accounts["alpha-agent"]
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        deactivated = await site.http.post(
            f"/api/v1/users/{agent.user_id}/deactivate", headers=admin.headers
        )
        assert deactivated.status_code == 200, deactivated.text
        code, _ = await closed_with(ws)
    assert code == 4001


async def test_a_revoked_api_key_is_cut_off(site):
    admin = site.accounts["alpha-admin"].headers
    key = (
        await site.http.post(
            "/api/v1/api-keys", headers=admin, json={"name": "board", "roles": ["agent"]}
        )
    ).json()
    async with site.ws(token=key["secret"]) as ws:
        await subscribe(ws, ["*"])
        revoked = await site.http.delete(f"/api/v1/api-keys/{key['id']}", headers=admin)
        assert revoked.status_code == 204
        code, messages = await closed_with(ws)
    assert code == 4001
    assert "revoked" in messages[-1]["message"]


async def test_a_suspended_tenant_is_cut_off(site):
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        async with site.platform.database.session() as session:
            await session.execute(
                update(Tenant).where(Tenant.id == site.tenants["alpha"]).values(status="suspended")
            )
            await session.commit()
        code, _ = await closed_with(ws)
    assert code == 4003


async def test_a_role_change_applies_to_the_next_events(site):
    """An admin made agent stops receiving admin-only events without reconnecting."""
    admin = site.accounts["alpha-admin"]
    owner_headers = admin.headers
    second_admin = site.accounts["alpha-agent"]
    promoted = await site.http.put(
        f"/api/v1/users/{second_admin.user_id}/roles",
        headers=owner_headers,
        json={"roles": ["admin"]},
    )
    assert promoted.status_code == 200, promoted.text
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        secret = await site.publish("alpha-admin", kind="secret")
        assert [e["id"] for e in await events(ws, 1)] == secret
        demoted = await site.http.put(
            f"/api/v1/users/{second_admin.user_id}/roles",
            headers=owner_headers,
            json={"roles": ["agent"]},
        )
        assert demoted.status_code == 200, demoted.text
        await site.rechecked(lambda principal: not principal.can("rt.secrets", "read"))
        await site.publish("alpha-admin", kind="secret")
        thing = await site.publish("alpha-admin")
        assert [e["id"] for e in await events(ws, 1)] == thing
        await nothing_more(ws)
