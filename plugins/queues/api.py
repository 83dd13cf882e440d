"""Routes of queue management and live state.

``fixed_router`` holds paths that would otherwise be read as a queue id (``/live``,
``/available-count``); the plugin mounts it (and ``calls_router``) before ``router``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    SessionDep,
    paginate,
    problem_responses,
    record_audit_event,
    require,
    utcnow,
)
from plugins.queues import live, moves, service
from plugins.queues.config import queues_settings
from plugins.queues.models import ItemStatus, Queue, QueueItem
from plugins.queues.permissions import QUEUES_CALLS_WRITE, QUEUES_READ, QUEUES_WRITE
from plugins.queues.problems import (
    ITEM_NOT_FOUND,
    ITEM_NOT_WAITING,
    MOVE_INVALID,
    QUEUE_CHANGED,
    QUEUE_EXISTS,
    QUEUE_IN_USE,
    QUEUE_INVALID,
    QUEUE_NOT_FOUND,
)
from plugins.queues.schemas import (
    QueueAvailability,
    QueueCallRecord,
    QueueCreate,
    QueueLive,
    QueueLiveSummary,
    QueueMoveIn,
    QueueOut,
    QueuePatch,
    QueueWaitingCall,
    sent_fields,
)

fixed_router = APIRouter(tags=["queues"])
router = APIRouter(tags=["queues"])

Reader = Annotated[Principal, Depends(require(QUEUES_READ.resource, QUEUES_READ.action))]
Writer = Annotated[Principal, Depends(require(QUEUES_WRITE.resource, QUEUES_WRITE.action))]
CallsWriter = Annotated[
    Principal, Depends(require(QUEUES_CALLS_WRITE.resource, QUEUES_CALLS_WRITE.action))
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The queue's version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]
ONE = problem_responses(QUEUE_NOT_FOUND)


def _tagged(response: Response, queue: Queue) -> None:
    response.headers["ETag"] = f'"{queue.version}"'


async def _one(session: SessionDep, queue: Queue) -> QueueOut:
    return (await service.queue_outs(session, [queue]))[0]


@router.post(
    "",
    response_model=QueueOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a queue",
    responses=problem_responses(QUEUE_INVALID, QUEUE_EXISTS),
)
async def create_queue(
    body: QueueCreate, response: Response, session: SessionDep, _: Writer
) -> QueueOut:
    """Every value that cannot be accepted (an unknown agent or team, an overflow target
    that cannot take calls, a skill required twice) is listed in one 422."""
    queue = await service.create_queue(session, values=sent_fields(body))
    await session.commit()
    response.headers["Location"] = f"/api/v1/queues/{queue.id}"
    _tagged(response, queue)
    return await _one(session, queue)


@router.get("", response_model=CursorPage[QueueOut], summary="List queues")
async def list_queues(
    _: Reader,
    session: SessionDep,
    page: PageParamsDep,
    active: Annotated[bool | None, Query(description="Only active (or inactive) queues.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Text in the name.")] = None,
) -> CursorPage[QueueOut]:
    """By name."""
    query = select(Queue)
    if active is not None:
        query = query.where(Queue.active.is_(active))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Queue.name.ilike(f"%{escaped}%", escape="\\"))
    rows, cursor = await paginate(
        session, query, order_by=[Queue.name, Queue.id], params=page, descending=False
    )
    return CursorPage(items=await service.queue_outs(session, rows), next_cursor=cursor)


@router.get("/{queue_id}", response_model=QueueOut, summary="A queue", responses=ONE)
async def get_queue(
    queue_id: uuid.UUID, response: Response, session: SessionDep, _: Reader
) -> QueueOut:
    queue = await service.get_queue(session, queue_id)
    _tagged(response, queue)
    return await _one(session, queue)


@router.patch(
    "/{queue_id}",
    response_model=QueueOut,
    summary="Change a queue",
    responses=problem_responses(QUEUE_NOT_FOUND, QUEUE_CHANGED, QUEUE_INVALID, QUEUE_EXISTS),
)
async def patch_queue(
    queue_id: uuid.UUID,
    body: QueuePatch,
    response: Response,
    session: SessionDep,
    _: Writer,
    if_match: IfMatch = None,
) -> QueueOut:
    """Only the fields sent change; `agent_ids` and `team_ids` replace the lists. Calls
    already waiting keep their place; the new settings apply from their next turn. Send
    `If-Match` with the `ETag` you read (412 if the queue changed meanwhile)."""
    queue = await service.update_queue(
        session, queue_id=queue_id, values=sent_fields(body), if_match=if_match
    )
    await session.commit()
    _tagged(response, queue)
    return await _one(session, queue)


@router.delete(
    "/{queue_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a queue",
    responses=problem_responses(QUEUE_NOT_FOUND, QUEUE_CHANGED, QUEUE_IN_USE),
)
async def delete_queue(
    queue_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> Response:
    """Refused (409, `used_by`) while calls wait in it or are being served, or numbers, IVR
    nodes or other queues' overflow send callers to it. Its call history goes with it."""
    await service.delete_queue(session, queue_id=queue_id, if_match=if_match)
    record_audit_event(
        session,
        principal,
        "queues.queue_deleted",
        request=request,
        target_type="queue",
        target_id=queue_id,
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{queue_id}/live", response_model=QueueLive, summary="A queue's live state", responses=ONE
)
async def queue_live(
    queue_id: uuid.UUID, session: SessionDep, platform: PlatformDep, _: Reader
) -> QueueLive:
    """The calls in line (position 1 is next), the agents who serve the queue by state, and
    today's figures in the organization's time zone (formulas: `docs/plugins/queues.md`)."""
    queue = await service.get_queue(session, queue_id)
    now = utcnow()
    found = await live.snapshots(platform, session, [queue.id], now=now)
    figures = found[0]
    items = await live.waiting_calls(
        session, queue.id, limit=queues_settings(platform).live_waiting_limit
    )
    calls = [
        QueueWaitingCall(
            item_id=item.id,
            kind=item.kind,
            status=ItemStatus(item.status),
            call_id=item.call_id,
            priority=item.priority,
            position=position,
            wait_seconds=round(max(0.0, (now - item.entered_at).total_seconds()), 1),
            entered_at=item.entered_at,
            offers=item.offers,
        )
        for position, item in enumerate(items, start=1)
    ]
    return QueueLive(
        queue_id=queue.id,
        name=queue.name,
        active=queue.active,
        waiting=figures.waiting,
        connected=figures.connected,
        oldest_wait_seconds=figures.oldest_wait_seconds,
        calls=calls,
        agents=figures.agents,
        today=figures.today,
        at=now,
    )


