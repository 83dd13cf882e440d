"""Seeding for the routing tests: agents, queues and queued calls written straight through
the models (the routing engine reads nothing else), plus the app fixtures the routing tests
import (no background workers: a test runs the dispatch job itself)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Uuid, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, tenant_scope, utcnow
from kernel.testing import create_tenant
from plugins.agents import Agent, AgentSkill, AgentState, StateChange, Team, TeamMember
from plugins.calls import CallStatus, CallTurn, Direction, HandledCall
from plugins.queues import Offer, Queue, QueueItem
from plugins.queues.models import QueueAgent, QueueTeam
from plugins.queues.routing import dispatch, route


@pytest.fixture
async def kraliki_app(kraliki_make_app):  # type: ignore[no-untyped-def]
    """The installed platform without background workers (import it into a test module to
    use it there: the test runs the dispatch job itself)."""
    return await kraliki_make_app(background_workers=False)


async def new_tenant(platform: Platform) -> uuid.UUID:
    return await create_tenant(platform, f"acme-{uuid.uuid4().hex[:6]}")


@asynccontextmanager
async def tenant_session(platform: Platform, tenant_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            yield session


def ago(seconds: float, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(seconds=seconds)


def agent(
    name: str,
    *,
    state: str = AgentState.AVAILABLE.value,
    idle_for: float = 60.0,
    last_offered_ago: float | None = None,
    reach: str = "phone",
    address: str = "+15550100000",
    auto_accept: bool = True,
    wrap_up_seconds: int | None = None,
    user_id: uuid.UUID | None = None,
    loopback_script: list[Any] | None = None,
) -> Agent:
    """An agent row already in ``state`` (available: idle for ``idle_for`` seconds)."""
    now = utcnow()
    return Agent(
        display_name=name,
        user_id=user_id,
        reach_kind=reach,
        reach_address=address if reach != "loopback" else "",
        loopback_script=loopback_script,
        auto_accept=auto_accept,
        wrap_up_seconds=wrap_up_seconds,
        state=state,
        state_since=ago(idle_for, now),
        idle_since=ago(idle_for, now) if state == AgentState.AVAILABLE.value else None,
        last_offered_at=ago(last_offered_ago, now) if last_offered_ago is not None else None,
    )


async def add_agents(
    session: AsyncSession,
    queue: Queue | None,
    *agents: Agent,
    skills: dict[str, dict[str, int]] | None = None,
) -> list[Agent]:
    """Add agents (members of ``queue`` when given) with ``skills`` by display name."""
    session.add_all(agents)
    await session.flush()
    for one in agents:
        if queue is not None:
            session.add(QueueAgent(queue_id=queue.id, agent_id=one.id))
        for skill, level in (skills or {}).get(one.display_name, {}).items():
            session.add(AgentSkill(agent_id=one.id, skill=skill, level=level))
    await session.flush()
    return list(agents)


async def add_queue(session: AsyncSession, name: str = "Support", **values: Any) -> Queue:
    queue = Queue(name=name, **values)
    session.add(queue)
    await session.flush()
    return queue


async def add_team(session: AsyncSession, queue: Queue, *agents: Agent) -> Team:
    team = Team(name=f"team-{uuid.uuid4().hex[:6]}")
    session.add(team)
    await session.flush()
    session.add(QueueTeam(queue_id=queue.id, team_id=team.id))
    for one in agents:
        session.add(TeamMember(team_id=team.id, agent_id=one.id))
    await session.flush()
    return team


async def add_item(
    session: AsyncSession,
    queue: Queue,
    *,
    waited: float = 5.0,
    provider: str = "fakeline",
    priority: int = 0,
    call_id: uuid.UUID | None = None,
    **values: Any,
) -> QueueItem:
    item = QueueItem(
        queue_id=queue.id,
        call_id=call_id or uuid.uuid4(),
        provider=provider,
        caller_number="+15550111111",
        called_number="+15550122222",
        priority=priority,
        entered_at=ago(waited),
        **values,
    )
    session.add(item)
    await session.flush()
    return item


async def route_once(platform: Platform, tenant_id: uuid.UUID) -> list[Offer]:
    """One claim pass in its own transaction, committed."""
    async with tenant_session(platform, tenant_id) as session:
        offers = await route(platform, session)
        await session.commit()
        return offers


async def run_dispatch(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    with tenant_scope(tenant_id):
        return await dispatch(platform, tenant_id)


async def reload(platform: Platform, tenant_id: uuid.UUID, model: type[Any], row_id: Any) -> Any:
    async with tenant_session(platform, tenant_id) as session:
        return await session.scalar(select(model).where(model.id == row_id))


async def offers_of(platform: Platform, tenant_id: uuid.UUID) -> list[Offer]:
    async with tenant_session(platform, tenant_id) as session:
        return list(await session.scalars(select(Offer).order_by(Offer.created_at)))


async def changes_of(platform: Platform, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> list[str]:
    """The agent's state changes as ``from>to:cause``."""
    async with tenant_session(platform, tenant_id) as session:
        rows = await session.scalars(
            select(StateChange)
            .where(StateChange.agent_id == agent_id)
            .order_by(StateChange.occurred_at)
        )
        return [f"{c.from_state}>{c.to_state}:{c.cause}" for c in rows]


def leg_turn(
    platform: Platform,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    offer: Offer,
    status: str,
    *,
    call_id: uuid.UUID | None = None,
    reason: str = "ended",
) -> CallTurn:
    """The turn the ``queues`` handler would get for the offer's agent leg."""
    call = HandledCall(
        id=call_id or offer.agent_call_id or uuid.uuid5(uuid.NAMESPACE_URL, f"leg:{offer.id}"),
        tenant_id=tenant_id,
        direction=Direction.OUTBOUND,
        status=CallStatus(status),
        from_number="+15550122222",
        to_number="+15550100000",
        provider="fakeline",
        target=f"offer:{offer.id}",
        capabilities=frozenset(),
    )
    return CallTurn(platform, session, call, reason)  # type: ignore[arg-type]


async def wakeups(platform: Platform, tenant_id: uuid.UUID) -> list[str]:
    """The tenant's pending job wake-ups (topics)."""
    async with platform.database.session() as session:
        rows = await session.execute(
            text("SELECT topic FROM kernel_wakeups WHERE tenant_id = :t").bindparams(
                bindparam("t", type_=Uuid)
            ),
            {"t": tenant_id},
        )
        return sorted(str(topic) for (topic,) in rows)
