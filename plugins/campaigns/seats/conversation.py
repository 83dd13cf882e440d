"""Where a seated agent's conversation is, for ``kraliki_agent_conversation``: the seat's
conference, where the agent's leg stays and each person who answers is put.

Preview calls have none: the agent's leg dials the contact directly (a ``Dial``, no
conference), and the contact's side is no platform call a supervisor could be joined to, so
campaigns answer only for seats.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.agents import Agent, Conversation
from plugins.calls import Call, CallStatus
from plugins.campaigns.models import Attempt, Seat, SeatStatus
from plugins.campaigns.seats.rows import seat_conference


async def agent_conversation(session: AsyncSession, agent: Agent) -> Conversation | None:
    """The seat's conference while the seat talks and the agent's leg is in progress (None
    otherwise); the customer is the connected attempt's call."""
    found = (
        await session.execute(
            select(Seat, Call.provider)
            .join(Call, Call.id == Seat.call_id)
            .where(
                Seat.agent_id == agent.id,
                Seat.status == SeatStatus.TALKING.value,
                Call.status == CallStatus.IN_PROGRESS.value,
            )
            .limit(1)
        )
    ).first()
    if found is None:
        return None
    seat, provider = found
    customer = None
    if seat.attempt_id is not None:
        customer = await session.scalar(
            select(Attempt.call_id).where(Attempt.id == seat.attempt_id)
        )
    assert seat.call_id is not None  # joined on it
    return Conversation(
        conference=seat_conference(seat.id, agent=True).name,
        provider=provider,
        agent_call_id=seat.call_id,
        customer_call_id=customer,
        source="campaigns",
    )