@router.get(
    "/{queue_id}/calls",
    response_model=CursorPage[QueueCallRecord],
    summary="A queue's calls",
    responses=ONE,
)
async def queue_calls(
    queue_id: uuid.UUID,
    session: SessionDep,
    page: PageParamsDep,
    _: Reader,
    status_: Annotated[
        list[ItemStatus] | None,
        Query(alias="status", max_length=8, description="Only calls in one of these states."),
    ] = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description="Entered at or after this time.")
    ] = None,
    to: Annotated[datetime | None, Query(description="Entered before this time.")] = None,
) -> CursorPage[QueueCallRecord]:
    """Every call (and callback) that entered the queue, the latest first."""
    queue = await service.get_queue(session, queue_id)
    query = select(QueueItem).where(QueueItem.queue_id == queue.id)
    if status_:
        query = query.where(QueueItem.status.in_([s.value for s in status_]))
    if from_ is not None:
        query = query.where(QueueItem.entered_at >= from_)
    if to is not None:
        query = query.where(QueueItem.entered_at < to)
    rows, cursor = await paginate(
        session, query, order_by=[QueueItem.entered_at, QueueItem.id], params=page
    )
    return CursorPage(
        items=[QueueCallRecord.model_validate(row) for row in rows], next_cursor=cursor
    )


# Fixed paths, mounted before /{queue_id}.


