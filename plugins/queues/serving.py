"""Which queues an agent serves: directly (``queues_queue_agents``) or as a member of one of
a queue's teams (``queues_queue_teams``). Part of the public API (campaigns uses it to decide
which campaigns an agent may work)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.agents import TeamMember
from plugins.queues.models import QueueAgent, QueueTeam


async def queues_served_by(session: AsyncSession, agent_id: uuid.UUID) -> set[uuid.UUID]:
    """The ids of the tenant's queues ``agent_id`` serves (active or not)."""
    direct = select(QueueAgent.queue_id).where(QueueAgent.agent_id == agent_id)
    by_team = (
        select(QueueTeam.queue_id)
        .join(TeamMember, TeamMember.team_id == QueueTeam.team_id)
        .where(TeamMember.agent_id == agent_id)
    )
    return set(await session.scalars(direct.union(by_team)))
