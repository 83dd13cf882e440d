"""``POST /api/v1/queues/{queue_id}/calls``: put a live call in a queue (a supervisor or an
integration moves a caller from wherever the call is to a queue's hold loop)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select

from kernel import (
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    problem_responses,
    require,
)
from plugins.calls import Call, CallStatus, redirect_call
from plugins.queues.caller.entering import Caller, enter, is_full, queue_for_update
from plugins.queues.caller.handler import first_instructions
from plugins.queues.caller.problems import (
    ALREADY_QUEUED,
    CALL_NOT_LIVE,
    CALL_UNKNOWN,
    QUEUE_FULL,
    QUEUE_UNAVAILABLE,
)
from plugins.queues.models import LIVE_ITEM_STATUSES, ItemStatus, QueueItem

router = APIRouter()

CallsWriter = Annotated[Principal, Depends(require("queues.calls", "write"))]


class EnqueueCallIn(BaseModel):
    call_id: uuid.UUID
    priority: int = Field(default=0, ge=-100, le=100, description="Higher is served first.")


class EnqueuedCallOut(BaseModel):
    item_id: uuid.UUID
    queue_id: uuid.UUID
    call_id: uuid.UUID
    status: str
    position: int
    """The caller's place in line when they entered."""


@router.post(
    "/{queue_id}/calls",
    response_model=EnqueuedCallOut,
    status_code=201,
    summary="Put a live call in a queue",
    responses=problem_responses(
        QUEUE_UNAVAILABLE, CALL_UNKNOWN, CALL_NOT_LIVE, ALREADY_QUEUED, QUEUE_FULL
    ),
)
async def enqueue_live_call(
    queue_id: uuid.UUID,
    body: EnqueueCallIn,
    principal: CallsWriter,
    session: SessionDep,
    platform: PlatformDep,
) -> EnqueuedCallOut:
    """The call leaves what it runs now (its IVR flow, silence) for the queue's greeting
    and hold loop; its handler becomes ``queues``."""
    queue = await queue_for_update(session, queue_id)
    if queue is None or not queue.active:
        raise ProblemError(QUEUE_UNAVAILABLE)
    call = await session.scalar(select(Call).where(Call.id == body.call_id).with_for_update())
    if call is None:
        raise ProblemError(CALL_UNKNOWN)
    if call.status != CallStatus.IN_PROGRESS.value:
        raise ProblemError(CALL_NOT_LIVE, f"the call is {call.status}", call_status=call.status)
    queued = await session.scalar(
        select(QueueItem.id).where(
            QueueItem.call_id == call.id,
            QueueItem.kind == "call",
            QueueItem.status.in_([s.value for s in (*LIVE_ITEM_STATUSES, ItemStatus.CONNECTED)]),
        )
    )
    if queued is not None:
        raise ProblemError(ALREADY_QUEUED, item_id=str(queued))
    if await is_full(session, queue):
        raise ProblemError(QUEUE_FULL)
    inbound = call.direction == "inbound"
    caller = Caller(
        call_id=call.id,
        provider=call.provider,
        caller_number=call.from_number if inbound else call.to_number,
        called_number=call.to_number if inbound else call.from_number,
        priority=body.priority,
        context={"enqueued_by": principal.subject},
    )
    item, place = await enter(platform, session, queue, caller)
    previous = (call.handler, call.handler_target)
    call.handler, call.handler_target = "queues", str(queue.id)
    instructions = await first_instructions(session, queue, item)
    item_id, call_id = item.id, call.id
    try:
        await redirect_call(platform, session, call_id, instructions, actor=principal.subject)
    except ProblemError:
        await _undo(session, item_id, call_id, previous)
        raise
    return EnqueuedCallOut(
        item_id=item_id, queue_id=queue_id, call_id=call_id, status=item.status, position=place
    )


async def _undo(
    session: SessionDep,
    item_id: uuid.UUID,
    call_id: uuid.UUID,
    previous: tuple[str | None, str | None],
) -> None:
    """The provider refused the redirect (committed before it was asked): the caller never
    joined the queue."""
    await session.rollback()
    item = await session.scalar(select(QueueItem).where(QueueItem.id == item_id))
    call = await session.scalar(select(Call).where(Call.id == call_id))
    if item is not None and item.status == ItemStatus.WAITING.value:
        item.status = ItemStatus.CANCELLED.value
        item.outcome = "redirect-failed"
    if call is not None and call.handler == "queues":
        call.handler, call.handler_target = previous
    await session.commit()
