"""A supervisor's hand on the line: move a waiting call to another queue or to one agent,
or take it out.

All go through routing (:func:`plugins.queues.routing.withdraw`): an offer ringing an agent
is withdrawn (the agent is available again, the leg hung up after commit), so the call can
never be answered in the old queue once it left it. The call keeps its place by the time it
entered its first queue (like a callback keeps the caller's), so a move is never a penalty.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, utcnow
from plugins.agents import Agent, ReachKind
from plugins.queues import routing
from plugins.queues.events import CallEnqueued, CallMoved
from plugins.queues.live import publish_stats
from plugins.queues.models import LIVE_ITEM_STATUSES, ItemStatus, Queue, QueueItem
from plugins.queues.problems import ITEM_NOT_FOUND, ITEM_NOT_WAITING, MOVE_INVALID, located

MOVED = "moved"
REMOVED = "removed"


async def live_item(session: AsyncSession, item_id: uuid.UUID) -> QueueItem:
    """The item, locked; 404 when it does not exist, 409 when it no longer waits (an agent
    took it meanwhile, or it ended): the lock keeps routing from connecting it under us."""
    item = await session.scalar(
        select(QueueItem)
        .where(QueueItem.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if item is None:
        raise ProblemError(ITEM_NOT_FOUND, f"no queued call {item_id}")
    if item.status not in {s.value for s in LIVE_ITEM_STATUSES}:
        raise ProblemError(
            ITEM_NOT_WAITING,
            f"the call is {item.status}, no longer waiting",
            call_status=item.status,
        )
    return item


async def position(session: AsyncSession, item: QueueItem) -> int:
    """1 + the live items ahead of ``item`` in its queue (priority first, then entry)."""
    ahead = await session.scalar(
        select(func.count())
        .select_from(QueueItem)
        .where(
            QueueItem.queue_id == item.queue_id,
            QueueItem.id != item.id,
            QueueItem.status.in_([s.value for s in LIVE_ITEM_STATUSES]),
            or_(
                QueueItem.priority > item.priority,
                (QueueItem.priority == item.priority) & (QueueItem.entered_at <= item.entered_at),
            ),
        )
    )
    return int(ahead or 0) + 1


async def move_call(
    platform: Platform,
    session: AsyncSession,
    *,
    item_id: uuid.UUID,
    queue_id: uuid.UUID,
    actor: str | None,
) -> QueueItem:
    """Close the item in its queue (``cancelled``, outcome ``moved``) and open one in
    ``queue_id`` for the same call, with the target's required skills and maximum wait."""
    item = await live_item(session, item_id)
    target = await session.scalar(select(Queue).where(Queue.id == queue_id))
    why = (
        "no queue of the organization has this id"
        if target is None
        else "the call is in this queue already"
        if target.id == item.queue_id
        else "the queue is inactive"
        if not target.active
        else None
    )
    if why is not None or target is None:
        errors = [{"loc": ["queue_id"], "message": why, "type": "value_error"}]
        raise ProblemError(MOVE_INVALID, why, errors=located(errors))
    source = item.queue_id
    await routing.withdraw(platform, session, item, reason=MOVED)
    now = utcnow()
    moved = QueueItem(
        queue_id=target.id,
        kind=item.kind,
        call_id=item.call_id,
        provider=item.provider,
        caller_number=item.caller_number,
        called_number=item.called_number,
        callback_number=item.callback_number,
        priority=item.priority,
        required_skills=list(target.required_skills or []),
        context=dict(item.context or {}) | {"moved_from": str(source)},
        return_target=item.return_target,
        status=ItemStatus.WAITING.value,
        entered_at=item.entered_at,
        deadline_at=now + timedelta(seconds=target.max_wait_seconds)
        if target.max_wait_seconds
        else None,
    )
    session.add(moved)
    await session.flush()
    common = {"call_id": item.call_id, "kind": item.kind}
    await platform.events.publish(
        session,
        CallMoved(
            item_id=item.id,
            queue_id=source,
            status=item.status,
            wait_seconds=item.wait_seconds,
            to_queue_id=target.id,
            actor=actor,
            **common,
        ),
    )
    await platform.events.publish(
        session,
        CallEnqueued(
            item_id=moved.id,
            queue_id=target.id,
            status=moved.status,
            position=await position(session, moved),
            **common,
        ),
    )
    await routing.wake(platform, session)
    await publish_stats(platform, session, source)
    await publish_stats(platform, session, target.id)
    return moved


def invalid(field: str, why: str) -> ProblemError:
    errors = [{"loc": [field], "message": why, "type": "value_error"}]
    return ProblemError(MOVE_INVALID, why, errors=located(errors))


def one_target(queue_id: uuid.UUID | None, agent_id: uuid.UUID | None) -> None:
    """A move names a queue or an agent, never both or neither."""
    if queue_id is not None and agent_id is not None:
        raise invalid("agent_id", "give queue_id or agent_id, not both")
    if queue_id is None and agent_id is None:
        raise invalid("queue_id", "give queue_id (another queue) or agent_id (one agent)")


def _refusal(agent: Agent | None, item: QueueItem) -> str | None:
    """Why ``agent`` cannot take ``item`` (None: they can, busy or not)."""
    if agent is None:
        return "no agent of the organization has this id"
    if not agent.active:
        return "the agent is inactive"
    if agent.reach_kind == ReachKind.LOOPBACK.value and item.provider != routing.LOOPBACK:
        return "a loopback agent takes loopback calls only"
    return None


async def move_to_agent(
    platform: Platform,
    session: AsyncSession,
    *,
    item_id: uuid.UUID,
    agent_id: uuid.UUID,
    actor: str | None,
) -> QueueItem:
    """The call stays in its queue (and its place) but is offered to ``agent_id`` only: an
    agent being rung for it is released, and it waits while that agent is busy. The agent
    must exist, be active and reach the call's provider; membership and skills are the
    supervisor's call."""
    item = await live_item(session, item_id)
    agent = await session.scalar(select(Agent).where(Agent.id == agent_id))
    why = _refusal(agent, item)
    if why is not None:
        raise invalid("agent_id", why)
    await routing.retarget(platform, session, item, agent_id=agent_id)
    await _moved(platform, session, item, actor, to_queue_id=item.queue_id, to_agent_id=agent_id)
    return item


async def take_out(
    platform: Platform, session: AsyncSession, *, item_id: uuid.UUID, actor: str | None
) -> QueueItem:
    """Close the item (``cancelled``, outcome ``removed``): a callback is cancelled; a
    caller on the line is no longer in line (the caller side decides what they hear)."""
    item = await live_item(session, item_id)
    await routing.withdraw(platform, session, item, reason=REMOVED)
    await _moved(platform, session, item, actor, to_queue_id=None)
    return item


async def _moved(
    platform: Platform,
    session: AsyncSession,
    item: QueueItem,
    actor: str | None,
    *,
    to_queue_id: uuid.UUID | None,
    to_agent_id: uuid.UUID | None = None,
) -> None:
    """Say the item left its place (to another agent of its queue, or out of line) and
    publish its queue's figures."""
    await platform.events.publish(
        session,
        CallMoved(
            item_id=item.id,
            queue_id=item.queue_id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
            wait_seconds=item.wait_seconds,
            to_queue_id=to_queue_id,
            to_agent_id=to_agent_id,
            actor=actor,
        ),
    )
    await publish_stats(platform, session, item.queue_id)
