"""Routes of seats: an agent takes a seat in a progressive or predictive campaign (their
phone rings once and stays connected between calls), lists the campaign's seats, leaves."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, status
from sqlalchemy import select

from kernel import (
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    problem_responses,
    require,
)
from plugins.agents import Agent, AgentState, ReachKind, agent_scope
from plugins.campaigns import service
from plugins.campaigns.models import (
    AGENT_MODES,
    LIVE_SEATS,
    CampaignState,
    Mode,
    Seat,
    SeatStatus,
)
from plugins.campaigns.permissions import CAMPAIGNS_ACTIVATE, CAMPAIGNS_READ, CAMPAIGNS_WORK
from plugins.campaigns.problems import (
    CAMPAIGN_NOT_FOUND,
    NO_AGENT_PROFILE,
    NOT_YOUR_CAMPAIGN,
    SEAT_NOT_FOUND,
    SEAT_REFUSED,
)
from plugins.campaigns.seats import service as seats
from plugins.campaigns.seats.rows import campaign_provider, live_seat_of, locked_seat
from plugins.campaigns.seats.schemas import SeatIn, SeatOut
from plugins.campaigns.workers import my_agent, works

router = APIRouter(tags=["campaigns"])

Reader = Annotated[Principal, Depends(require(CAMPAIGNS_READ.resource, CAMPAIGNS_READ.action))]
Worker = Annotated[Principal, Depends(require(CAMPAIGNS_WORK.resource, CAMPAIGNS_WORK.action))]
SEATED_MODES = (Mode.PROGRESSIVE.value, Mode.PREDICTIVE.value)
LOOPBACK = "loopback"


def _refused(reason: str, message: str, seat_id: uuid.UUID | None = None) -> ProblemError:
    if seat_id is None:
        return ProblemError(SEAT_REFUSED, message, reason=reason)
    return ProblemError(SEAT_REFUSED, message, reason=reason, seat_id=str(seat_id))


@router.post(
    "/{campaign_id}/seats",
    response_model=SeatOut,
    status_code=status.HTTP_201_CREATED,
    summary="Take a seat in a campaign",
    responses=problem_responses(
        CAMPAIGN_NOT_FOUND, NO_AGENT_PROFILE, NOT_YOUR_CAMPAIGN, SEAT_REFUSED
    ),
)
async def take_seat(
    campaign_id: uuid.UUID,
    session: SessionDep,
    platform: PlatformDep,
    principal: Worker,
    body: Annotated[SeatIn | None, Body()] = None,
) -> SeatOut:
    """Your agent works the campaign: you must be `available` and in its team or queue (else
    403 `campaigns-not-your-campaign`; no agent profile: 404 `campaigns-no-agent`); you
    become `reserved` for it and your phone rings (`joining`). Once you answer, you wait in
    the seat (`ready`) and every person who answers one of its calls is put straight
    through to the agent who has waited longest. Leave with `DELETE`.

    With `agent_id`, a supervisor (`campaigns:activate`) seats an agent they supervise (a
    loopback agent, or one who asked them to): another agent is `404 campaigns-no-agent`."""
    campaign = await service.get_campaign(session, campaign_id)
    agent = await _seated_agent(session, principal, body.agent_id if body else None)
    if not await works(session, agent, campaign):
        raise ProblemError(NOT_YOUR_CAMPAIGN, "the agent does not work this campaign")
    if campaign.mode not in SEATED_MODES:
        modes = ", ".join(m.value for m in AGENT_MODES if m.value in SEATED_MODES)
        raise _refused("mode", f"only {modes} campaigns have seats; this one is {campaign.mode}")
    if campaign.state != CampaignState.ACTIVE.value:
        raise _refused("not_active", f"the campaign is {campaign.state}, not active")
    seated = await live_seat_of(session, agent.id)
    if seated is not None:
        raise _refused("seated", "the agent already has a seat", seated.id)
    if agent.state != AgentState.AVAILABLE.value:
        raise _refused("not_available", f"the agent is {agent.state}, not available")
    provider = await campaign_provider(session, campaign)
    if (agent.reach_kind == ReachKind.LOOPBACK.value) != (provider == LOOPBACK):
        raise _refused(
            "provider",
            "a loopback agent works loopback campaigns only, and only loopback agents do",
        )
    seat = await seats.take(platform, session, campaign, agent)
    seat_id = seat.id
    await session.commit()
    problem = await seats.ring(platform, session, seat_id)
    if problem is not None:
        raise problem
    return SeatOut.model_validate(await _seat(session, campaign_id, seat_id))


@router.get(
    "/{campaign_id}/seats",
    response_model=list[SeatOut],
    summary="List a campaign's seats",
    responses=problem_responses(CAMPAIGN_NOT_FOUND),
)
async def list_seats(
    campaign_id: uuid.UUID,
    session: SessionDep,
    _: Reader,
    ended: Annotated[bool, Query(description="Include ended seats (the last 200).")] = False,
) -> list[SeatOut]:
    """The campaign's seats, longest-waiting ready seat first among the live ones."""
    await service.get_campaign(session, campaign_id)
    query = select(Seat).where(Seat.campaign_id == campaign_id)
    if not ended:
        query = query.where(Seat.status.in_(LIVE_SEATS))
    rows = await session.scalars(query.order_by(Seat.joined_at.desc(), Seat.id).limit(200))
    return [SeatOut.model_validate(seat) for seat in rows]


