"""A queued call with an agent: the answer, the end of the conversation, the wrap-up."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.agents import Agent, AgentState, HandledCall, change_state
from plugins.queues.events import CallAnswered, CallCompleted
from plugins.queues.live import publish_stats
from plugins.queues.models import ItemStatus, Offer, OfferStatus, Queue, QueueItem
from plugins.queues.routing.offers import Locked, lock_agent, withdraw_offers
from plugins.queues.routing.rows import row
from plugins.queues.routing.timing import wrap_up_seconds

TOPIC = "queues.dispatch"


async def answer(
    platform: Platform,
    session: AsyncSession,
    locked: Locked,
    leg_call_id: uuid.UUID | None,
    *,
    now: datetime | None = None,
) -> None:
    """The agent answered the offer's leg: the offer is accepted (a ring-all's other offers
    are withdrawn), the agent is on the call, the caller connected."""
    at = now or utcnow()
    offer, item, agent = locked.offer, locked.item, locked.agent
    offer.status = OfferStatus.ACCEPTED.value
    offer.decided_at = at
    offer.reason = None  # a leg answered before its placing finished: bridge it now
    if offer.agent_call_id is None:
        offer.agent_call_id = leg_call_id
    if offer.ring_all:  # otherwise the unique index leaves the item no other live offer
        await withdraw_offers(platform, session, item, reason="taken", keep=offer.id, now=at)
    await change_state(
        platform,
        session,
        agent,
        AgentState.ON_CALL,
        cause="routing",
        call_id=item.call_id,
        queue_id=item.queue_id,
        now=at,
    )
    item.status = ItemStatus.CONNECTED.value
    item.answered_at = at
    item.agent_id = agent.id
    item.wait_seconds = round(max(0.0, (at - item.entered_at).total_seconds()), 3)
    handled_call = item.call_id or leg_call_id
    if handled_call is not None:
        session.add(
            HandledCall(
                agent_id=agent.id, call_id=handled_call, queue_id=item.queue_id, answered_at=at
            )
        )
    await platform.events.publish(
        session,
        CallAnswered(
            item_id=item.id,
            queue_id=item.queue_id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
            agent_id=agent.id,
            wait_seconds=item.wait_seconds,
        ),
    )
    await publish_stats(platform, session, item.queue_id)
    await platform.jobs.wake(session, TOPIC)  # the caller is bridged by the dispatch job


async def finish(
    platform: Platform, session: AsyncSession, item: QueueItem, *, now: datetime | None = None
) -> None:
    """The conversation of a connected item is over (either side hung up): the item is
    completed, its offer ended, the agent wraps up (or is available at once). ``item``
    is locked; nothing happens unless it is still connected."""
    if item.status != ItemStatus.CONNECTED.value:
        return
    at = now or utcnow()
    item.status = ItemStatus.COMPLETED.value
    item.ended_at = at
    item.outcome = ItemStatus.COMPLETED.value
    agent = await lock_agent(session, item.agent_id) if item.agent_id else None
    await session.execute(  # one statement, locking the offers after the item and agent
        update(Offer)
        .where(
            Offer.item_id == item.id,
            Offer.status.in_((OfferStatus.ACCEPTED.value, OfferStatus.CONNECTED.value)),
        )
        .values(
            status=OfferStatus.ENDED.value,
            decided_at=func.coalesce(Offer.decided_at, literal(at, Offer.decided_at.type)),
        )
        .execution_options(synchronize_session="fetch")
    )
    queue = await row(session, Queue, item.queue_id)
    # Before the agent is freed: the wake-up the agent's availability would add is then
    # already made (one statement, and no savepoint for it, instead of three).
    await platform.jobs.wake(session, TOPIC)  # hang up the agent's leg if it is still up
    if agent is not None:
        await _wrap_up(platform, session, agent, item, queue, at)
    await platform.events.publish(
        session,
        CallCompleted(
            item_id=item.id,
            queue_id=item.queue_id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
            agent_id=item.agent_id,
            wait_seconds=item.wait_seconds,
        ),
    )
    await publish_stats(platform, session, item.queue_id)


async def _wrap_up(
    platform: Platform,
    session: AsyncSession,
    agent: Agent,
    item: QueueItem,
    queue: Queue | None,
    at: datetime,
) -> None:
    handled = await session.scalar(
        select(HandledCall).where(
            HandledCall.agent_id == agent.id,
            HandledCall.call_id == item.call_id,
            HandledCall.ended_at.is_(None),
        )
    )
    if handled is not None:
        handled.ended_at = at
        handled.talk_seconds = round(max(0.0, (at - handled.answered_at).total_seconds()), 3)
    if agent.state != AgentState.ON_CALL.value:
        return  # a supervisor or the system moved the agent meanwhile
    seconds = await wrap_up_seconds(session, queue, agent)
    if seconds <= 0:
        if handled is not None:  # before the state change flushes it: one UPDATE
            handled.wrap_up_ended_at, handled.wrap_up_seconds = at, 0.0
        await change_state(
            platform,
            session,
            agent,
            AgentState.AVAILABLE,
            cause="routing",
            queue_id=item.queue_id,
            now=at,
        )
        return
    await change_state(
        platform,
        session,
        agent,
        AgentState.WRAP_UP,
        cause="routing",
        queue_id=item.queue_id,
        wrap_up_seconds=seconds,
        now=at,
    )
    await platform.jobs.wake(session, TOPIC, at=at + timedelta(seconds=seconds))


async def end_wrap_ups(platform: Platform, session: AsyncSession, now: datetime) -> int:
    """Agents whose wrap-up time is over become available (cause timeout)."""
    due = list(
        await session.scalars(
            select(Agent.id)
            .where(Agent.state == AgentState.WRAP_UP.value, Agent.wrap_up_until <= now)
            .limit(500)
        )
    )
    ended = 0
    for agent_id in due:
        agent = await lock_agent(session, agent_id)
        if agent is None or agent.state != AgentState.WRAP_UP.value:
            continue
        if agent.wrap_up_until is None or agent.wrap_up_until > now:
            continue
        call_id = agent.current_call_id
        await change_state(platform, session, agent, AgentState.AVAILABLE, cause="timeout", now=now)
        if call_id is not None:
            handled = await session.scalar(
                select(HandledCall).where(
                    HandledCall.agent_id == agent.id,
                    HandledCall.call_id == call_id,
                    HandledCall.wrap_up_ended_at.is_(None),
                )
            )
            if handled is not None and handled.ended_at is not None:
                handled.wrap_up_ended_at = now
                handled.wrap_up_seconds = round((now - handled.ended_at).total_seconds(), 3)
        ended += 1
    return ended
