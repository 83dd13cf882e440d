"""Reading and locking seats, and who may take one."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.agents import Agent, TeamMember
from plugins.calls import Conference, PhoneNumber
from plugins.campaigns.models import LIVE_SEATS, Campaign, Seat
from plugins.queues import served_queues

CONFERENCE_PREFIX = "kcs-"


def seat_conference(seat_id: uuid.UUID, *, agent: bool) -> Conference:
    """The seat's conference: it ends when the agent leaves it, not when a called person
    does (the agent waits there for the next one)."""
    return Conference(name=f"{CONFERENCE_PREFIX}{seat_id}", start_on_enter=True, end_on_exit=agent)


async def locked_seat(session: AsyncSession, seat_id: uuid.UUID) -> Seat | None:
    seat: Seat | None = await session.scalar(
        select(Seat).where(Seat.id == seat_id).with_for_update()
    )
    return seat


async def locked_agent(session: AsyncSession, agent_id: uuid.UUID) -> Agent | None:
    agent: Agent | None = await session.scalar(
        select(Agent).where(Agent.id == agent_id).with_for_update()
    )
    return agent


async def live_seat_of(session: AsyncSession, agent_id: uuid.UUID) -> Seat | None:
    seat: Seat | None = await session.scalar(
        select(Seat).where(Seat.agent_id == agent_id, Seat.status.in_(LIVE_SEATS))
    )
    return seat


async def may_take_seat(session: AsyncSession, campaign: Campaign, agent_id: uuid.UUID) -> bool:
    """Whether the agent takes the campaign's calls: a member of its team, or serving its
    queue (directly or through a team)."""
    if campaign.team_id is not None:
        member = await session.scalar(
            select(TeamMember.agent_id).where(
                TeamMember.team_id == campaign.team_id, TeamMember.agent_id == agent_id
            )
        )
        if member is not None:
            return True
    if campaign.queue_id is not None:
        return campaign.queue_id in await served_queues(session, agent_id)
    return False


async def campaign_provider(session: AsyncSession, campaign: Campaign) -> str | None:
    """The provider of the campaign's caller id: its calls and its agents' legs all run
    there (a conference cannot span providers)."""
    provider: str | None = await session.scalar(
        select(PhoneNumber.provider).where(PhoneNumber.number == campaign.caller_id)
    )
    return provider
