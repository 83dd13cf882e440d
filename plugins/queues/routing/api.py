"""The agent's side of an offer: see it, accept it (agents who do not auto-accept), or
decline it. Only the principal's own agent profile; ``agents.state:write``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    problem_responses,
    require,
    utcnow,
)
from plugins.agents import Agent
from plugins.queues.models import LIVE_OFFER_STATUSES, Offer, OfferStatus, Queue, QueueItem
from plugins.queues.routing.conversation import TOPIC
from plugins.queues.routing.offers import (
    UNANSWERED,
    Locked,
    accept_pending,
    end_offer,
    lock_offer,
)
from plugins.queues.routing.problems import NOT_AN_AGENT, OFFER_NOT_FOUND, OFFER_NOT_LIVE
from plugins.queues.routing.rows import row
from plugins.queues.routing.schemas import MyQueueOfferOut, QueueOfferOut

router = APIRouter()

StateWriter = Annotated[Principal, Depends(require("agents.state", "write"))]


async def own_agent(session: AsyncSession, principal: Principal) -> Agent:
    """The principal's agent profile (a user's; API keys and operators have none)."""
    try:
        user_id = uuid.UUID(principal.subject) if principal.kind == "user" else None
    except ValueError:
        user_id = None
    agent = (
        await session.scalar(select(Agent).where(Agent.user_id == user_id))
        if user_id is not None
        else None
    )
    if agent is None:
        raise ProblemError(NOT_AN_AGENT)
    return agent


async def offer_out(session: AsyncSession, offer: Offer) -> QueueOfferOut:
    item = await row(session, QueueItem, offer.item_id)
    queue = await row(session, Queue, offer.queue_id)
    if item is None:
        raise ProblemError(OFFER_NOT_FOUND)
    return QueueOfferOut(
        id=offer.id,
        status=offer.status,
        ring_all=offer.ring_all,
        created_at=offer.created_at,
        expires_at=offer.expires_at,
        item_id=item.id,
        queue_id=offer.queue_id,
        queue_name=queue.name if queue is not None else "",
        kind=item.kind,
        call_id=item.call_id,
        caller_number=item.caller_number,
        called_number=item.called_number,
        callback_number=item.callback_number,
        priority=item.priority,
        entered_at=item.entered_at,
        wait_seconds=round(max(0.0, (utcnow() - item.entered_at).total_seconds()), 3),
        context=dict(item.context or {}),
    )


@router.get(
    "/offers/mine",
    response_model=MyQueueOfferOut,
    summary="Your open offer (the call ringing for you), if any",
    responses=problem_responses(NOT_AN_AGENT),
)
async def my_queue_offer(principal: StateWriter, session: SessionDep) -> MyQueueOfferOut:
    agent = await own_agent(session, principal)
    offer = await session.scalar(
        select(Offer)
        .where(Offer.agent_id == agent.id, Offer.status.in_([s.value for s in LIVE_OFFER_STATUSES]))
        .order_by(Offer.created_at.desc())
        .limit(1)
    )
    return MyQueueOfferOut(offer=await offer_out(session, offer) if offer is not None else None)


async def _own_offer(session: AsyncSession, principal: Principal, offer_id: uuid.UUID) -> Locked:
    agent = await own_agent(session, principal)
    owner = await session.scalar(select(Offer.agent_id).where(Offer.id == offer_id))
    if owner is None or owner != agent.id:
        raise ProblemError(OFFER_NOT_FOUND)
    locked = await lock_offer(session, offer_id)
    if locked is None:
        raise ProblemError(OFFER_NOT_FOUND)
    return locked


@router.post(
    "/offers/{offer_id}/accept",
    response_model=QueueOfferOut,
    summary="Accept a call offered to you: your phone rings now",
    responses=problem_responses(NOT_AN_AGENT, OFFER_NOT_FOUND, OFFER_NOT_LIVE),
)
async def accept_queue_offer(
    offer_id: uuid.UUID, principal: StateWriter, session: SessionDep, platform: PlatformDep
) -> QueueOfferOut:
    """For agents who do not auto-accept: the offer rings your reach (answering it
    connects you). Accepting an offer that already rings changes nothing."""
    locked = await _own_offer(session, principal, offer_id)
    status = locked.offer.status
    if status == OfferStatus.PENDING.value:
        await accept_pending(session, locked)
        await platform.jobs.wake(session, TOPIC)
    elif status not in (OfferStatus.RINGING.value, OfferStatus.ACCEPTED.value):
        raise ProblemError(OFFER_NOT_LIVE, f"the offer is {status}", offer_status=status)
    out = await offer_out(session, locked.offer)
    await session.commit()
    return out


@router.post(
    "/offers/{offer_id}/decline",
    response_model=QueueOfferOut,
    summary="Decline a call offered to you (you go away, reason missed)",
    responses=problem_responses(NOT_AN_AGENT, OFFER_NOT_FOUND, OFFER_NOT_LIVE),
)
async def decline_queue_offer(
    offer_id: uuid.UUID, principal: StateWriter, session: SessionDep, platform: PlatformDep
) -> QueueOfferOut:
    """The call goes back to the queue for another agent; you are away (`missed`) until
    you make yourself available again."""
    locked = await _own_offer(session, principal, offer_id)
    status = locked.offer.status
    if status not in UNANSWERED:
        raise ProblemError(OFFER_NOT_LIVE, f"the offer is {status}", offer_status=status)
    await end_offer(
        platform,
        session,
        locked,
        OfferStatus.DECLINED,
        cause="agent",
        reason="declined",
        actor=principal.subject,
    )
    await platform.jobs.wake(session, TOPIC)
    out = await offer_out(session, locked.offer)
    await session.commit()
    return out
