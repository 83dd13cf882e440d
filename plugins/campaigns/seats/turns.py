"""The turns of an agent's leg in a seat (handler target ``seat:<seat id>``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from plugins.calls import CallTurn, Hangup, Say
from plugins.campaigns.models import Campaign
from plugins.campaigns.seats import service as seats
from plugins.campaigns.seats.rows import seat_conference

OVER = "Sorry, this campaign seat is over. Goodbye."


async def seat_leg_started(turn: CallTurn, seat_id: uuid.UUID) -> list[Any]:
    """The agent answered: they wait in the seat's conference for the first person."""
    seat = await seats.leg_answered(turn.platform, turn.session, seat_id, turn.call.id)
    if seat is None:
        turn.note("campaigns.seat-over", seat_id=str(seat_id))
        return [Say(text=OVER), Hangup()]
    name = await turn.session.scalar(select(Campaign.name).where(Campaign.id == seat.campaign_id))
    turn.note("campaigns.seat-ready", seat_id=str(seat_id))
    return [
        Say(text=f"Campaign {name}. Calls connect automatically; stay on the line."),
        seat_conference(seat.id, agent=True),
    ]


async def seat_leg_ended(turn: CallTurn, seat_id: uuid.UUID) -> None:
    await seats.leg_ended(
        turn.platform, turn.session, seat_id, turn.call.id, turn.call.status.value
    )
