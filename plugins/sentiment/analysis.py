"""``analyzeCall``: score a call's stored transcript again, on demand (after the call, with
the organization's current model). Idempotent: segments are keyed by the transcript's own
ids, scores replaced, the call's figures recomputed."""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError
from plugins.calls import Call, TranscriptSegmentRow
from plugins.sentiment.problems import CALL_NOT_FOUND, MODEL_FAILED, NO_TRANSCRIPT
from plugins.sentiment.scoring import score_text
from plugins.sentiment.speakers import role_of
from plugins.sentiment.store import ScoredSegment, record

logger = logging.getLogger(__name__)


async def analyze(platform: Platform, session: AsyncSession, call_id: uuid.UUID) -> None:
    """Score every final segment of the call's transcript and store it (commits)."""
    call = await session.scalar(select(Call).where(Call.id == call_id))
    if call is None:
        raise ProblemError(CALL_NOT_FOUND, f"no call {call_id}")
    rows = [
        row
        for row in await session.scalars(
            select(TranscriptSegmentRow)
            .where(TranscriptSegmentRow.call_id == call_id)
            .order_by(TranscriptSegmentRow.recorded_at, TranscriptSegmentRow.id)
        )
        if row.final and row.text.strip()
    ]
    if not rows:
        raise ProblemError(NO_TRANSCRIPT, f"call {call_id} has no transcript to analyse")
    try:
        judged = await asyncio.gather(*(score_text(platform, row.text) for row in rows))
    except Exception as exc:
        logger.warning("sentiment: could not analyse call %s", call_id, exc_info=True)
        raise ProblemError(MODEL_FAILED, "the model could not score the transcript") from exc
    segments = [
        ScoredSegment(
            call_id=call_id,
            segment_id=row.id,
            event_id=None,
            speaker=row.speaker,
            role=role_of(row.speaker, call.direction),
            score=scored.score,
            label=scored.label,
            offset_seconds=row.start_seconds,
            model=scored.model,
            at=row.occurred_at or row.recorded_at,
        )
        for row, scored in zip(rows, judged, strict=True)
    ]
    await record(platform, session, segments, rescore=True)
    await session.commit()
