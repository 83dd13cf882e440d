"""Reading sentiment: a call's, the wallboard's, and trends over days."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import ProblemError
from plugins.calls import TranscriptSegmentRow
from plugins.sentiment.models import SentimentCall, SentimentSegment
from plugins.sentiment.problems import CALL_NOT_FOUND
from plugins.sentiment.schemas import (
    CallSentimentOut,
    Counts,
    Judged,
    Moment,
    TrendGroup,
    TrendPoint,
)
from plugins.sentiment.scoring import label_of

MOMENTS = 5
MAX_POINTS = 2000


async def board_sentiment(
    session: AsyncSession, call_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    if not call_ids:
        return {}
    rows = await session.scalars(
        select(SentimentCall).where(
            SentimentCall.call_id.in_(list(call_ids)), SentimentCall.segments > 0
        )
    )
    answer: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        score = row.customer_score if row.customer_score is not None else row.overall_score
        answer[row.call_id] = {"label": label_of(score), "score": score, "at": row.last_at}
    return answer


async def call_sentiment(session: AsyncSession, call_id: uuid.UUID) -> CallSentimentOut:
    row = await session.scalar(select(SentimentCall).where(SentimentCall.call_id == call_id))
    if row is None or row.segments == 0:
        raise ProblemError(CALL_NOT_FOUND, f"no sentiment for call {call_id}")
    segments = list(
        await session.scalars(
            select(SentimentSegment)
            .where(SentimentSegment.call_id == call_id)
            .order_by(SentimentSegment.at, SentimentSegment.offset_seconds, SentimentSegment.id)
            .limit(MAX_POINTS)
        )
    )
    worst = sorted((s for s in segments if s.label == "negative"), key=lambda s: s.score)
    worst = worst[:MOMENTS]
    texts = await _texts(session, [s.segment_id for s in worst])
    return CallSentimentOut(
        call_id=call_id,
        overall=Judged(score=row.overall_score, label=row.overall_label, segments=row.segments),
        customer=_judged(row.customer_score, row.customer_segments),
        agent=_judged(row.agent_score, row.agent_segments),
        counts=Counts(positive=row.positive, neutral=row.neutral, negative=row.negative),
        trend=row.trend,
        points=[_point(s) for s in segments],
        negative_moments=[
            Moment(**_point(s).model_dump(), text=texts.get(s.segment_id, "")) for s in worst
        ],
        first_at=row.first_at,
        last_at=row.last_at,
        agent_id=row.agent_id,
        queue_id=row.queue_id,
        campaign_id=row.campaign_id,
    )


async def _texts(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """What was said, from the calls plugin's transcript (gone with it)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(TranscriptSegmentRow.id, TranscriptSegmentRow.text).where(
            TranscriptSegmentRow.id.in_(ids)
        )
    )
    return {segment_id: text for segment_id, text in rows}


def _judged(score: float | None, count: int) -> Judged | None:
    if score is None:
        return None
    return Judged(score=score, label=label_of(score), segments=count)


def _point(segment: SentimentSegment) -> TrendPoint:
    return TrendPoint(
        segment_id=segment.segment_id,
        at=segment.at,
        offset_seconds=segment.offset_seconds,
        speaker=segment.speaker,
        role=segment.role,
        score=segment.score,
        label=segment.label,
    )


@dataclass
class _Sums:
    calls: int = 0
    segments: int = 0
    score: float = 0.0
    customer: list[float] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def group(self, key: str | None) -> TrendGroup:
        return TrendGroup(
            key=key,
            calls=self.calls,
            segments=self.segments,
            average_score=round(self.score / self.calls, 4) if self.calls else 0.0,
            average_customer_score=(
                round(sum(self.customer) / len(self.customer), 4) if self.customer else None
            ),
            positive_calls=self.labels["positive"],
            neutral_calls=self.labels["neutral"],
            negative_calls=self.labels["negative"],
        )


GROUPS = ("agent", "queue", "campaign", "day")


async def trends(
    session: AsyncSession, group_by: str, start: datetime, end: datetime, zone: str
) -> list[TrendGroup]:
    """The calls first heard in [start, end) grouped by ``group_by``; days in ``zone``."""
    rows = await session.execute(
        select(
            SentimentCall.agent_id,
            SentimentCall.queue_id,
            SentimentCall.campaign_id,
            SentimentCall.first_at,
            SentimentCall.segments,
            SentimentCall.overall_score,
            SentimentCall.overall_label,
            SentimentCall.customer_score,
        ).where(
            SentimentCall.segments > 0,
            SentimentCall.first_at >= start,
            SentimentCall.first_at < end,
        )
    )
    tz = ZoneInfo(zone)
    sums: dict[str | None, _Sums] = defaultdict(_Sums)
    for agent, queue, campaign, first_at, segments, score, label, customer in rows:
        key = _key(group_by, agent, queue, campaign, first_at, tz)
        entry = sums[key]
        entry.calls += 1
        entry.segments += segments
        entry.score += score
        entry.labels[label] += 1
        if customer is not None:
            entry.customer.append(customer)
    ordered = sorted(sums, key=lambda k: (k is None, k or ""))
    return [sums[k].group(k) for k in ordered]


def _key(
    group_by: str,
    agent: uuid.UUID | None,
    queue: uuid.UUID | None,
    campaign: uuid.UUID | None,
    first_at: datetime | None,
    tz: ZoneInfo,
) -> str | None:
    chosen: Mapping[str, uuid.UUID | None] = {
        "agent": agent,
        "queue": queue,
        "campaign": campaign,
    }
    if group_by == "day":
        if first_at is None:
            return None
        day: date = first_at.astimezone(tz).date()
        return day.isoformat()
    value = chosen[group_by]
    return None if value is None else str(value)
