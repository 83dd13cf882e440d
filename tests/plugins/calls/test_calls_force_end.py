"""Force-end: an admin ends a stuck call here at once; who did it is in the timeline and the
audit log, the end event is published, and the provider is asked to hang up (best effort)."""

from __future__ import annotations

import uuid

from calls_helpers import provision
from sqlalchemy import select

from kernel import Tenant, add_user, tenant_scope
from kernel.testing import audit_events, login
from plugins.calls.provider import Action, CallStatus, ProviderRefused
from plugins.calls.testing import call_events, fakeline_log


async def _detail(client, call) -> dict:
    return dict((await client.get(f"/api/v1/calls/{call['id']}")).json())


async def _audit(platform, tenant_id) -> list:
    return await audit_events(platform, tenant_id, "calls.call.force-ended")


async def _end_event(platform, tenant_id, call_id) -> tuple[str, dict]:
    return (await call_events(platform, tenant_id, call_id))[-1]


async def test_force_end_ends_an_answered_call_and_hangs_it_up(
    place, send, client, platform, tenant
):
    call = await place()
    await send([{"type": "progress", "call": call["provider_call_id"], "status": "in-progress"}])
    response = await client.post(
        f"/api/v1/calls/{call['id']}/force-end", json={"reason": "stuck after the outage"}
    )
    assert response.status_code == 200, response.text
    ended = response.json()
    assert (ended["status"], ended["hangup_cause"]) == ("completed", "force-ended")

    [hangup] = fakeline_log(platform).controls
    assert hangup.action is Action.HANGUP
    assert hangup.call.status is CallStatus.IN_PROGRESS  # hung up as the call was
    timeline = (await _detail(client, call))["timeline"]
    kinds = [(e["kind"], e["source"]) for e in timeline[-3:]]
    assert kinds == [("force-ended", "api"), ("status", "api"), ("provider-hangup", "platform")]
    assert timeline[-3]["detail"] == {
        "actor": "test-user",
        "reason": "stuck after the outage",
        "previous": "in-progress",
    }
    assert timeline[-2]["detail"]["reason"] == "force-ended"
    assert timeline[-1]["detail"] == {"outcome": "ok"}
    name, payload = await _end_event(platform, tenant, call["id"])
    assert (name, payload["reason"], payload["hangup_cause"]) == (
        "calls.call.completed",
        "force-ended",
        "force-ended",
    )
    [audited] = await _audit(platform, tenant)
    assert (audited.actor_id, audited.target_type, audited.target_id) == (
        "test-user",
        "call",
        call["id"],
    )
    assert audited.details == {
        "previous_status": "in-progress",
        "status": "completed",
        "reason": "stuck after the outage",
    }


async def test_a_call_not_answered_is_canceled_even_when_the_provider_refuses(
    place, client, platform
):
    call = await place()
    fakeline_log(platform).fail_next.append(ProviderRefused("no such call", code="gone"))
    response = await client.post(f"/api/v1/calls/{call['id']}/force-end")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"
    last = (await _detail(client, call))["timeline"][-1]
    assert (last["kind"], last["detail"]["outcome"]) == ("provider-hangup", "failed")
    assert "no such call" in last["detail"]["error"]
    again = await client.post(f"/api/v1/calls/{call['id']}/force-end")
    assert again.status_code == 409
    assert again.json()["call_status"] == "canceled"


async def test_force_end_needs_its_permission_and_sees_no_other_organization(
    place, client, app, platform, tenant, kraliki_authenticate
):
    ours = await place()
    other = await provision(platform, "globex")
    kraliki_authenticate(app, "calls:read", "calls:create", kind="user", tenant_id=other)
    theirs = await client.post("/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"})
    assert theirs.status_code == 201
    forbidden = await client.post(f"/api/v1/calls/{theirs.json()['id']}/force-end")
    assert forbidden.status_code == 403  # placing and reading calls is not enough

    kraliki_authenticate(app, "calls:force-end", kind="user", tenant_id=other)
    missing = await client.post(f"/api/v1/calls/{ours['id']}/force-end")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/calls-call-not-found")
    assert (await client.post(f"/api/v1/calls/{uuid.uuid4()}/force-end")).status_code == 404
    kraliki_authenticate(app, "calls:read", kind="user", tenant_id=tenant)
    assert (await _detail(client, ours))["status"] == "initiated"


async def test_admins_may_force_end_and_agents_may_not(app, client, platform):
    tenant_id = await provision(platform, "acme")
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for email, role in (("agent@acme.test", "agent"), ("admin@acme.test", "admin")):
                await add_user(session, email=email, password="a password 12345", roles=[role])
            await session.commit()
    async with platform.database.session() as session:
        slug = await session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))
    agent = await login(client, "agent@acme.test", "a password 12345", tenant=slug)
    admin = await login(client, "admin@acme.test", "a password 12345", tenant=slug)
    body = {"to": "+14155550100", "from": "+14155550199"}
    call = (await client.post("/api/v1/calls", json=body, headers=agent)).json()
    path = f"/api/v1/calls/{call['id']}/force-end"
    assert (await client.post(path, headers=agent)).status_code == 403
    assert (await client.post(path, headers=admin)).status_code == 200
