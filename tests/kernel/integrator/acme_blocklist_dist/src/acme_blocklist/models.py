"""Tables of acme_blocklist (prefixed with the plugin name, on the shared metadata)."""

from __future__ import annotations

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel import Base, TenantOwnedMixin, TimestampMixin, UUIDPrimaryKeyMixin


class BlockedNumber(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """Each tenant has its own blocklist: tenant_id leads the key and every index."""

    __tablename__ = "acme_blocklist_numbers"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    number: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(200), default="")
