"""``kernel_idempotency_keys``: one row per (tenant, scope, key), tenant-owned."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kernel._models import Base, UTCDateTime
from kernel._tenancy import TenantOwnedMixin

MAX_KEY_LENGTH = 255
MAX_SCOPE_LENGTH = 100


class ClaimState(enum.StrEnum):
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"


class IdempotencyRecord(TenantOwnedMixin, Base):
    """A client's key for one kind of request, and what the first such request answered.

    The primary key makes the first claim of a key win, on every database; ``fingerprint``
    tells a retry of that request from a different request reusing the key.
    """

    __tablename__ = "kernel_idempotency_keys"
    __table_args__ = (
        CheckConstraint("state IN ('in-progress', 'completed')", name="state_valid"),
        Index("ix_kernel_idempotency_keys_tenant_id_expires_at", "tenant_id", "expires_at"),
    )

    scope: Mapped[str] = mapped_column(String(MAX_SCOPE_LENGTH), primary_key=True)
    """The kind of request (``calls.place``): one key may serve different operations."""
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    """sha256 of the request and of who sent it."""
    state: Mapped[str] = mapped_column(String(16))
    claim_token: Mapped[uuid.UUID] = mapped_column(Uuid)
    """Who holds the claim now: a worker whose lock ran out and was taken over must not
    release or complete the new holder's claim."""
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """While in progress: after this, the holder is presumed dead and a retry takes over."""
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """After this the key is forgotten: ignored on lookup, then purged."""
