"""Tables of the vault (migration ``kernel_0004``); every one is tenant-owned, under RLS."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel._models import Base, TimestampMixin, UTCDateTime, UUIDPrimaryKeyMixin, utcnow
from kernel._tenancy import TenantOwnedMixin
from kernel._tenant_fk import tenant_foreign_key

PRIMARY = "primary"
ACTIVE = "active"
RETIRED = "retired"


class VaultDataKey(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A tenant's data key (DEK), stored only wrapped by the KEK.

    ``primary`` seals new secrets (one per tenant); ``active`` still opens secrets sealed
    before a rotation finished re-encrypting them; ``retired`` seals and opens nothing.
    """

    __tablename__ = "vault_data_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=PRIMARY)
    kek_id: Mapped[str] = mapped_column(String(200))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rewrapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class VaultSecret(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """One credential a tenant brought (write-only through the API)."""

    __tablename__ = "vault_secrets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        tenant_foreign_key("data_key_id", "vault_data_keys"),
        Index(None, "tenant_id", "data_key_id"),
    )

    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    plugin: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped on every replace; bound into the ciphertext."""
    data_key_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    validation_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    validation_detail: Mapped[str | None] = mapped_column(String(300), nullable=True)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class VaultAccessEvent(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One decryption of a secret: who or what asked, for which plugin and why."""

    __tablename__ = "vault_access_events"
    __table_args__ = (Index(None, "tenant_id", "occurred_at", "id"),)

    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_name: Mapped[str] = mapped_column(String(120))
    plugin: Mapped[str] = mapped_column(String(63))
    purpose: Mapped[str] = mapped_column(String(120))
    actor_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    actor_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    job: Mapped[str | None] = mapped_column(String(120), nullable=True)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="success")
