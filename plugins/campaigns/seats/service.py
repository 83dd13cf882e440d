"""A seat's life: taken (the agent is reserved and rung), ready (the agent waits in the
seat's conference), talking (a called person joined), wrap-up, then ready again; left or
ended when the agent's leg ends.

Presence follows through ``plugins.agents.change_state`` with cause ``routing``: a seated
agent is ``reserved`` while waiting (queues never offer them a call), ``on_call`` while
talking, ``wrap_up`` after it (with no end time of the agents plugin's own: the seat's timer
ends it, straight back to ``reserved``), and ``available`` again once the seat ends.
Every change is a ``campaigns.seat.changed`` event, in the caller's transaction.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, utcnow
from plugins.agents import (
    MISSED,
    Agent,
    AgentState,
    HandledCall,
    TransitionRefused,
    change_state,
    leg_address,
    leg_options,
)
from plugins.calls import CallRequest, hang_up_call, place_call
from plugins.campaigns.events import SeatChanged
from plugins.campaigns.models import Attempt, Campaign, CampaignState, Seat, SeatStatus
from plugins.campaigns.seats.rows import campaign_provider, locked_agent, locked_seat
from plugins.campaigns.workers import wrap_up_seconds

logger = logging.getLogger(__name__)

ACTOR = "campaigns"
HANDLER = "campaigns"
SEAT_PREFIX = "seat:"
LEG_RING_SECONDS = 30
"""How long the agent's phone rings when they take a seat."""
LOST_AFTER = timedelta(minutes=2)
"""A seat still joining without a leg this long after it was taken was left by a worker
that died: it ends."""
LEAVE_AFTER_CALL = "leaving after this call"
"""``end_reason`` of a talking seat asked to end: it leaves when its wrap-up ends."""


async def publish(
    platform: Platform,
    session: AsyncSession,
    seat: Seat,
    previous: str | None,
    reason: str | None = None,
) -> None:
    await session.flush()
    await platform.events.publish(
        session,
        SeatChanged(
            campaign_id=seat.campaign_id,
            seat_id=seat.id,
            agent_id=seat.agent_id,
            status=seat.status,
            previous_status=previous,
            attempt_id=seat.attempt_id,
            reason=reason,
        ),
    )