@router.delete(
    "/{campaign_id}/seats/{seat_id}",
    response_model=SeatOut,
    summary="Leave a seat",
    responses=problem_responses(CAMPAIGN_NOT_FOUND, SEAT_NOT_FOUND),
)
async def leave_seat(
    campaign_id: uuid.UUID,
    seat_id: uuid.UUID,
    session: SessionDep,
    platform: PlatformDep,
    principal: Worker,
) -> SeatOut:
    """Your own seat, or (with `campaigns:activate`) a seat of an agent you supervise. A
    seat talking to someone finishes that call first; otherwise the agent's phone is hung
    up (`leaving`, then `ended`) and they are `available` again."""
    await service.get_campaign(session, campaign_id)
    seat = await locked_seat(session, seat_id)
    scope = await agent_scope(session, principal)
    own = seat is not None and seat.agent_id == scope.own_agent_id
    supervises = (
        seat is not None
        and principal.can(CAMPAIGNS_ACTIVATE.resource, CAMPAIGNS_ACTIVATE.action)
        and scope.covers(seat.agent_id)
    )
    if seat is None or seat.campaign_id != campaign_id or not (own or supervises):
        raise ProblemError(SEAT_NOT_FOUND, "no such seat in this campaign")
    if seat.status == SeatStatus.TALKING.value:
        seat.end_reason = seats.LEAVE_AFTER_CALL
    else:
        await seats.leave(
            platform, session, seat, "left by the agent" if own else "ended by a supervisor"
        )
    await session.commit()
    await seats.hang_up_leg(platform, session, seat_id)
    return SeatOut.model_validate(await _seat(session, campaign_id, seat_id))


async def _seated_agent(
    session: SessionDep, principal: Principal, agent_id: uuid.UUID | None
) -> Agent:
    """The caller's own agent, or (``agent_id``) one they supervise, locked."""
    if agent_id is None:
        return await my_agent(session, principal)
    scope = await agent_scope(session, principal)
    if agent_id != scope.own_agent_id and not (
        principal.can(CAMPAIGNS_ACTIVATE.resource, CAMPAIGNS_ACTIVATE.action)
        and scope.covers(agent_id)
    ):
        raise ProblemError(NO_AGENT_PROFILE, "no agent of yours has this id")
    agent = await session.scalar(
        select(Agent).where(Agent.id == agent_id, Agent.active.is_(True)).with_for_update()
    )
    if agent is None:
        raise ProblemError(NO_AGENT_PROFILE, "no active agent has this id")
    return agent


async def _seat(session: SessionDep, campaign_id: uuid.UUID, seat_id: uuid.UUID) -> Seat:
    session.expire_all()
    seat = await session.scalar(
        select(Seat).where(Seat.id == seat_id, Seat.campaign_id == campaign_id)
    )
    if seat is None:
        raise ProblemError(SEAT_NOT_FOUND, "no such seat in this campaign")
    return seat
