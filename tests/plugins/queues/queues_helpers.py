"""What the queues tests share (imported by name: test directories are not packages).

Agents and teams are written straight through the agents plugin's public models, inside the
tenant's scope (the way the agents API stores them); queued calls (items) likewise, the way
routing and the caller side store them, so that live figures can be checked against known
rows. Queues themselves go through the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from kernel import Platform, tenant_scope, utcnow
from plugins.agents import Agent, AgentSkill, AgentState, Team, TeamMember
from plugins.queues import ItemStatus, QueueItem

BASE = "/api/v1/queues"
IVR_FLOWS = "/api/v1/ivr/flows"


async def add_agent(
    platform: Platform,
    tenant_id: uuid.UUID,
    name: str = "Ada",
    *,
    state: AgentState | str = AgentState.AVAILABLE,
    skills: Mapping[str, int] | None = None,
    team_ids: Iterable[uuid.UUID] = (),
    active: bool = True,
    reach_kind: str = "loopback",
    idle_since: datetime | None = None,
    **fields: Any,
) -> uuid.UUID:
    """An agent profile in ``state`` with its skills (name -> level) and team memberships."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            state = AgentState(state)
            agent = Agent(
                display_name=name,
                reach_kind=reach_kind,
                active=active,
                state=state.value,
                reason_code="break" if state is AgentState.AWAY else None,
                idle_since=idle_since or (utcnow() if state is AgentState.AVAILABLE else None),
                **fields,
            )
            session.add(agent)
            await session.flush()
            for skill, level in (skills or {}).items():
                session.add(AgentSkill(agent_id=agent.id, skill=skill, level=level))
            for team_id in team_ids:
                session.add(TeamMember(team_id=team_id, agent_id=agent.id))
            await session.commit()
            return agent.id


async def add_team(
    platform: Platform, tenant_id: uuid.UUID, name: str, agent_ids: Iterable[uuid.UUID] = ()
) -> uuid.UUID:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            team = Team(name=name)
            session.add(team)
            await session.flush()
            for agent_id in agent_ids:
                session.add(TeamMember(team_id=team.id, agent_id=agent_id))
            await session.commit()
            return team.id


async def add_item(
    platform: Platform,
    tenant_id: uuid.UUID,
    queue_id: uuid.UUID | str,
    *,
    status: ItemStatus | str = ItemStatus.WAITING,
    entered_at: datetime | None = None,
    wait_seconds: float | None = None,
    priority: int = 0,
    kind: str = "call",
    call_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    **fields: Any,
) -> uuid.UUID:
    """A queued call as routing and the caller side leave it. ``wait_seconds`` of an answered
    item (connected or completed) also sets ``answered_at``; of an abandoned or overflowed one
    ``ended_at``."""
    status = ItemStatus(status)
    entered = entered_at or utcnow()
    if wait_seconds is not None and status in (ItemStatus.CONNECTED, ItemStatus.COMPLETED):
        fields.setdefault("answered_at", entered + timedelta(seconds=wait_seconds))
        fields.setdefault("offered_at", entered + timedelta(seconds=wait_seconds))
    if wait_seconds is not None and status in (
        ItemStatus.ABANDONED,
        ItemStatus.OVERFLOWED,
        ItemStatus.CANCELLED,
    ):
        fields.setdefault("ended_at", entered + timedelta(seconds=wait_seconds))
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            item = QueueItem(
                queue_id=uuid.UUID(str(queue_id)),
                status=status.value,
                entered_at=entered,
                wait_seconds=wait_seconds,
                priority=priority,
                kind=kind,
                call_id=call_id or uuid.uuid4(),
                agent_id=agent_id,
                **({"provider": "loopback"} | fields),
                caller_number="+14155550123",
                called_number="+14155550100",
            )
            session.add(item)
            await session.commit()
            return item.id


async def create_queue(
    client: httpx.AsyncClient, headers: Mapping[str, str], name: str = "Support", **body: Any
) -> dict[str, Any]:
    """A queue through the API; returns its body (with ``id`` and ``version``)."""
    response = await client.post(BASE, headers=dict(headers), json={"name": name, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def errors_of(response: httpx.Response) -> list[tuple[tuple[Any, ...], str]]:
    """A 422's errors as ``(loc, message)`` pairs (every 422 carries both)."""
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert all("loc" in e and "message" in e for e in errors), errors
    return [(tuple(e["loc"]), e["message"]) for e in errors]


FLOW = {
    "start": "menu",
    "nodes": {
        "menu": {
            "type": "menu",
            "greeting": "Welcome.",
            "options": [{"key": "1", "label": "support"}],
            "exits": {"1": "sorry", "no_input": "sorry", "no_match": "sorry"},
        },
        "sorry": {"type": "hangup", "message": "All agents are busy. Goodbye."},
    },
}


async def published_flow(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    name: str = "Front desk",
    document: Mapping[str, Any] | None = None,
) -> str:
    """An IVR flow with a published version (the nodes an overflow may send callers to)."""
    created = await client.post(
        IVR_FLOWS, headers=dict(headers), json={"name": name, "draft": dict(document or FLOW)}
    )
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["id"])
    published = await client.post(f"{IVR_FLOWS}/{flow_id}/publish", headers=dict(headers), json={})
    assert published.status_code in (200, 201), published.text
    return flow_id
