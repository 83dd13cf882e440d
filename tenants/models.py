"""The tenant's own settings (one row per tenant, tenant-owned)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kernel import Base, TenantOwnedMixin, TimestampMixin


class TenantSettings(TenantOwnedMixin, TimestampMixin, Base):
    """Defaults every feature reads: where the organization is and how it talks."""

    __tablename__ = "tenant_settings"

    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(35), default="en-US")
    default_country: Mapped[str] = mapped_column(String(2), default="US")
    """ISO 3166-1 alpha-2; how national phone numbers typed by agents are read."""
