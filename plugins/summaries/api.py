"""``/api/v1/summaries``: call summaries (read with ``summaries:read``; asking for one anew,
analyzeCall, with ``summaries:write``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    SessionDep,
    paginate,
    problem_responses,
    require,
)
from plugins.summaries import service
from plugins.summaries.models import CallSummaryRow, SummaryStatus
from plugins.summaries.permissions import SUMMARIES_READ, SUMMARIES_WRITE
from plugins.summaries.problems import CALL_NOT_ENDED, CALL_NOT_FOUND, SUMMARY_NOT_FOUND
from plugins.summaries.schemas import SummaryOut

router = APIRouter(tags=["summaries"])

Reader = Annotated[Principal, Depends(require(SUMMARIES_READ.resource, SUMMARIES_READ.action))]
Writer = Annotated[Principal, Depends(require(SUMMARIES_WRITE.resource, SUMMARIES_WRITE.action))]


@router.get("", response_model=CursorPage[SummaryOut], summary="List call summaries")
async def list_summaries(
    _: Reader,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[
        list[SummaryStatus] | None, Query(description="One or more statuses.")
    ] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Created before (UTC).")] = None,
) -> CursorPage[SummaryOut]:
    """Newest first (a summary is created when its call ends)."""
    query = select(CallSummaryRow)
    if status:
        query = query.where(CallSummaryRow.status.in_([s.value for s in status]))
    if since:
        query = query.where(CallSummaryRow.created_at >= since)
    if until:
        query = query.where(CallSummaryRow.created_at < until)
    rows, cursor = await paginate(
        session, query, order_by=[CallSummaryRow.created_at, CallSummaryRow.id], params=page
    )
    return CursorPage(items=[SummaryOut.of(row) for row in rows], next_cursor=cursor)


@router.get(
    "/calls/{call_id}",
    response_model=SummaryOut,
    summary="A call's summary",
    responses=problem_responses(SUMMARY_NOT_FOUND),
)
async def get_call_summary(call_id: uuid.UUID, _: Reader, session: SessionDep) -> SummaryOut:
    """Pending until the background job has summarised the ended call (usually seconds)."""
    return SummaryOut.of(await service.get_summary(session, call_id))


@router.post(
    "/calls/{call_id}",
    response_model=SummaryOut,
    summary="Summarise a call now (analyzeCall)",
    responses={
        **problem_responses(CALL_NOT_FOUND, CALL_NOT_ENDED),
        202: {"description": "An attempt already running will summarise it (`pending`)."},
    },
)
async def summarize_call(
    call_id: uuid.UUID,
    _: Writer,
    session: SessionDep,
    platform: PlatformDep,
    response: Response,
) -> SummaryOut:
    """Summarises the ended call anew with the tenant's model, in this request, and answers
    the result (`done`, `skipped`; `pending` with `last_error` when the attempt failed and
    a retry is scheduled). Asking again summarises again: the same transcript gives the same
    stored summary with the offline model, so a retried request is harmless."""
    row, done_here = await service.summarize_now(platform, session, call_id)
    if not done_here:
        response.status_code = status.HTTP_202_ACCEPTED
    return SummaryOut.of(row)
