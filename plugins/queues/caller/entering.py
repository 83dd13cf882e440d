"""Entering a queue: the item that holds the caller's place, where they are in line and how
long they may wait."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.agents import Agent, AgentState, TeamMember
from plugins.queues import routing
from plugins.queues.events import CallEnqueued
from plugins.queues.live import publish_stats
from plugins.queues.models import (
    LIVE_ITEM_STATUSES,
    ItemStatus,
    Queue,
    QueueAgent,
    QueueItem,
    QueueTeam,
)

DEFAULT_HANDLE_SECONDS = 180.0
"""The handle time an estimate assumes before a queue has answered calls."""
RECENT_CALLS = 20
"""How many of the queue's latest answered calls its average handle time is taken from."""
SERVING_STATES = (
    AgentState.AVAILABLE.value,
    AgentState.RESERVED.value,
    AgentState.ON_CALL.value,
    AgentState.WRAP_UP.value,
)
_LIVE = [status.value for status in LIVE_ITEM_STATUSES]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who enters a queue: the call and what came with it."""

    call_id: uuid.UUID
    provider: str
    caller_number: str
    called_number: str
    priority: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    return_targets: dict[str, str] = field(default_factory=dict)
    """IVR targets ``<flow id>@<node id>`` by reason: ``overflow`` (full), ``timeout``."""


async def queue_for_update(session: AsyncSession, queue_id: uuid.UUID) -> Queue | None:
    """The queue, locked: entering it counts its callers against its maximum size."""
    queue: Queue | None = await session.scalar(
        select(Queue).where(Queue.id == queue_id).with_for_update()
    )
    return queue


async def is_full(session: AsyncSession, queue: Queue) -> bool:
    if queue.max_size is None:
        return False
    waiting = await session.scalar(
        select(func.count(QueueItem.id)).where(
            QueueItem.queue_id == queue.id,
            QueueItem.kind == "call",
            QueueItem.status.in_(_LIVE),
        )
    )
    return (waiting or 0) >= queue.max_size


def new_item(
    queue: Queue, caller: Caller, *, now: datetime, entered_at: datetime | None = None
) -> QueueItem:
    """The caller's item, waiting; ``entered_at`` keeps a place taken in another queue."""
    every = queue.announce_every_seconds
    return QueueItem(
        id=uuid.uuid4(),
        queue_id=queue.id,
        kind="call",
        call_id=caller.call_id,
        provider=caller.provider,
        caller_number=caller.caller_number,
        called_number=caller.called_number,
        priority=caller.priority,
        required_skills=list(queue.required_skills or []),
        context=(
            {**caller.context, "return": dict(caller.return_targets)}
            if caller.return_targets
            else dict(caller.context)
        ),
        return_target=caller.return_targets.get("timeout") or caller.return_targets.get("overflow"),
        status=ItemStatus.WAITING.value,
        entered_at=entered_at or now,
        deadline_at=(
            now + timedelta(seconds=queue.max_wait_seconds)
            if queue.max_wait_seconds is not None
            else None
        ),
        next_announce_at=now + timedelta(seconds=every) if every > 0 else None,
    )


async def enter(
    platform: Platform,
    session: AsyncSession,
    queue: Queue,
    caller: Caller,
    *,
    entered_at: datetime | None = None,
) -> tuple[QueueItem, int]:
    """Put the caller in line (the queue has room): the item and its position."""
    item = new_item(queue, caller, now=utcnow(), entered_at=entered_at)
    session.add(item)
    await session.flush()
    place = await position(session, item)
    await platform.events.publish(
        session,
        CallEnqueued(
            item_id=item.id,
            queue_id=queue.id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
            position=place,
        ),
    )
    await publish_stats(platform, session, queue.id)
    # Last: the wake-up locks the tenant's one job row until the commit.
    await routing.wake(platform, session)
    return item, place


async def position(session: AsyncSession, item: QueueItem) -> int:
    """1 + the live items ahead (higher priority, or the same and entered earlier)."""
    ahead = await session.scalar(
        select(func.count(QueueItem.id)).where(
            QueueItem.queue_id == item.queue_id,
            QueueItem.status.in_(_LIVE),
            QueueItem.id != item.id,
            or_(
                QueueItem.priority > item.priority,
                and_(QueueItem.priority == item.priority, QueueItem.entered_at < item.entered_at),
            ),
        )
    )
    return (ahead or 0) + 1


async def estimated_wait_seconds(session: AsyncSession, queue: Queue, place: int) -> float:
    """``place`` x the queue's average handle time (its last answered calls) / the agents
    serving it now (logged in and not away; at least one)."""
    recent = (
        await session.execute(
            select(QueueItem.answered_at, QueueItem.ended_at)
            .where(
                QueueItem.queue_id == queue.id,
                QueueItem.status == ItemStatus.COMPLETED.value,
                QueueItem.answered_at.is_not(None),
                QueueItem.ended_at.is_not(None),
            )
            .order_by(QueueItem.ended_at.desc())
            .limit(RECENT_CALLS)
        )
    ).all()
    spans = [(ended - answered).total_seconds() for answered, ended in recent if answered and ended]
    handle = sum(spans) / len(spans) if spans else DEFAULT_HANDLE_SECONDS
    direct = select(QueueAgent.agent_id).where(QueueAgent.queue_id == queue.id)
    via_teams = select(TeamMember.agent_id).where(
        TeamMember.team_id.in_(select(QueueTeam.team_id).where(QueueTeam.queue_id == queue.id))
    )
    serving = await session.scalar(
        select(func.count(Agent.id)).where(
            Agent.active.is_(True),
            Agent.state.in_(SERVING_STATES),
            or_(Agent.id.in_(direct), Agent.id.in_(via_teams)),
        )
    )
    return place * handle / max(serving or 0, 1)


def spoken_wait(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return "Your estimated wait is less than a minute."
    return f"Your estimated wait is about {minutes} minutes."
