"""Seeds the queues plugin's tables for the cross-tenant route walk: two queues (one
overflowing into the other) served by an agent and a team, and calls in them: one waiting,
one being offered to the agent (an offer row), one answered and over.

Queues go through the API; agents, teams, queued calls and offers are written through the
models (routing and the caller side write them; the agents API seeds its own tables), inside
the tenant's scope of the walk's in-process app.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from kernel import tenant_scope, utcnow
from plugins.agents import Agent, AgentSkill, AgentState, Team, TeamMember
from plugins.queues import ItemStatus, Offer, OfferStatus, QueueItem

BASE = "/api/v1/queues"


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every queues table for ``tenant`` (``.headers``, ``.slug``, ``.id``)."""
    h = tenant.headers
    agent_id, team_id = await _agent_and_team(client, tenant)
    overflow = await client.post(BASE, headers=h, json={"name": f"Overflow {tenant.slug}"})
    assert overflow.status_code == 201, overflow.text
    support = await client.post(
        BASE,
        headers=h,
        json={
            "name": f"Support {tenant.slug}",
            "strategy": "skills",
            "required_skills": [{"skill": "support", "min_level": 2}],
            "agent_ids": [str(agent_id)],
            "team_ids": [str(team_id)],
            "max_wait_seconds": 600,
            "overflow": {"kind": "queue", "queue_id": overflow.json()["id"]},
        },
    )
    assert support.status_code == 201, support.text
    await _calls(client, tenant, uuid.UUID(support.json()["id"]), agent_id)


def _platform(client: Any) -> Any:
    """The walk's app runs in process: its platform is behind the client's ASGI transport."""
    return client._transport.app.state.platform


async def _agent_and_team(client: Any, tenant: Any) -> tuple[uuid.UUID, uuid.UUID]:
    with tenant_scope(tenant.id):
        async with _platform(client).database.session() as session:
            agent = Agent(
                display_name=f"Queue agent {tenant.slug}",
                reach_kind="loopback",
                state=AgentState.RESERVED.value,
            )
            team = Team(name=f"Queue team {tenant.slug}")
            session.add_all([agent, team])
            await session.flush()
            session.add(AgentSkill(agent_id=agent.id, skill="support", level=5))
            session.add(TeamMember(team_id=team.id, agent_id=agent.id))
            await session.commit()
            return agent.id, team.id


async def _calls(client: Any, tenant: Any, queue_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    now = utcnow()
    with tenant_scope(tenant.id):
        async with _platform(client).database.session() as session:
            waiting = QueueItem(queue_id=queue_id, call_id=uuid.uuid4(), provider="fakeline")
            offered = QueueItem(
                queue_id=queue_id,
                call_id=uuid.uuid4(),
                provider="fakeline",
                status=ItemStatus.OFFERED.value,
                offered_at=now,
                offers=1,
            )
            done = QueueItem(
                queue_id=queue_id,
                call_id=uuid.uuid4(),
                provider="fakeline",
                status=ItemStatus.COMPLETED.value,
                entered_at=now - timedelta(minutes=5),
                answered_at=now - timedelta(minutes=4),
                ended_at=now - timedelta(minutes=1),
                agent_id=agent_id,
                wait_seconds=60.0,
            )
            session.add_all([waiting, offered, done])
            await session.flush()
            session.add(
                Offer(
                    item_id=offered.id,
                    queue_id=queue_id,
                    agent_id=agent_id,
                    status=OfferStatus.RINGING.value,
                    expires_at=now + timedelta(hours=1),
                )
            )
            await session.commit()
