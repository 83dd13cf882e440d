"""Who works campaigns: the calling user's agent, and whether that agent works a campaign
(preview mode and seats ask the same two questions)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Principal, ProblemError
from plugins.agents import Agent, AgentSettingsRow, TeamMember, principal_user_id
from plugins.campaigns.models import Campaign
from plugins.campaigns.problems import NO_AGENT_PROFILE
from plugins.queues import served_queues


async def my_agent(session: AsyncSession, principal: Principal) -> Agent:
    """The caller's active agent profile, locked (one request of an agent at a time); the
    ``campaigns-no-agent`` 404 without one."""
    user_id = principal_user_id(principal)
    agent = (
        await session.scalar(
            select(Agent).where(Agent.user_id == user_id, Agent.active.is_(True)).with_for_update()
        )
        if user_id is not None
        else None
    )
    if agent is None:
        raise ProblemError(NO_AGENT_PROFILE, "you have no active agent profile")
    return agent


async def works(session: AsyncSession, agent: Agent, campaign: Campaign) -> bool:
    """Whether ``agent`` works ``campaign``: a member of its team, or serving its queue
    (directly or through one of the queue's teams)."""
    if campaign.team_id is not None:
        member = await session.scalar(
            select(TeamMember.id).where(
                TeamMember.team_id == campaign.team_id, TeamMember.agent_id == agent.id
            )
        )
        if member is not None:
            return True
    if campaign.queue_id is not None:
        return campaign.queue_id in await served_queues(session, agent.id)
    return False


DEFAULT_WRAP_UP_SECONDS = 30
"""The agents plugin's default when the organization has not set one."""


async def wrap_up_seconds(session: AsyncSession, agent: Agent) -> int:
    """The agent's own wrap-up time after a campaign call, else the organization's
    default."""
    if agent.wrap_up_seconds is not None:
        return int(agent.wrap_up_seconds)
    default = await session.scalar(select(AgentSettingsRow.default_wrap_up_seconds))
    return int(default) if default is not None else DEFAULT_WRAP_UP_SECONDS
