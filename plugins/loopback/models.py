"""``loopback_carriers``: the processes running loopback calls, each renewing its lease.

A platform table like ``kernel_wakeups``, not tenant-owned: it holds no tenant data, only
that the carrier of one process was alive at ``seen_at`` (any worker must read any other's
row to tell a live carrier from a dead one).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel import Base, UTCDateTime


class CarrierLease(Base):
    __tablename__ = "loopback_carriers"

    instance: Mapped[str] = mapped_column(String(16), primary_key=True)
    """The process's carrier id, also the first part of its calls' ids (``LB<instance>...``)."""
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Renewed while the carrier runs calls; older than the lease: the carrier is gone."""
