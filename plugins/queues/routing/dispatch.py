"""The ``queues.dispatch`` job: everything routing does for a tenant in the background.

One run: offers past their time are missed, wrap-ups that are over end, callbacks past
their deadline overflow, waiting calls are offered (passes of :func:`route` until nothing
is left) and the figures of the queues offered calls published (``queues.queue.stats``,
once per queue after the passes, so that no claim holds its locks longer for it), then
the provider work the offers need, outside any lock: agents rung, callers bridged, legs
nobody needs hung up. It returns when it is next due (the first offer to
expire, wrap-up to end, skill requirement to relax, callback deadline), or now when it
stopped with work left.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import JobTopic, Platform, utcnow
from plugins.agents import Agent, AgentState
from plugins.queues.events import CallOverflowed
from plugins.queues.live import publish_stats
from plugins.queues.models import ItemStatus, Offer, Queue, QueueItem
from plugins.queues.routing.claim import RoutingRun, route
from plugins.queues.routing.conversation import TOPIC, end_wrap_ups
from plugins.queues.routing.legs import (
    bridge,
    callers_to_hang_up,
    hang_up,
    legs_to_hang_up,
    offers_to_bridge,
    offers_to_ring,
    place_leg,
)
from plugins.queues.routing.offers import UNANSWERED, expire_offers, lock_item, withdraw_offers

MAX_PASSES = 40
"""Routing passes per run (of :data:`~plugins.queues.routing.claim.BATCH` items each)."""


async def dispatch(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """Run the tenant's due routing work; when it is next due (None: nothing pending)."""
    now = utcnow()
    async with platform.database.session() as session:
        await expire_offers(platform, session, now)
        await end_wrap_ups(platform, session, now)
        await overflow_callbacks(platform, session, now)
        await session.commit()
    run = RoutingRun()
    more = await route_all(platform, run)
    if run.offered_queues:
        async with platform.database.session() as session:
            for queue_id in sorted(run.offered_queues):
                await publish_stats(platform, session, queue_id)
            await session.commit()
    async with platform.database.session() as session:
        ring, join = await offers_to_ring(session), await offers_to_bridge(session)
    for offer_id in ring:
        more = not await place_leg(platform, offer_id) or more
    for offer_id in join:
        await bridge(platform, offer_id)
    async with platform.database.session() as session:
        leftover = await legs_to_hang_up(session, utcnow())
        leftover += await callers_to_hang_up(session, utcnow())
    for call_id in leftover:
        await hang_up(platform, call_id)
    if more:
        return utcnow() + timedelta(seconds=1)
    async with platform.database.session() as session:
        return await next_due(session, utcnow())


async def route_all(platform: Platform, run: RoutingRun | None = None) -> bool:
    """Routing passes, each its own transaction, until no waiting call is left to look
    at; True when the run stopped with some left."""
    run = run if run is not None else RoutingRun()
    for _ in range(MAX_PASSES):
        async with platform.database.session() as session:
            await route(platform, session, run=run)
            await session.commit()
        if not run.full_batch:
            return False
    return True


async def overflow_callbacks(platform: Platform, session: AsyncSession, now: datetime) -> int:
    """Callbacks still waiting at their deadline leave the queue (overflowed): nobody is on
    the line to hear an overflow target, so there is none."""
    due = list(
        await session.scalars(
            select(QueueItem.id).where(
                QueueItem.kind == "callback",
                QueueItem.status.in_((ItemStatus.WAITING.value, ItemStatus.OFFERED.value)),
                QueueItem.deadline_at <= now,
            )
        )
    )
    queues: set[uuid.UUID] = set()
    for item_id in due:
        item = await lock_item(session, item_id)
        if item is None or item.status not in (ItemStatus.WAITING.value, ItemStatus.OFFERED.value):
            continue
        queues.add(item.queue_id)
        await withdraw_offers(platform, session, item, reason="overflowed", now=now)
        item.status = ItemStatus.OVERFLOWED.value
        item.outcome = "deadline"
        item.ended_at = now
        item.wait_seconds = round((now - item.entered_at).total_seconds(), 3)
        await platform.events.publish(
            session,
            CallOverflowed(
                item_id=item.id,
                queue_id=item.queue_id,
                call_id=item.call_id,
                kind=item.kind,
                status=item.status,
                wait_seconds=item.wait_seconds,
                target="none",
                reason="max-wait",
            ),
        )
    for queue_id in sorted(queues):
        await publish_stats(platform, session, queue_id)
    return len(due)


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """The earliest moment something routing waits for happens."""
    times: list[datetime | None] = [
        await session.scalar(
            select(func.min(Offer.expires_at)).where(Offer.status.in_(UNANSWERED))
        ),
        await session.scalar(
            select(func.min(Agent.wrap_up_until)).where(Agent.state == AgentState.WRAP_UP.value)
        ),
        await session.scalar(
            select(func.min(QueueItem.deadline_at)).where(
                QueueItem.kind == "callback", QueueItem.status == ItemStatus.WAITING.value
            )
        ),
    ]
    relaxing = await session.scalars(
        select(Queue).where(Queue.relax_skills_after_seconds.is_not(None))
    )
    for queue in relaxing:
        window = timedelta(seconds=queue.relax_skills_after_seconds or 0)
        oldest = await session.scalar(
            select(func.min(QueueItem.entered_at)).where(
                QueueItem.queue_id == queue.id,
                QueueItem.status == ItemStatus.WAITING.value,
                QueueItem.entered_at > now - window,
            )
        )
        times.append(oldest + window if oldest is not None else None)
    known = [t for t in times if t is not None]
    return min(known) if known else None


DISPATCH_JOB = JobTopic(
    TOPIC,
    dispatch,
    "Route queued calls to agents: expire offers, end wrap-ups, offer waiting calls, ring "
    "agents, bridge callers, hang up legs that are no longer needed.",
)
