"""The sentiment plugin's tables: each transcript segment's score, and each call's summary.

Tenant-owned. A segment row is keyed by the transcript segment it scores (``segment_id``,
the calls plugin's id), so a transcript event delivered twice is scored once. A call row is
recomputed from its segments after each batch: it never drifts from them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kernel import Base, TenantOwnedMixin, UTCDateTime, UUIDPrimaryKeyMixin, utcnow


class SentimentSegment(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One transcript segment, scored. Its words stay in the calls plugin's transcript (and
    go with it): read them from there by ``segment_id``."""

    __tablename__ = "sentiment_segments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "segment_id", name="uq_sentiment_segments_segment"),
        Index("ix_sentiment_segments_call", "tenant_id", "call_id", "at"),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    segment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    """The calls plugin's transcript segment (``calls.call.transcribed``'s ``segment_id``)."""
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The event that brought it (None: scored by an analysis on demand)."""
    speaker: Mapped[str] = mapped_column(String(16))
    """As the transcript names it (``caller``, ``callee``, ``agent``...)."""
    role: Mapped[str] = mapped_column(String(16))
    """``customer``, ``agent`` or ``other``."""
    score: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(16))
    offset_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    """When in the call it was said (the segment's start)."""
    model: Mapped[str] = mapped_column(String(64), default="")
    """``<provider>/<model>`` that scored it."""
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When it was said (the transcript event's time)."""


class SentimentCall(TenantOwnedMixin, Base):
    """A call's sentiment so far: overall, per speaker role, counts and attribution."""

    __tablename__ = "sentiment_calls"
    __table_args__ = (
        Index("ix_sentiment_calls_first", "tenant_id", "first_at"),
        Index("ix_sentiment_calls_agent", "tenant_id", "agent_id"),
        Index("ix_sentiment_calls_queue", "tenant_id", "queue_id"),
        Index("ix_sentiment_calls_campaign", "tenant_id", "campaign_id"),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    overall_score: Mapped[float] = mapped_column(Float, default=0.0)
    overall_label: Mapped[str] = mapped_column(String(16), default="neutral")
    customer_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    customer_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    agent_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    agent_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    customer_segments: Mapped[int] = mapped_column(Integer, default=0)
    agent_segments: Mapped[int] = mapped_column(Integer, default=0)
    positive: Mapped[int] = mapped_column(Integer, default=0)
    neutral: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)
    trend: Mapped[str] = mapped_column(String(16), default="steady")
    """``improving``, ``worsening`` or ``steady`` over the last segments."""
    latest_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    latest_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    latest_speaker: Mapped[str | None] = mapped_column(String(16), nullable=True)
    first_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


MODELS: list[type] = [SentimentSegment, SentimentCall]
