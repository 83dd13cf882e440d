"""What queues do when an agent's presence changes (``kraliki_agent_state_changed``).

An agent who becomes available may take a waiting call, so routing runs. A change made
outside routing (the agent's break or log-off, a supervisor's forced state, a timer, the
agent deactivated) changes the agents-by-state figures of every queue the agent serves, so
each of them republishes ``queues.queue.stats``; routing publishes its own changes' figures.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.agents import Agent, AgentState, StateChange, TeamMember
from plugins.queues.live import publish_stats
from plugins.queues.models import QueueAgent, QueueTeam
from plugins.queues.routing import wake

ROUTING = "routing"


async def agent_state_changed(
    platform: Platform, session: AsyncSession, agent: Agent, change: StateChange
) -> None:
    """Wake routing for an agent who became available; republish the figures of the
    agent's queues when the change did not come from routing."""
    if change.to_state == AgentState.AVAILABLE.value:
        await wake(platform, session)
    if change.cause != ROUTING:
        for queue_id in await served_queues(session, agent.id):
            await publish_stats(platform, session, queue_id)


async def served_queues(session: AsyncSession, agent_id: uuid.UUID) -> list[uuid.UUID]:
    """The queues the agent serves, directly or through one of its teams, in id order."""
    direct = select(QueueAgent.queue_id.label("queue_id")).where(QueueAgent.agent_id == agent_id)
    by_team = (
        select(QueueTeam.queue_id.label("queue_id"))
        .join(TeamMember, TeamMember.team_id == QueueTeam.team_id)
        .where(TeamMember.agent_id == agent_id)
    )
    return sorted(set(await session.scalars(union(direct, by_team))))
