"""The ``queues`` call handler. Targets: ``<queue id>`` is a caller entering that queue (a
number routed to it, the IVR's enqueue node, the API); ``offer:<offer id>`` is an agent's
leg that routing placed, which routing drives."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import utcnow
from plugins.calls import CallHandler, CallTurn, Direction, HandledCall, Hangup, Say
from plugins.ivr import handed_over_from
from plugins.queues import routing
from plugins.queues.caller import hold
from plugins.queues.caller.entering import Caller, enter, is_full, new_item, queue_for_update
from plugins.queues.caller.leaving import abandon, to_callback
from plugins.queues.caller.overflow import overflow
from plugins.queues.models import LIVE_ITEM_STATUSES, ItemStatus, Offer, Queue, QueueItem

OFFER_PREFIX = "offer:"
ENQUEUE_NODE = "queues.enqueue"
UNAVAILABLE = "Sorry, this line cannot take your call right now. Goodbye."
CALLBACK_CONFIRMATION = (
    "Thank you. We will call you back at the number you are calling from as soon as an "
    "agent is free, and you keep your place in line. Goodbye."
)


def parse_target(target: str) -> tuple[str, uuid.UUID]:
    """``("offer", id)`` or ``("queue", id)``; raises ``ValueError``."""
    if target.startswith(OFFER_PREFIX):
        return "offer", uuid.UUID(target.removeprefix(OFFER_PREFIX))
    return "queue", uuid.UUID(target)


def caller_of(
    call: HandledCall,
    *,
    priority: int = 0,
    context: dict[str, Any] | None = None,
    return_targets: dict[str, str] | None = None,
) -> Caller:
    inbound = call.direction is Direction.INBOUND
    return Caller(
        call_id=call.id,
        provider=call.provider,
        caller_number=call.from_number if inbound else call.to_number,
        called_number=call.to_number if inbound else call.from_number,
        priority=priority,
        context=context or {},
        return_targets=return_targets or {},
    )


class QueueHandler(CallHandler):
    name = "queues"

    async def check_target(self, session: AsyncSession, target: str) -> str | None:
        try:
            kind, ident = parse_target(target)
        except ValueError:
            return "not a queue id (or offer:<offer id>)"
        if kind == "offer":
            found = await session.scalar(select(Offer.id).where(Offer.id == ident))
            return None if found is not None else "no offer of the organization has this id"
        queue = await session.scalar(select(Queue).where(Queue.id == ident))
        if queue is None:
            return "no queue of the organization has this id"
        if not queue.active:
            return "the queue is not active"
        return None

    async def start(self, turn: CallTurn) -> Sequence[Any]:
        try:
            kind, ident = parse_target(turn.call.target or "")
        except ValueError:
            turn.note("queues.unavailable", reason="the call's target is not a queue")
            return [Say(text=UNAVAILABLE), Hangup()]
        if kind == "offer":
            return await routing.agent_leg_start(turn, ident)
        return await _enter(turn, ident)

    async def resume(self, turn: CallTurn) -> Sequence[Any] | None:
        try:
            kind, ident = parse_target(turn.call.target or "")
        except ValueError:
            return None
        if kind == "offer":
            return await routing.agent_leg_resume(turn, ident)
        return await _holding(turn)

    async def ended(self, turn: CallTurn) -> None:
        try:
            kind, ident = parse_target(turn.call.target or "")
        except ValueError:
            return
        if kind == "offer":
            await routing.agent_leg_ended(turn, ident)
            return
        item = await _item_of(turn, [*LIVE_ITEM_STATUSES, ItemStatus.CONNECTED])
        if item is None:
            return
        if item.status == ItemStatus.CONNECTED.value:
            await routing.caller_ended(turn.platform, turn.session, item)
            return
        await abandon(turn.platform, turn.session, item)
        turn.note("queues.abandoned", queue_id=str(item.queue_id), item_id=str(item.id))


async def _entering_caller(turn: CallTurn) -> Caller:
    """The caller with what came with the call: the flow that handed it over (its enqueue
    node's priority and exits, the path and variables), or ``queue_priority`` metadata."""
    metadata = turn.call.metadata
    priority = _int(metadata.get("queue_priority"))
    context: dict[str, Any] = {}
    returns: dict[str, str] = {}
    came = await handed_over_from(turn.session, turn.call.id)
    if came is not None and came.node_config.get("type") == ENQUEUE_NODE:
        variables = came.variables
        priority = _int(came.node_config.get("priority"), _int(variables.get("queue_priority")))
        context = {
            "ivr": {
                "flow_id": str(came.flow_id),
                "node": came.node,
                "path": came.path,
                "variables": variables,
            }
        }
        exits = came.node_config.get("exits") or {}
        returns = {
            name: f"{came.flow_id}@{exits[name]}"
            for name in ("overflow", "timeout")
            if isinstance(exits.get(name), str) and exits[name]
        }
    return caller_of(turn.call, priority=priority, context=context, return_targets=returns)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def _enter(turn: CallTurn, queue_id: uuid.UUID) -> list[Any]:
    session = turn.session
    queue = await queue_for_update(session, queue_id)
    if queue is None or not queue.active:
        turn.note("queues.unavailable", queue_id=str(queue_id), reason="no such active queue")
        return [Say(text=UNAVAILABLE), Hangup()]
    caller = await _entering_caller(turn)
    if await is_full(session, queue):
        # Counted like any caller who reached the queue (offered), then sent on at once.
        item = new_item(queue, caller, now=utcnow())
        session.add(item)
        await session.flush()
        turn.note("queues.full", queue_id=str(queue.id), item_id=str(item.id))
        return await overflow(turn, queue, item, caller, reason="full")
    item, _place = await enter(turn.platform, session, queue, caller)
    turn.note("queues.entered", queue_id=str(queue.id), item_id=str(item.id))
    return await first_instructions(session, queue, item)


async def first_instructions(session: AsyncSession, queue: Queue, item: QueueItem) -> list[Any]:
    """What a caller hears on entering: greeting, place and wait, the callback offer, hold."""
    return [
        *hold.greeting(queue),
        *await hold.announcement(session, queue, item),
        *hold.callback_offer(queue),
        hold.hold_step(queue, item, utcnow()),
    ]


async def _holding(turn: CallTurn) -> list[Any] | None:
    """A hold turn came back: a callback key, the maximum wait, an announcement, or more
    hold. An agent who answered while the turn was on its way is about to be bridged in:
    the caller holds on (silently) until the redirect comes. None when the caller is no
    longer in the queue (the conversation is over, or the call left it)."""
    session = turn.session
    item = await _item_of(turn, [*LIVE_ITEM_STATUSES, ItemStatus.CONNECTED])
    if item is None:
        return None
    queue = await session.scalar(select(Queue).where(Queue.id == item.queue_id))
    if queue is None:
        return [Say(text=UNAVAILABLE), Hangup()]
    now = utcnow()
    if item.status == ItemStatus.CONNECTED.value:
        return [hold.hold_step(queue, item, now)]
    digits = (turn.input.digits or "").strip()
    if queue.callback_enabled and digits and digits[:1] == queue.callback_key:
        await to_callback(turn.platform, session, item, number=caller_of(turn.call).caller_number)
        turn.note("queues.callback", queue_id=str(queue.id), item_id=str(item.id))
        return [Say(text=CALLBACK_CONFIRMATION), Hangup()]
    if item.deadline_at is not None and now >= item.deadline_at:
        turn.note("queues.max-wait", queue_id=str(queue.id), item_id=str(item.id))
        caller = caller_of(turn.call, priority=item.priority)
        return await overflow(turn, queue, item, caller, reason="max_wait")
    said: list[Any] = []
    if hold.due(item, now):
        said = await hold.announcement(session, queue, item)
        hold.schedule_next(queue, item, now)
    return [*said, hold.hold_step(queue, item, now)]


async def _item_of(turn: CallTurn, statuses: Sequence[ItemStatus]) -> QueueItem | None:
    """The caller's latest item in one of ``statuses`` (a call, not a callback), locked."""
    item: QueueItem | None = await turn.session.scalar(
        select(QueueItem)
        .where(
            QueueItem.call_id == turn.call.id,
            QueueItem.kind == "call",
            QueueItem.status.in_([status.value for status in statuses]),
        )
        .order_by(QueueItem.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    return item
