"""Seeds the agents plugin's tables for the cross-tenant route walk: settings, a reason
code, a team with a member and a supervisor, agents with skills (the owner's own profile,
whose presence changes), and a handled call with its wrap-up."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from kernel import tenant_scope
from plugins.agents import Agent, AgentState, HandledCall, change_state

BASE = "/api/v1/agents"


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every agents table for ``tenant`` (``.headers``, ``.slug``, ``.secrets``,
    ``.id``)."""
    h = tenant.headers
    digits = {"alpha": "71", "beta": "82"}.get(tenant.slug, "93")
    number = f"+1415555{digits}11"
    tenant.secrets.add(number)
    me = await client.get("/api/v1/auth/me", headers=h)
    owner_id = me.json()["subject"]
    setup = [
        ("PUT", f"{BASE}/settings", {"default_wrap_up_seconds": 10, "offer_timeout_seconds": 15}),
        ("POST", f"{BASE}/reason-codes", {"code": f"lunch-{tenant.slug}", "label": "Lunch"}),
        ("POST", f"{BASE}/teams", {"name": f"Team {tenant.slug}"}),
    ]
    for method, path, body in setup:
        response = await client.request(method, path, headers=h, json=body)
        assert response.status_code in (200, 201), (path, response.text)
    team_id = response.json()["id"]
    created = await client.post(
        BASE,
        headers=h,
        json={
            "user_id": owner_id,
            "display_name": f"Owner {tenant.slug}",
            "reach": {"kind": "phone", "address": number},
            "skills": [{"skill": f"skill-{tenant.slug}", "level": 7}],
            "team_ids": [team_id],
        },
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    bot = await client.post(
        BASE,
        headers=h,
        json={"display_name": f"Bot {tenant.slug}", "reach": {"kind": "loopback"}},
    )
    assert bot.status_code == 201, bot.text
    team = [
        ("PUT", f"{BASE}/teams/{team_id}/members", {"agent_ids": [agent_id, bot.json()["id"]]}),
        ("PUT", f"{BASE}/teams/{team_id}/supervisors", {"user_ids": [owner_id]}),
        ("PUT", f"{BASE}/me/state", {"state": "available"}),
    ]
    for method, path, body in team:
        response = await client.request(method, path, headers=h, json=body)
        assert response.status_code == 200, (path, response.text)
    calls = await client.get("/api/v1/calls", headers=h)
    call_id = calls.json()["items"][0]["id"]
    await _handled(client, tenant, agent_id, call_id)
    wrapped = await client.post(
        f"{BASE}/me/wrap-up",
        headers=h,
        json={"disposition": f"sale-{tenant.slug}", "notes": "seed", "done": True},
    )
    assert wrapped.status_code == 200, wrapped.text
    drained = await client.post("/api/v1/walkvault/events", headers=h)
    assert drained.status_code == 200, drained.text


async def _handled(client: Any, tenant: Any, agent_id: str, call_id: str) -> None:
    """The agent takes the call and wraps it up, as queue routing does (no route of the
    API writes a handled call: routing does when an agent answers)."""
    platform = client._transport.app.state.platform
    with tenant_scope(tenant.id):
        async with platform.database.session() as session:
            agent = await session.scalar(
                select(Agent).where(Agent.id == uuid.UUID(agent_id)).with_for_update()
            )
            assert agent is not None
            call = uuid.UUID(call_id)
            for state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
                await change_state(
                    platform,
                    session,
                    agent,
                    state,
                    cause="routing",
                    call_id=call,
                    wrap_up_seconds=10,
                )
            session.add(HandledCall(agent_id=agent.id, call_id=call))
            await session.commit()