@fixed_router.get(
    "/live", response_model=list[QueueLiveSummary], summary="Every queue's live state"
)
async def all_queues_live(
    session: SessionDep, platform: PlatformDep, _: Reader
) -> list[QueueLiveSummary]:
    """One line per queue, by name: calls in line, the oldest wait, agents by state and
    today's main figures (one query for all of them)."""
    return [
        QueueLiveSummary(
            queue_id=s.queue_id,
            name=s.name,
            active=s.active,
            waiting=s.waiting,
            connected=s.connected,
            oldest_wait_seconds=s.oldest_wait_seconds,
            agents=s.agents,
            offered_today=s.today.offered,
            answered_today=s.today.answered,
            abandoned_today=s.today.abandoned,
            service_level_today=s.today.service_level,
            service_level_target=s.service_level_target,
        )
        for s in await live.snapshots(platform, session)
    ]


@fixed_router.get(
    "/available-count",
    response_model=list[QueueAvailability],
    summary="Available agents per queue",
)
async def available_count(session: SessionDep, _: Reader) -> list[QueueAvailability]:
    """For each queue, by name: its active members, how many are available now, and how
    many of those hold every required skill (who routing could offer a call to now, skill
    relaxation aside)."""
    return [
        QueueAvailability(
            queue_id=queue.id, name=queue.name, members=members, available=ready, qualified=fit
        )
        for queue, members, ready, fit in await live.availability(session)
    ]


@fixed_router.post(
    "/calls/{item_id}/move",
    response_model=QueueCallRecord,
    summary="Move a waiting call to another queue or to an agent",
    responses=problem_responses(ITEM_NOT_FOUND, ITEM_NOT_WAITING, MOVE_INVALID),
)
async def move_queued_call(
    item_id: uuid.UUID,
    body: QueueMoveIn,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: CallsWriter,
) -> QueueCallRecord:
    """With `queue_id`, the call leaves its queue (an agent being rung for it is released)
    and waits in the other one, keeping its place by the time it first entered; the answer
    is its new item (the old one ends `cancelled`, outcome `moved`). With `agent_id`, it
    stays in its queue but is offered to that agent only, waiting while they are busy; the
    answer is the same item. Only a waiting (or offered) call moves: 409 once an agent took
    it."""
    moves.one_target(body.queue_id, body.agent_id)
    if body.agent_id is not None:
        moved = await moves.move_to_agent(
            platform, session, item_id=item_id, agent_id=body.agent_id, actor=principal.subject
        )
        details = {"to_agent_id": str(body.agent_id), "queue_id": str(moved.queue_id)}
    else:
        assert body.queue_id is not None  # one_target
        moved = await moves.move_call(
            platform, session, item_id=item_id, queue_id=body.queue_id, actor=principal.subject
        )
        details = {"to_queue_id": str(body.queue_id), "new_item_id": str(moved.id)}
    record_audit_event(
        session,
        principal,
        "queues.call_moved",
        request=request,
        target_type="queue_item",
        target_id=item_id,
        details=details,
    )
    record = QueueCallRecord.model_validate(moved)
    await session.commit()
    return record


@fixed_router.delete(
    "/calls/{item_id}",
    response_model=QueueCallRecord,
    summary="Take a waiting call out of its queue",
    responses=problem_responses(ITEM_NOT_FOUND, ITEM_NOT_WAITING),
)
async def take_out_queued_call(
    item_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: CallsWriter,
) -> QueueCallRecord:
    """The call ends its wait (`cancelled`, outcome `removed`); an agent being rung for it
    is released. A callback is simply cancelled; a caller still on the line is no longer in
    line. 409 once an agent took the call."""
    item = await moves.take_out(platform, session, item_id=item_id, actor=principal.subject)
    record_audit_event(
        session,
        principal,
        "queues.call_removed",
        request=request,
        target_type="queue_item",
        target_id=item_id,
        details={"queue_id": str(item.queue_id)},
    )
    record = QueueCallRecord.model_validate(item)
    await session.commit()
    return record
