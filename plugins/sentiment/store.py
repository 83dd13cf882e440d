"""Writing scored segments and the call's sentiment, and publishing the change.

Idempotent: segments are keyed by the transcript segment they score, inserted under the
call row's lock (taken in call id order, so two batches never deadlock), and the call's
figures are recomputed from its segments, never incremented.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kernel import Platform, current_tenant_id, utcnow
from plugins.sentiment.attribution import attribute
from plugins.sentiment.events import CallSentimentUpdated
from plugins.sentiment.models import SentimentCall, SentimentSegment
from plugins.sentiment.scoring import label_of

TREND_WINDOW = 3
"""The trend compares the mean of the last three segments with the three before."""
TREND_STEP = 0.1


@dataclass(frozen=True, slots=True)
class ScoredSegment:
    call_id: uuid.UUID
    segment_id: uuid.UUID
    event_id: uuid.UUID | None
    speaker: str
    role: str
    score: float
    label: str
    offset_seconds: float | None
    model: str
    at: datetime


async def record(
    platform: Platform,
    session: AsyncSession,
    segments: Sequence[ScoredSegment],
    *,
    rescore: bool = False,
) -> list[SentimentCall]:
    """Store ``segments`` (new ones; with ``rescore``, changed scores of known ones too) and
    publish ``sentiment.call.updated`` for each call that changed. The caller commits.

    A handful of statements whatever the batch holds (the hot path): the call rows made and
    locked together, the known segments read together, the figures of every changed call
    computed by two grouped queries."""
    by_call: dict[uuid.UUID, dict[uuid.UUID, ScoredSegment]] = defaultdict(dict)
    for segment in segments:
        by_call[segment.call_id].setdefault(segment.segment_id, segment)
    if not by_call:
        return []
    rows = await _locked_calls(session, sorted(by_call))
    changed_ids = await _store(session, by_call, rescore=rescore)
    changed = [rows[call_id] for call_id in sorted(changed_ids)]
    await _recompute(session, changed)
    looked = [
        row
        for call_id, row in rows.items()
        if (call_id in changed_ids or rescore) and (row.agent_id is None or row.queue_id is None)
    ]
    if looked:
        await attribute(platform, session, looked)
    await _write(session, list({row.call_id: row for row in [*changed, *looked]}.values()))
    for row in changed:
        await platform.events.publish(session, _event(row))
    return changed


async def _locked_calls(
    session: AsyncSession, call_ids: list[uuid.UUID]
) -> dict[uuid.UUID, SentimentCall]:
    tenant, now = current_tenant_id(), utcnow()
    values = [
        {
            "tenant_id": tenant,
            "call_id": call_id,
            "overall_score": 0.0,
            "overall_label": "neutral",
            "segments": 0,
            "customer_segments": 0,
            "agent_segments": 0,
            "positive": 0,
            "neutral": 0,
            "negative": 0,
            "trend": "steady",
            "updated_at": now,
        }
        for call_id in call_ids
    ]
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = (pg_insert if postgres else sqlite_insert)(SentimentCall).values(values)
    # Made or found, and locked, in one statement (an upsert locks the rows it touches, in
    # the order given: call id order, so two batches never deadlock).
    upsert = insert.on_conflict_do_update(
        index_elements=["tenant_id", "call_id"],
        set_={"updated_at": insert.excluded.updated_at},
    ).returning(SentimentCall)
    rows = await session.scalars(upsert, execution_options={"populate_existing": True})
    return {row.call_id: row for row in rows}


async def _store(
    session: AsyncSession,
    by_call: dict[uuid.UUID, dict[uuid.UUID, ScoredSegment]],
    *,
    rescore: bool,
) -> set[uuid.UUID]:
    """Insert the new segments (update rescored ones); the calls that changed."""
    ids = [segment_id for segments in by_call.values() for segment_id in segments]
    known = {
        s.segment_id: s
        for s in await session.scalars(
            select(SentimentSegment).where(SentimentSegment.segment_id.in_(ids))
        )
    }
    changed: set[uuid.UUID] = set()
    for call_id, segments in by_call.items():
        for segment_id, segment in segments.items():
            existing = known.get(segment_id)
            if existing is None:
                session.add(
                    SentimentSegment(
                        call_id=call_id,
                        segment_id=segment_id,
                        event_id=segment.event_id,
                        speaker=segment.speaker[:16],
                        role=segment.role,
                        score=segment.score,
                        label=segment.label,
                        offset_seconds=segment.offset_seconds,
                        model=segment.model[:64],
                        at=segment.at,
                    )
                )
                changed.add(call_id)
            elif rescore and (existing.score, existing.label) != (segment.score, segment.label):
                existing.score, existing.label = segment.score, segment.label
                existing.model = segment.model[:64]
                changed.add(call_id)
    if changed:
        await session.flush()
    return changed


async def _recompute(session: AsyncSession, rows: list[SentimentCall]) -> None:
    if not rows:
        return
    ids = [row.call_id for row in rows]
    groups = await session.execute(
        select(
            SentimentSegment.call_id,
            SentimentSegment.role,
            SentimentSegment.label,
            func.count(),
            func.sum(SentimentSegment.score),
            func.min(SentimentSegment.at),
            func.max(SentimentSegment.at),
        )
        .where(SentimentSegment.call_id.in_(ids))
        .group_by(SentimentSegment.call_id, SentimentSegment.role, SentimentSegment.label)
    )
    figures: dict[uuid.UUID, _Figures] = defaultdict(_Figures)
    for call_id, role, label, n, summed, first, last in groups:
        figures[call_id].add(role, label, n, float(summed or 0.0), first, last)
    rank = (
        func.row_number()
        .over(
            partition_by=SentimentSegment.call_id,
            order_by=(
                SentimentSegment.at.desc(),
                SentimentSegment.offset_seconds.desc(),
                SentimentSegment.id.desc(),
            ),
        )
        .label("rank")
    )
    ranked = select(SentimentSegment, rank).where(SentimentSegment.call_id.in_(ids)).subquery()
    newest = aliased(SentimentSegment, ranked)  # a mapped entity: the tenant scope applies
    recent: dict[uuid.UUID, list[tuple[str, float, str, str]]] = defaultdict(list)
    for call_id, role, score, label, speaker in await session.execute(
        select(newest.call_id, newest.role, newest.score, newest.label, newest.speaker)
        .where(ranked.c.rank <= 4 * TREND_WINDOW)
        .order_by(ranked.c.rank)
    ):
        recent[call_id].append((role, score, label, speaker))
    now = utcnow()
    for row in rows:
        figures[row.call_id].apply(row)
        latest = recent[row.call_id]
        if latest:
            _role, row.latest_score, row.latest_label, row.latest_speaker = latest[0]
        customer = [score for role, score, _l, _s in latest if role == "customer"]
        row.trend = trend_of(customer if len(customer) >= 2 else [r[1] for r in latest])
        row.updated_at = now


async def _write(session: AsyncSession, rows: list[SentimentCall]) -> None:
    """One statement for every row (an UPDATE per row took most of a batch's time): the rows
    leave the session, which would write them one by one, and are written by primary key."""
    if not rows:
        return
    values = [{column: getattr(row, column) for column in _WRITTEN} for row in rows]
    for row in rows:
        session.expunge(row)
    await session.execute(update(SentimentCall), values)


_WRITTEN = [column.key for column in SentimentCall.__table__.columns]


@dataclass
class _Figures:
    count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    labels: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first: datetime | None = None
    last: datetime | None = None

    def add(
        self, role: str, label: str, n: int, summed: float, first: datetime, last: datetime
    ) -> None:
        self.count[role] += n
        self.total[role] += summed
        self.labels[label] += n
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)

    def apply(self, row: SentimentCall) -> None:
        segments = sum(self.count.values())
        overall = _mean(sum(self.total.values()), segments) or 0.0
        row.segments = segments
        row.overall_score, row.overall_label = overall, label_of(overall)
        row.customer_segments, row.agent_segments = self.count["customer"], self.count["agent"]
        row.customer_score = _mean(self.total["customer"], self.count["customer"])
        row.customer_label = None if row.customer_score is None else label_of(row.customer_score)
        row.agent_score = _mean(self.total["agent"], self.count["agent"])
        row.agent_label = None if row.agent_score is None else label_of(row.agent_score)
        row.positive = self.labels["positive"]
        row.neutral = self.labels["neutral"]
        row.negative = self.labels["negative"]
        row.first_at, row.last_at = self.first, self.last


def trend_of(newest_first: Sequence[float]) -> str:
    """``improving``, ``worsening`` or ``steady``: the last segments' mean against the ones
    before them (newest first)."""
    if len(newest_first) < 2:
        return "steady"
    window = min(TREND_WINDOW, len(newest_first) // 2)
    latest = sum(newest_first[:window]) / window
    before = newest_first[window : 2 * window]
    delta = latest - sum(before) / len(before)
    if delta >= TREND_STEP:
        return "improving"
    if delta <= -TREND_STEP:
        return "worsening"
    return "steady"


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 4) if count else None


def _event(row: SentimentCall) -> CallSentimentUpdated:
    return CallSentimentUpdated(
        call_id=row.call_id,
        overall_score=row.overall_score,
        overall_label=row.overall_label,
        customer_score=row.customer_score,
        customer_label=row.customer_label,
        latest_score=row.latest_score,
        latest_label=row.latest_label,
        latest_speaker=row.latest_speaker,
        trend=row.trend,
        segments=row.segments,
        agent_id=row.agent_id,
        queue_id=row.queue_id,
        campaign_id=row.campaign_id,
    )


async def attribute_from_events(
    session: AsyncSession, found: dict[uuid.UUID, dict[str, uuid.UUID]]
) -> None:
    """Fill a call's agent, queue or campaign from events naming them (kept when known)."""
    for call_id in sorted(found):
        values = {
            name: func.coalesce(getattr(SentimentCall, name), value)
            for name, value in found[call_id].items()
        }
        await session.execute(
            update(SentimentCall)
            .where(SentimentCall.call_id == call_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
