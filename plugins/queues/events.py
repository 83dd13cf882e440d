"""Events the queues plugin publishes (catalogue in ``docs/events.md``).

Payloads carry ids, states and times, not the caller's number: events reach every
subscriber with ``queues:read``, the agent page fetches an offer's details through the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from kernel import Event


class QueueCallEvent(Event):
    permission = "queues:read"
    aggregate = "item_id"

    item_id: uuid.UUID
    queue_id: uuid.UUID
    call_id: uuid.UUID | None = None
    kind: str = "call"
    status: str
    agent_id: uuid.UUID | None = None
    wait_seconds: float | None = None


class CallEnqueued(QueueCallEvent):
    name = "queues.call.enqueued"
    description = "A caller (or a callback) entered a queue; `position` is its place."

    position: int


class CallOffered(QueueCallEvent):
    name = "queues.call.offered"
    description = "A queued call was offered to an agent (`agent_id`, `offer_id`)."

    offer_id: uuid.UUID


class OfferEnded(QueueCallEvent):
    name = "queues.call.offer_ended"
    description = (
        "An offer ended without a conversation: `outcome` is `declined`, `missed`, "
        "`withdrawn` or `failed`; the call goes back to waiting unless it ended."
    )

    offer_id: uuid.UUID
    outcome: str


class CallAnswered(QueueCallEvent):
    name = "queues.call.answered"
    description = "An agent answered a queued call; `wait_seconds` is the caller's wait."


class CallAbandoned(QueueCallEvent):
    name = "queues.call.abandoned"
    description = "The caller hung up while waiting."


class CallOverflowed(QueueCallEvent):
    name = "queues.call.overflowed"
    description = "The caller left the queue for its overflow target (`target`, `reason`)."

    target: str
    reason: str


class CallbackRequested(QueueCallEvent):
    name = "queues.call.callback_requested"
    description = "The caller asked to be called back; the callback keeps their place."


class CallCompleted(QueueCallEvent):
    name = "queues.call.completed"
    description = "A queued call that an agent took has ended."


class CallMoved(QueueCallEvent):
    name = "queues.call.moved"
    description = (
        "A waiting call was moved to another queue (`to_queue_id`), or to one agent "
        "(`to_agent_id`; it stays in its queue), or taken out (both null)."
    )

    to_queue_id: uuid.UUID | None = None
    to_agent_id: uuid.UUID | None = None
    actor: str | None = None


class QueueStats(Event):
    name = "queues.queue.stats"
    permission = "queues:read"
    aggregate = "queue_id"
    description = (
        "A queue's live figures after a change: waiting, oldest wait, agents by state, "
        "service level today."
    )

    queue_id: uuid.UUID
    waiting: int
    oldest_wait_seconds: float
    agents: dict[str, int]
    offered_today: int
    answered_today: int
    abandoned_today: int
    service_level_today: float | None
    at: datetime


EVENT_TYPES: list[type[Event]] = [
    CallEnqueued,
    CallOffered,
    OfferEnded,
    CallAnswered,
    CallAbandoned,
    CallOverflowed,
    CallbackRequested,
    CallCompleted,
    CallMoved,
    QueueStats,
]
