"""The tenant row: an organization the platform isolates."""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel import Base, TimestampMixin, UUIDPrimaryKeyMixin


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A tenant. Not tenant-owned itself: only operators list and manage it."""

    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status_valid"),)

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(
        String(16), default=TenantStatus.ACTIVE.value, server_default=TenantStatus.ACTIVE.value
    )
