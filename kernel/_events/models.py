"""The outbox (``kernel_events``) and each tenant's dispatch cursor; both tenant-owned."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, Sequence, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from kernel._models import Base, UTCDateTime, utcnow
from kernel._tenancy import TenantOwnedMixin

EVENT_SEQUENCE = Sequence("kernel_events_seq")


class EventRecord(TenantOwnedMixin, Base):
    """One published event. Written in the publisher's transaction; ``dispatched_at`` and
    ``position`` are set by the dispatcher; kept for replay until the retention ends."""

    __tablename__ = "kernel_events"
    __table_args__ = (
        Index(
            "ix_kernel_events_pending",
            "tenant_id",
            "seq",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
        Index("ix_kernel_events_tenant_id_seq", "tenant_id", "seq", unique=True),
        Index("ix_kernel_events_tenant_id_position", "tenant_id", "position", unique=True),
        Index("ix_kernel_events_tenant_id_dispatched_at", "tenant_id", "dispatched_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, EVENT_SEQUENCE)
    """Publication order across the platform (a sequence on PostgreSQL, max+1 on SQLite)."""
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    aggregate: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    position: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Dispatch order within the tenant, gap-free: what real-time clients resume from."""


class EventCursor(TenantOwnedMixin, Base):
    """A tenant's last dispatched position. Its row lock (``FOR UPDATE SKIP LOCKED``) makes
    one worker at a time dispatch a tenant's events, which keeps them in order."""

    __tablename__ = "kernel_event_cursors"

    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EventHookCursor(TenantOwnedMixin, Base):
    """How far the ``kraliki_event``/``kraliki_events`` hooks have got in a tenant's dispatched
    events (a position). Kept apart from :class:`EventCursor` so that a slow hook never holds
    up the real-time stream: its row lock makes one worker at a time run a tenant's hooks,
    while the dispatch cursor moves on."""

    __tablename__ = "kernel_event_hook_cursors"

    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EventRelayCursor(TenantOwnedMixin, Base):
    """How far a tenant's dispatched events have been relayed to NATS JetStream (a position;
    ``KRALIKI_EVENT_TRANSPORT=nats`` only). Created by the dispatcher at the position it
    starts from, so nothing dispatched under the transport is skipped; its row lock makes one
    worker at a time relay a tenant's events, in order."""

    __tablename__ = "kernel_event_relay_cursors"

    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