async def move_agent(
    platform: Platform,
    session: AsyncSession,
    agent: Agent,
    to_state: AgentState,
    *,
    call_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> None:
    """Change the seated agent's presence, as routing; a change the table refuses (the
    agent or a supervisor moved them meanwhile) is logged and left."""
    if agent.state == to_state.value and to_state is not AgentState.AWAY:
        return
    try:
        await change_state(
            platform,
            session,
            agent,
            to_state,
            cause="routing",
            reason_code=MISSED if to_state is AgentState.AWAY else None,
            actor=ACTOR,
            call_id=call_id,
            now=now,
        )
    except TransitionRefused as refused:
        logger.info("seat of agent %s: presence left as is (%s)", agent.id, refused)


async def take(platform: Platform, session: AsyncSession, campaign: Campaign, agent: Agent) -> Seat:
    """Seat the agent (whose row the caller locked, ``available``): reserved for the
    campaign; the leg is placed by :func:`ring` once this commits."""
    now = utcnow()
    seat = Seat(
        id=uuid.uuid4(),
        campaign_id=campaign.id,
        agent_id=agent.id,
        status=SeatStatus.JOINING.value,
        joined_at=now,
        calls_taken=0,
    )
    session.add(seat)
    await session.flush()
    await change_state(
        platform, session, agent, AgentState.RESERVED, cause="routing", actor=ACTOR, now=now
    )
    await publish(platform, session, seat, None, "taken")
    return seat


async def ring(
    platform: Platform, session: AsyncSession, seat_id: uuid.UUID
) -> ProblemError | None:
    """Place the agent's leg (the calls plugin commits); what refused it, the seat then
    ended and the agent available again."""
    seat = await session.scalar(select(Seat).where(Seat.id == seat_id))
    if seat is None or seat.status != SeatStatus.JOINING.value or seat.call_id is not None:
        return None
    agent = await session.scalar(select(Agent).where(Agent.id == seat.agent_id))
    campaign = await session.scalar(select(Campaign).where(Campaign.id == seat.campaign_id))
    if agent is None or campaign is None:
        return None
    request = CallRequest(
        to_number=leg_address(agent),
        from_number=campaign.caller_id,
        provider=await campaign_provider(session, campaign),
        timeout_seconds=LEG_RING_SECONDS,
        options=leg_options(agent),
        placed_by=ACTOR,
        handler=HANDLER,
        handler_target=f"{SEAT_PREFIX}{seat.id}",
        tags=["campaign-seat"],
        metadata={"campaign_id": str(campaign.id), "seat_id": str(seat.id)},
    )
    try:
        call = await place_call(platform, session, request)
    except ProblemError as problem:
        await session.rollback()
        await end(platform, session, seat_id, f"not placed: {problem.problem.slug}")
        await session.commit()
        return problem
    locked = await locked_seat(session, seat_id)
    if locked is not None and locked.call_id is None:
        locked.call_id = call.id
    await session.commit()
    return None


async def leg_answered(
    platform: Platform, session: AsyncSession, seat_id: uuid.UUID, call_id: uuid.UUID
) -> Seat | None:
    """The agent picked up: the seat is ready (None: the seat is over, hang up)."""
    seat = await locked_seat(session, seat_id)
    if seat is None or seat.status != SeatStatus.JOINING.value:
        return None
    seat.call_id = seat.call_id or call_id
    if seat.call_id != call_id:
        return None
    campaign = await session.scalar(select(Campaign).where(Campaign.id == seat.campaign_id))
    if campaign is None or campaign.state != CampaignState.ACTIVE.value:
        return None
    await ready(platform, session, seat, utcnow(), "the agent answered")
    return seat


async def ready(
    platform: Platform, session: AsyncSession, seat: Seat, now: datetime, reason: str
) -> None:
    """The seat waits for the next answered call (the dialer is woken to dial for it)."""
    from plugins.campaigns.dialer.engine import wake

    previous = seat.status
    seat.status = SeatStatus.READY.value
    seat.ready_since = now
    seat.wrap_up_until = None
    await publish(platform, session, seat, previous, reason)
    await wake(platform, session)


async def leg_ended(
    platform: Platform, session: AsyncSession, seat_id: uuid.UUID, call_id: uuid.UUID, status: str
) -> None:
    """The agent's leg ended: the seat ends. Unanswered (busy, no answer, failed), the agent
    missed it and goes away (``missed``), as for a missed queue offer."""
    seat = await locked_seat(session, seat_id)
    if seat is None or seat.status == SeatStatus.ENDED.value:
        return
    if seat.call_id not in (None, call_id):
        return
    missed = seat.status == SeatStatus.JOINING.value
    await end(platform, session, seat_id, f"agent leg {status}", missed=missed)


async def end(
    platform: Platform,
    session: AsyncSession,
    seat_id: uuid.UUID,
    reason: str,
    *,
    missed: bool = False,
) -> None:
    """End the seat; the agent is available again (away ``missed`` if they never picked
    up)."""
    seat = await locked_seat(session, seat_id)
    if seat is None or seat.status == SeatStatus.ENDED.value:
        return
    agent = await locked_agent(session, seat.agent_id)
    previous = seat.status
    seat.status = SeatStatus.ENDED.value
    seat.ended_at = utcnow()
    seat.end_reason = seat.end_reason or reason[:64]  # why it was asked to leave, if it was
    if agent is not None:
        if missed and agent.state == AgentState.RESERVED.value:
            await move_agent(platform, session, agent, AgentState.AWAY)
        elif agent.state in (
            AgentState.RESERVED.value,
            AgentState.ON_CALL.value,
            AgentState.WRAP_UP.value,
        ):
            await move_agent(platform, session, agent, AgentState.AVAILABLE)
    await publish(platform, session, seat, previous, reason)


async def leave(platform: Platform, session: AsyncSession, seat: Seat, reason: str) -> bool:
    """Ask the seat to end (the caller locked it): ``leaving`` until the leg is hung up
    (:func:`hang_up_leaving`), at once when there is no leg. True when the seat is over
    already."""
    if seat.status == SeatStatus.ENDED.value:
        return True
    if seat.call_id is None:
        await end(platform, session, seat.id, reason)
        return True
    from plugins.campaigns.dialer.engine import wake

    previous = seat.status
    seat.status = SeatStatus.LEAVING.value
    seat.end_reason = reason[:64]
    await publish(platform, session, seat, previous, reason)
    await wake(platform, session)  # the job hangs the leg up
    return False


async def hang_up_leg(platform: Platform, session: AsyncSession, seat_id: uuid.UUID) -> None:
    """Hang up a leaving seat's leg (outside any lock); a leg already gone ends the seat."""
    seat = await session.scalar(select(Seat).where(Seat.id == seat_id))
    if seat is None or seat.status != SeatStatus.LEAVING.value or seat.call_id is None:
        return
    call_id = seat.call_id
    await session.commit()
    try:
        await hang_up_call(platform, session, call_id, actor=ACTOR)
    except (ProblemError, LookupError, ValueError) as exc:
        await session.rollback()
        logger.info("seat %s: its leg could not be hung up (%s); the seat ends", seat_id, exc)
        await end(platform, session, seat_id, "left")
    await session.commit()


async def call_over(
    platform: Platform, session: AsyncSession, seat_id: uuid.UUID, now: datetime
) -> None:
    """The person the agent talked to is gone: wrap-up until the agent's wrap-up time has
    passed (none: ready at once)."""
    seat = await locked_seat(session, seat_id)
    if seat is None or seat.status != SeatStatus.TALKING.value:
        return
    agent = await locked_agent(session, seat.agent_id)
    if agent is None:
        return
    seconds = await wrap_up_seconds(session, agent)
    previous = seat.status
    seat.status = SeatStatus.WRAP_UP.value
    seat.wrap_up_until = now + timedelta(seconds=seconds)
    await move_agent(platform, session, agent, AgentState.WRAP_UP, now=now)
    await publish(platform, session, seat, previous, "the call ended")
    if seconds == 0:
        await end_wrap_up(platform, session, seat, agent, now)
    else:
        from plugins.campaigns.dialer.engine import wake

        await wake(platform, session, at=seat.wrap_up_until)


async def end_wrap_up(
    platform: Platform, session: AsyncSession, seat: Seat, agent: Agent, now: datetime
) -> None:
    """Back to ready: the agent is reserved for the campaign's next call. An agent who went
    away or offline meanwhile leaves the seat, as does one asked to leave during the call."""
    await _wrap_up_recorded(session, seat, now)
    if seat.end_reason == LEAVE_AFTER_CALL:
        await leave(platform, session, seat, LEAVE_AFTER_CALL)
        return
    if agent.state in (AgentState.WRAP_UP.value, AgentState.AVAILABLE.value):
        await move_agent(platform, session, agent, AgentState.RESERVED, now=now)
        await ready(platform, session, seat, now, "wrap-up ended")
        return
    await leave(platform, session, seat, f"the agent is {agent.state}")


async def _wrap_up_recorded(session: AsyncSession, seat: Seat, now: datetime) -> None:
    """The agent's call history gets the wrap-up's end and length."""
    call_id = await session.scalar(select(Attempt.call_id).where(Attempt.id == seat.attempt_id))
    handled = await session.scalar(
        select(HandledCall).where(
            HandledCall.agent_id == seat.agent_id,
            HandledCall.call_id == call_id,
            HandledCall.wrap_up_ended_at.is_(None),
        )
    )
    if handled is not None and handled.ended_at is not None:
        handled.wrap_up_ended_at = now
        handled.wrap_up_seconds = round(max(0.0, (now - handled.ended_at).total_seconds()), 3)


async def end_wrap_ups(platform: Platform, session: AsyncSession, now: datetime) -> None:
    """Seats whose wrap-up time has passed are ready again."""
    due = list(
        await session.scalars(
            select(Seat.id).where(
                Seat.status == SeatStatus.WRAP_UP.value, Seat.wrap_up_until <= now
            )
        )
    )
    for seat_id in due:
        seat = await locked_seat(session, seat_id)
        if seat is None or seat.status != SeatStatus.WRAP_UP.value:
            continue
        agent = await locked_agent(session, seat.agent_id)
        if agent is not None:
            await end_wrap_up(platform, session, seat, agent, now)


async def housekeeping(platform: Platform, session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Seats of campaigns no longer active leave; seats a dead worker left joining without
    a leg end. The leaving seats whose legs must be hung up."""
    inactive = list(
        await session.scalars(
            select(Seat.id)
            .join(Campaign, Campaign.id == Seat.campaign_id)
            .where(
                Seat.status.in_(
                    [SeatStatus.JOINING.value, SeatStatus.READY.value, SeatStatus.WRAP_UP.value]
                ),
                Campaign.state != CampaignState.ACTIVE.value,
            )
        )
    )
    for seat_id in inactive:
        seat = await locked_seat(session, seat_id)
        if seat is not None and seat.status != SeatStatus.TALKING.value:
            await leave(platform, session, seat, "the campaign is not active")
    lost = list(
        await session.scalars(
            select(Seat.id).where(
                Seat.status == SeatStatus.JOINING.value,
                Seat.call_id.is_(None),
                Seat.joined_at < now - LOST_AFTER,
            )
        )
    )
    for seat_id in lost:
        await end(platform, session, seat_id, "lost: no leg was placed")
    return list(
        await session.scalars(
            select(Seat.id).where(
                Seat.status == SeatStatus.LEAVING.value, Seat.call_id.is_not(None)
            )
        )
    )


async def next_wrap_up_end(session: AsyncSession) -> datetime | None:
    found: datetime | None = await session.scalar(
        select(Seat.wrap_up_until)
        .where(Seat.status == SeatStatus.WRAP_UP.value)
        .order_by(Seat.wrap_up_until)
        .limit(1)
    )
    return found
