"""Reading summaries, and asking for one now (analyzeCall)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError
from plugins.calls import TERMINAL_STATUSES, Call
from plugins.summaries import job
from plugins.summaries.models import CallSummaryRow
from plugins.summaries.problems import CALL_NOT_ENDED, CALL_NOT_FOUND, SUMMARY_NOT_FOUND


async def get_summary(session: AsyncSession, call_id: uuid.UUID) -> CallSummaryRow:
    row = await session.scalar(select(CallSummaryRow).where(CallSummaryRow.call_id == call_id))
    if row is None:
        raise ProblemError(SUMMARY_NOT_FOUND, f"no summary of call {call_id}")
    return row


async def summarize_now(
    platform: Platform, session: AsyncSession, call_id: uuid.UUID
) -> tuple[CallSummaryRow, bool]:
    """Summarise the ended call ``call_id`` anew, now, in this request; the row, and whether
    this request did it (False: an attempt already running will; the row says pending)."""
    call = await session.scalar(select(Call).where(Call.id == call_id))
    if call is None:
        raise ProblemError(CALL_NOT_FOUND, f"no call {call_id}")
    if call.status not in TERMINAL_STATUSES:
        raise ProblemError(CALL_NOT_ENDED, "the call has not ended", call_status=call.status)
    claimed = await job.claim(platform, session, call_id)
    await session.commit()
    if claimed is not None:
        await job.attempt(platform, claimed)
    session.expire_all()
    return await get_summary(session, call_id), claimed is not None
