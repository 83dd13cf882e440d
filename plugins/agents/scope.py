"""Which agents and teams a principal reaches: every one with ``agents:all``, otherwise the
agents of the teams whose supervisor they are, plus their own profile.

Queues and the supervisor screens use :func:`agent_scope` too, so that every view of agents
draws the same line. Outside it an agent does not exist (404, never 403).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Principal
from plugins.agents.models import Agent, TeamMember, TeamSupervisor
from plugins.agents.permissions import AGENTS_ALL


def principal_user_id(principal: Principal) -> uuid.UUID | None:
    """The user behind ``principal``; None for API keys and operators."""
    if principal.kind != "user":
        return None
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


@dataclass(frozen=True)
class AgentScope:
    """What a principal reaches. ``all``: everything (the id sets are then empty)."""

    all: bool
    agent_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    team_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    """The teams the principal leads."""
    own_agent_id: uuid.UUID | None = None

    def covers(self, agent_id: uuid.UUID) -> bool:
        return self.all or agent_id in self.agent_ids

    def leads(self, team_id: uuid.UUID) -> bool:
        return self.all or team_id in self.team_ids

    def where(self) -> ColumnElement[bool]:
        """A condition on :class:`Agent` selecting the agents in scope."""
        return true() if self.all else Agent.id.in_(sorted(self.agent_ids))


async def agent_scope(session: AsyncSession, principal: Principal) -> AgentScope:
    """The agents and teams ``principal`` reaches (read in the tenant's session)."""
    user_id = principal_user_id(principal)
    own = None
    if user_id is not None:
        own = await session.scalar(select(Agent.id).where(Agent.user_id == user_id))
    if principal.can(AGENTS_ALL.resource, AGENTS_ALL.action):
        return AgentScope(all=True, own_agent_id=own)
    if user_id is None:
        return AgentScope(all=False)
    teams = frozenset(
        await session.scalars(
            select(TeamSupervisor.team_id).where(TeamSupervisor.user_id == user_id)
        )
    )
    members = set(
        await session.scalars(select(TeamMember.agent_id).where(TeamMember.team_id.in_(teams)))
        if teams
        else []
    )
    if own is not None:
        members.add(own)
    return AgentScope(all=False, agent_ids=frozenset(members), team_ids=teams, own_agent_id=own)
