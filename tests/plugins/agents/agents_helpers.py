"""What the agents tests share: users with roles logged in through the API, agents and teams
made through the API, and the rows routing would write (calls, presence moves, handled
calls) written the way routing writes them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from kernel import Platform, tenant_scope, utcnow
from kernel.testing import DEFAULT_TEST_PASSWORD, TenantOwner, login
from plugins.agents import Agent, AgentState, HandledCall, change_state
from plugins.calls import Call

BASE = "/api/v1/agents"
TEAMS = f"{BASE}/teams"


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    headers: dict[str, str]


async def person(
    client: httpx.AsyncClient, make_user: Any, owner: TenantOwner, name: str, role: str
) -> Person:
    """A user of ``owner``'s tenant with ``role``, logged in."""
    email = f"{name}@{owner.slug}.example.com"
    user_id = await make_user(owner.tenant_id, email, roles=[role])
    return Person(user_id, await login(client, email, DEFAULT_TEST_PASSWORD, tenant=owner.slug))


async def create_agent(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    body.setdefault("display_name", "Ana")
    body.setdefault("reach", {"kind": "phone", "address": "+420601123456"})
    response = await client.post(BASE, headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def create_team(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    *,
    agent_ids: Sequence[str] = (),
    supervisor_ids: Sequence[uuid.UUID] = (),
) -> dict[str, Any]:
    created = await client.post(TEAMS, headers=headers, json={"name": name})
    assert created.status_code == 201, created.text
    team = created.json()
    if agent_ids:
        members = await client.put(
            f"{TEAMS}/{team['id']}/members", headers=headers, json={"agent_ids": list(agent_ids)}
        )
        assert members.status_code == 200, members.text
        team = members.json()
    if supervisor_ids:
        supervisors = await client.put(
            f"{TEAMS}/{team['id']}/supervisors",
            headers=headers,
            json={"user_ids": [str(u) for u in supervisor_ids]},
        )
        assert supervisors.status_code == 200, supervisors.text
        team = supervisors.json()
    return team


async def add_call(platform: Platform, tenant_id: uuid.UUID) -> uuid.UUID:
    """A live inbound call, as the calls plugin records one."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            call = Call(
                direction="inbound",
                from_number="+14155550123",
                to_number="+14155550100",
                provider="loopback",
                status="in-progress",
                answered_at=utcnow(),
            )
            session.add(call)
            await session.commit()
            return call.id


async def route(
    platform: Platform,
    tenant_id: uuid.UUID,
    agent_id: str | uuid.UUID,
    *states: AgentState,
    call_id: uuid.UUID | None = None,
) -> None:
    """Move an agent through ``states`` as routing does (cause ``routing``), writing the
    handled call when the agent answers."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            agent = await session.scalar(
                select(Agent).where(Agent.id == uuid.UUID(str(agent_id))).with_for_update()
            )
            assert agent is not None
            for state in states:
                await change_state(
                    platform,
                    session,
                    agent,
                    state,
                    cause="routing",
                    call_id=call_id,
                    wrap_up_seconds=30,
                )
                if state is AgentState.ON_CALL and call_id is not None:
                    session.add(HandledCall(agent_id=agent.id, call_id=call_id))
            await session.commit()


async def read_call(platform: Platform, tenant_id: uuid.UUID, call_id: uuid.UUID) -> Call:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            call = await session.scalar(select(Call).where(Call.id == call_id))
            assert call is not None
            return call
