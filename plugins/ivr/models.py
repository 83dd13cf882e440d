"""Flows (an editable draft), their published versions (immutable), the flow state of each
call in a flow, saved test cases, and per-tenant IVR settings. All tenant-owned, with
``tenant_id`` leading every key, so a version or a test can only belong to a flow of its own
tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKeyConstraint,
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
    utcnow,
)


def _flow_fk(table: str) -> ForeignKeyConstraint:
    return tenant_foreign_key("flow_id", "ivr_flows", ondelete="CASCADE", name=f"fk_{table}_flow")


class Flow(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A flow: its draft, and which of its versions calls run now."""

    __tablename__ = "ivr_flows"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_ivr_flows_listing", "tenant_id", "created_at", "id"),
    )

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    draft_revision: Mapped[int] = mapped_column(Integer, default=1)
    """Goes up with every change of the draft (``If-Match`` guards concurrent edits)."""
    current_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The published version new calls run (None: never published)."""


class FlowVersion(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A published version: the draft as it was, never changed afterwards."""

    __tablename__ = "ivr_flow_versions"
    __table_args__ = (
        _flow_fk("ivr_flow_versions"),
        UniqueConstraint("tenant_id", "flow_id", "number"),
    )

    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    number: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    tests: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The saved tests' results against this version when it was published."""


class FlowSession(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A call's place in a flow (the engine's state), saved after every turn."""

    __tablename__ = "ivr_sessions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "call_id"),
        Index("ix_ivr_sessions_flow", "tenant_id", "flow_id", "created_at"),
    )

    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="active")
    """``active`` or ``ended``."""
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FlowTest(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A saved test case: a caller script and what the flow must do with it."""

    __tablename__ = "ivr_tests"
    __table_args__ = (
        _flow_fk("ivr_tests"),
        UniqueConstraint("tenant_id", "flow_id", "name"),
    )

    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(120))
    script: Mapped[dict[str, Any]] = mapped_column(JSON)
    expect: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class IvrSettingsRow(TenantOwnedMixin, TimestampMixin, Base):
    """A tenant's IVR settings; no row means the defaults."""

    __tablename__ = "ivr_settings"

    require_passing_tests: Mapped[bool] = mapped_column(Boolean, default=False)
    """Publishing needs every saved test of the flow to pass against the draft."""
