"""Tables of the identity layer (migration ``kernel_0003``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel._models import Base, TimestampMixin, UTCDateTime, UUIDPrimaryKeyMixin, utcnow
from kernel._tenancy import TenantOwnedMixin, current_tenant_id
from kernel._tenant_fk import tenant_foreign_key


class User(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A person who signs in to one tenant. E-mail addresses are unique per tenant."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    invitation_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    invitation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuthSession(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One login of a tenant user: the family its rotating refresh tokens belong to."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        tenant_foreign_key("user_id", "users", ondelete="CASCADE"),
        Index(None, "tenant_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RefreshToken(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A refresh token, stored as its SHA-256; ``used_at`` is set when it is rotated."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        tenant_foreign_key("session_id", "auth_sessions", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "token_hash"),
        Index(None, "tenant_id", "session_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OperatorSession(UUIDPrimaryKeyMixin, Base):
    """One login of a platform operator (platform scope: no tenant)."""

    __tablename__ = "operator_sessions"

    operator_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)


class OperatorRefreshToken(UUIDPrimaryKeyMixin, Base):
    __tablename__ = "operator_refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiKey(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A credential for integrations; the secret is shown once and stored as its SHA-256."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "secret_hash"),)

    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Role(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A custom role of one tenant (built-in roles are not stored: their names are reserved
    and their grants come from plugin declarations)."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _current_tenant_default() -> uuid.UUID | None:
    # The Casbin adapter bulk-inserts rows without tenant_id; take it from the scope.
    return current_tenant_id()


class CasbinRule(TenantOwnedMixin, Base):
    """Casbin policy (``p``: role, tenant, resource, action) and grouping (``g``: subject,
    role, tenant) rows of the tenant in scope; read and written by the async adapter."""

    __tablename__ = "casbin_rule"
    __table_args__ = (Index(None, "tenant_id", "ptype", "v0"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid,
        ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=True,
        sort_order=-100,
        default=_current_tenant_default,
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ptype: Mapped[str] = mapped_column(String(8))
    v0: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v1: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v2: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v3: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v4: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v5: Mapped[str | None] = mapped_column(String(255), nullable=True)

    def __str__(self) -> str:
        # The adapter loads a row by parsing this CSV-like line ("g, user:1, role:agent, t").
        values = [self.v0, self.v1, self.v2, self.v3, self.v4, self.v5]
        present = [value for value in values if value is not None]
        return ", ".join([self.ptype, *present])


class AuditEvent(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A security-relevant action in one tenant (who, what, on what, from where, result)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "tenant_id", "occurred_at", "id"),)

    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    actor_label: Mapped[str | None] = mapped_column(String(320), nullable=True)
    action: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    target_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OperatorAuditEvent(UUIDPrimaryKeyMixin, Base):
    """An action of a platform operator; kept apart from every tenant's log."""

    __tablename__ = "operator_audit_events"
    __table_args__ = (Index(None, "occurred_at", "id"),)

    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    operator_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    operator_label: Mapped[str | None] = mapped_column(String(320), nullable=True)
    action: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    target_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PlatformSecret(Base):
    """Secrets the platform generates for itself (the token signing key when none is set),
    sealed by the vault's key provider."""

    __tablename__ = "platform_secrets"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    """Sealed by the vault's key provider (base64), or in clear when ``kek_id`` is None
    (rows written before the vault existed; sealed on next read)."""
    kek_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
