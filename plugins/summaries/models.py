"""The summaries plugin's table: one summary per call, with the job's bookkeeping.

A row is made (pending) when a call ends and is the work item of the ``summaries.summarize``
job: ``(tenant_id, call_id)`` is unique, so an end event delivered twice makes one row.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kernel import Base, TenantOwnedMixin, TimestampMixin, UTCDateTime, UUIDPrimaryKeyMixin


class SummaryStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for the job (first attempt, or a retry at ``next_attempt_at``)."""
    DONE = "done"
    FAILED = "failed"
    """Every attempt failed; POST the call's summary to try again."""
    SKIPPED = "skipped"
    """Nothing to summarise (``skip_reason``: ``no_transcript``, ``agent_leg``,
    ``call_gone``)."""


class Outcome(enum.StrEnum):
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    CALLBACK = "callback"
    ESCALATED = "escalated"
    UNKNOWN = "unknown"


class CallSummaryRow(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "summaries_call_summaries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "call_id"),
        Index("ix_summaries_call_summaries_due", "tenant_id", "status", "next_attempt_at"),
        Index("ix_summaries_call_summaries_listing", "tenant_id", "created_at", "id"),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16), default=SummaryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the job takes the row next (pending); while an attempt runs, when it counts as
    crashed and is taken again."""
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set while an attempt runs (cleared when it ends): a row in an attempt is not taken
    again until the attempt's lease runs out."""
    attempt_token: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """Names the attempt running: only it may store its outcome (an attempt that outlived
    its lease, taken again meanwhile, finds another token and drops its result)."""
    skip_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The kind of the last failure (an exception's class name), never its message."""
    summary: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    suggested_disposition: Mapped[str | None] = mapped_column(String(64), nullable=True)
    follow_ups: Mapped[list[str]] = mapped_column(JSON, default=list)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    fell_back: Mapped[bool] = mapped_column(Boolean, default=False)
    summarized_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


MODELS: list[type] = [CallSummaryRow]
