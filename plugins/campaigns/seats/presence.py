"""Presence changes a seated agent makes themselves (``kraliki_agent_state_changed``): ending
their wrap-up makes the seat ready at once, in the same transaction, so that no queue can
offer them a call in between; going away or offline (or being moved there by a supervisor)
leaves the seat."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.agents import Agent, AgentState, StateChange
from plugins.campaigns.models import SeatStatus
from plugins.campaigns.seats.rows import live_seat_of, locked_seat
from plugins.campaigns.seats.service import ACTOR, end_wrap_up, leave

LEAVES = (AgentState.AWAY.value, AgentState.OFFLINE.value)


async def agent_changed(
    platform: Platform, session: AsyncSession, agent: Agent, change: StateChange
) -> None:
    if change.cause == "routing" and change.actor == ACTOR:
        return  # the seat's own moves
    seat = await live_seat_of(session, agent.id)
    if seat is None:
        return
    seat = await locked_seat(session, seat.id)
    if seat is None:
        return
    if change.to_state == AgentState.AVAILABLE.value and seat.status == SeatStatus.WRAP_UP.value:
        await end_wrap_up(platform, session, seat, agent, utcnow())
    elif change.to_state in LEAVES:
        await leave(platform, session, seat, f"the agent went {change.to_state}")
