"""Endpoints (tenants' subscriptions), deliveries (one per endpoint and event) and attempts.

All tenant-owned: ``tenant_id`` leads every key and index, and the foreign keys between the
tables include it, so a delivery can only ever point at an endpoint of its own tenant.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base,
    TenantOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    UUIDPrimaryKeyMixin,
    tenant_foreign_key,
)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Not attempted yet (or replayed): due at ``next_attempt_at``."""
    FAILED = "failed"
    """The last attempt failed; another one is scheduled at ``next_attempt_at``."""
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    """Every scheduled attempt failed (dead-lettered): only a replay sends it again."""


OPEN_STATUSES = (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)


class WebhookEndpoint(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A URL a tenant subscribed to event patterns. Its signing secrets live in the vault
    (``webhooks.signing.<id hex>-v<version>``), never here."""

    __tablename__ = "webhooks_endpoints"

    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Event name patterns (``calls.call.*``, ``*``)."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    """Failed attempts since the last success."""
    consecutive_dead: Mapped[int] = mapped_column(Integer, default=0)
    """Dead-lettered deliveries since the last success."""
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """First failed attempt since the last success (None while healthy)."""
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Until then, version ``secret_version - 1`` signs alongside the current one."""


class WebhookDelivery(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """One event for one endpoint. The envelope is a snapshot, so a replay works after the
    event left the outbox."""

    __tablename__ = "webhooks_deliveries"
    __table_args__ = (
        tenant_foreign_key("endpoint_id", "webhooks_endpoints", ondelete="CASCADE"),
        # At-least-once dispatch of one event creates one delivery per endpoint.
        UniqueConstraint("tenant_id", "endpoint_id", "event_id"),
        # The head of each (endpoint, aggregate) queue; due work; the listing.
        Index("ix_webhooks_deliveries_queue", "tenant_id", "endpoint_id", "aggregate", "sequence"),
        Index("ix_webhooks_deliveries_due", "tenant_id", "status", "next_attempt_at"),
        Index("ix_webhooks_deliveries_listing", "tenant_id", "created_at", "id"),
        CheckConstraint(
            "status IN ('pending', 'failed', 'succeeded', 'dead')", name="status_valid"
        ),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    """Sent as ``webhook-id``: the same on every attempt and replay, so receivers dedupe."""
    event_type: Mapped[str] = mapped_column(String(120))
    aggregate: Mapped[str] = mapped_column(String(200))
    sequence: Mapped[int] = mapped_column(BigInteger)
    """The event's dispatch position: deliveries of one aggregate go out in this order."""
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    schedule_step: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts since the delivery was (re)queued: where it is in the retry schedule."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When it succeeded or was dead-lettered."""


class WebhookAttempt(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One HTTP request of a delivery (or the reason none could be made). Holds what the
    receiver answered, never what was sent (the signature headers)."""

    __tablename__ = "webhooks_attempts"
    __table_args__ = (
        tenant_foreign_key("delivery_id", "webhooks_deliveries", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "delivery_id", "number"),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    """The first KiB of the receiver's answer."""
