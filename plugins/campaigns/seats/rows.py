"""Reading and locking seats, and who may take one."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.agents import Agent
from plugins.calls import Conference, PhoneNumber
from plugins.campaigns.models import LIVE_SEATS, Campaign, Seat

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


async def campaign_provider(session: AsyncSession, campaign: Campaign) -> str | None:
    """The provider of the campaign's caller id: its calls and its agents' legs all run
    there (a conference cannot span providers)."""
    provider: str | None = await session.scalar(
        select(PhoneNumber.provider).where(PhoneNumber.number == campaign.caller_id)
    )
    return provider
