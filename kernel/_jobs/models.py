"""``kernel_wakeups``: which tenant has work due for which topic, and when.

A platform table like ``tenants``, not tenant-owned: it holds no tenant data, only that
tenant T has work of kind ``topic`` due at ``due_at``, so one indexed query finds due work
across tenants (row-level security hides tenant-owned rows from a worker with no tenant).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kernel._models import Base, UTCDateTime


class Wakeup(Base):
    __tablename__ = "kernel_wakeups"
    __table_args__ = (Index("ix_kernel_wakeups_due_at", "due_at"),)

    topic: Mapped[str] = mapped_column(String(63), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set while a worker runs the job; another worker takes over only after it passes."""
    version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by every wake-up, so a worker finishing a run sees it was woken meanwhile."""
