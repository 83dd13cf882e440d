"""Calls, their timeline, recordings and transcript segments; phone numbers; per-tenant call
settings; and the provider webhooks accepted (kept redacted so nothing is lost).

All tenant-owned: ``tenant_id`` leads every key and index, and the foreign keys between the
tables include it, so a recording can only ever belong to a call of its own tenant.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base,
    TenantOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    UUIDPrimaryKeyMixin,
    tenant_foreign_key,
    utcnow,
)


def _call_fk(table: str) -> ForeignKeyConstraint:
    return tenant_foreign_key("call_id", "calls_calls", ondelete="CASCADE", name=f"fk_{table}_call")


class Call(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """One call leg, inbound or outbound, on one provider."""

    __tablename__ = "calls_calls"
    __table_args__ = (
        tenant_foreign_key(
            "parent_call_id", "calls_calls", ondelete="SET NULL", name="fk_calls_calls_parent"
        ),
        UniqueConstraint("tenant_id", "provider", "provider_call_id"),
        Index("ix_calls_calls_listing", "tenant_id", "created_at", "id"),
        Index("ix_calls_calls_status", "tenant_id", "status"),
        Index("ix_calls_calls_pacing", "tenant_id", "provider", "placed_at"),
    )

    direction: Mapped[str] = mapped_column(String(8))
    from_number: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(255))
    """E.164, or a SIP URI (``sip:user@host[:port]``) for a call placed to one."""
    provider: Mapped[str] = mapped_column(String(64))
    provider_call_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the platform handed the call to the provider (calls-per-second pacing)."""
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hangup_cause: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(64), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    """The tenant's own key/values (``metadata`` in the API)."""
    parent_call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The call this leg was transferred from."""
    instructions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Provider-neutral instructions run when the call is answered."""
    last_sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    recording: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """``recording`` or ``paused`` while a recording runs."""
    placed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    handler: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The plugin driving the call (``plugins.calls.handlers``), e.g. ``ivr``."""
    handler_target: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """What the handler runs (the IVR: the flow id, or ``<flow id>@<node id>``)."""
    heard_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now(), nullable=False
    )
    """When the platform last heard of the call: created, placed, a provider webhook about
    it, or its provider's answer to reconciliation. A call not final and not heard of for
    longer than its status allows (``CallsSettings.stale_after``) is stale."""


class CallEvent(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One entry of a call's timeline: what happened, and what was ignored and why."""

    __tablename__ = "calls_timeline"
    __table_args__ = (
        _call_fk("calls_timeline"),
        Index("ix_calls_timeline_call", "tenant_id", "call_id", "recorded_at"),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the provider says it happened (may be earlier than ``recorded_at``)."""
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    """``provider``, ``api`` or ``platform``."""
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Recording(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "calls_recordings"
    __table_args__ = (
        _call_fk("calls_recordings"),
        UniqueConstraint("tenant_id", "provider", "provider_recording_id"),
        Index("ix_calls_recordings_call", "tenant_id", "call_id"),
        Index("ix_calls_recordings_retention", "tenant_id", "completed_at"),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    provider: Mapped[str] = mapped_column(String(64))
    provider_recording_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channels: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    media_ref: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    """Where the provider keeps the media; never shown to clients."""
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TranscriptSegmentRow(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    __tablename__ = "calls_transcript_segments"
    __table_args__ = (
        _call_fk("calls_transcript_segments"),
        Index("ix_calls_transcript_segments_call", "tenant_id", "call_id", "recorded_at"),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    start_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    final: Mapped[bool] = mapped_column(Boolean, default=True)
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PhoneNumber(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A number the tenant owns at a provider, and where inbound calls to it go."""

    __tablename__ = "calls_numbers"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    number: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(120), default="")
    route: Mapped[str] = mapped_column(String(16), default="none")
    """``forward`` (to ``forward_to``), ``ivr`` (to ``ivr_flow_id``) or ``none``."""
    forward_to: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ivr_flow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


DEFAULT_MAX_CONCURRENT_CALLS = 10


class CallSettingsRow(TenantOwnedMixin, TimestampMixin, Base):
    """A tenant's call settings; no row means the defaults."""

    __tablename__ = "calls_settings"

    primary_provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    secondary_provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    max_concurrent_calls: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_CONCURRENT_CALLS)
    calls_per_second: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    """Per provider; a provider not listed gets its usual limit."""
    recording_retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recording_consent_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class WebhookReceipt(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A provider webhook that passed verification, kept (redacted) for re-processing."""

    __tablename__ = "calls_webhook_receipts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", "dedupe_key"),
        Index("ix_calls_webhook_receipts_received", "tenant_id", "received_at"),
    )

    provider: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    events: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The normalized events (``items``), those about no known call yet (``pending``) and
    the call id the URL carried (``call``), so the webhook can be applied again."""
    outcome: Mapped[str] = mapped_column(String(16), default="processed")
    """``processed``, ``orphan`` (about no call we know), ``failed`` (answer it again) or
    ``rejected`` (a value no column can hold: kept, answered 400, not applied)."""
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    answer_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answer_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    """What the webhook was answered with (TwiML...), so a redelivery gets the same answer."""
