"""Tables of acme_blocklist (prefixed with the plugin name, on the shared metadata)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kernel import Base, TimestampMixin, UUIDPrimaryKeyMixin


class BlockedNumber(UUIDPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "acme_blocklist_numbers"

    number: Mapped[str] = mapped_column(String(32), unique=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
