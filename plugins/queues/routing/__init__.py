"""Routing, the automatic call distributor's engine: which agent gets which queued call.

What the rest of the queues plugin calls (the caller side, the queues API):

* :func:`wake`: something was enqueued or freed (in the caller's transaction);
* :func:`withdraw`: a waiting call leaves (hung up, overflowed, moved, cancelled);
* :func:`retarget`: a waiting call is for one agent only from now on;
* :func:`caller_ended`: a connected caller's call ended;
* :func:`agent_leg_start`, :func:`agent_leg_resume`, :func:`agent_leg_ended`: the ``queues``
  handler's turns for the agent legs routing places (targets ``offer:<offer id>``);
* :func:`route`: one claim pass (no provider involved), returning the offers it made;
* :data:`DISPATCH_JOB`: the ``queues.dispatch`` job topic that does the rest.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.queues.models import LIVE_ITEM_STATUSES, ItemStatus, QueueItem
from plugins.queues.routing.claim import LOOPBACK, RoutingRun, route
from plugins.queues.routing.conversation import TOPIC, finish
from plugins.queues.routing.dispatch import DISPATCH_JOB, dispatch
from plugins.queues.routing.offers import lock_item, withdraw_offers
from plugins.queues.routing.turns import agent_leg_ended, agent_leg_resume, agent_leg_start

LEAVING = {s.value for s in (ItemStatus.ABANDONED, ItemStatus.OVERFLOWED, ItemStatus.CANCELLED)}


async def wake(platform: Platform, session: AsyncSession) -> None:
    """Have the dispatch job run once the caller's transaction commits."""
    await platform.jobs.wake(session, TOPIC)


async def withdraw(
    platform: Platform, session: AsyncSession, item: QueueItem, *, reason: str
) -> None:
    """The item leaves the queue: its live offers are withdrawn (their agents available
    again, their legs hung up by the dispatch job after commit). A still waiting or offered
    item takes ``reason`` as its status when it names one (``abandoned``, ``overflowed``,
    ``cancelled``), else ``cancelled``; an item already connected ends its conversation."""
    locked = await lock_item(session, item.id)
    if locked is None:
        return
    now = utcnow()
    if locked.status == ItemStatus.CONNECTED.value:
        await finish(platform, session, locked, now=now)
        return
    await withdraw_offers(platform, session, locked, reason=reason, now=now)
    if locked.status in {s.value for s in LIVE_ITEM_STATUSES}:
        locked.status = reason if reason in LEAVING else ItemStatus.CANCELLED.value
        locked.outcome = reason[:32]
        locked.ended_at = now
        locked.wait_seconds = round(max(0.0, (now - locked.entered_at).total_seconds()), 3)
    await wake(platform, session)


async def retarget(
    platform: Platform, session: AsyncSession, item: QueueItem, *, agent_id: uuid.UUID
) -> None:
    """A waiting (or offered) item is for ``agent_id`` only from now on: its live offers are
    withdrawn (their agents available again, their legs hung up), it waits, and the next
    routing pass offers it to that agent once available (``item`` locked by the caller)."""
    await withdraw_offers(platform, session, item, reason="moved")
    item.status = ItemStatus.WAITING.value
    item.target_agent_id = agent_id
    await wake(platform, session)


async def caller_ended(platform: Platform, session: AsyncSession, item: QueueItem) -> None:
    """The caller's call ended: a connected item is completed and its agent wraps up (the
    agent's leg is hung up if the conference did not end it); a waiting or offered one is
    abandoned."""
    locked = await lock_item(session, item.id)
    if locked is None:
        return
    if locked.status == ItemStatus.CONNECTED.value:
        await finish(platform, session, locked)
    elif locked.status in {s.value for s in LIVE_ITEM_STATUSES}:
        await withdraw(platform, session, locked, reason=ItemStatus.ABANDONED.value)


__all__ = [
    "DISPATCH_JOB",
    "LOOPBACK",
    "TOPIC",
    "RoutingRun",
    "agent_leg_ended",
    "agent_leg_resume",
    "agent_leg_start",
    "caller_ended",
    "dispatch",
    "retarget",
    "route",
    "wake",
    "withdraw",
]
