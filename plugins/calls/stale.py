"""Which calls are stale: not final, and not heard of for longer than their status allows.

A call's ``heard_at`` moves whenever the platform hears of it (placing, a provider webhook,
the provider's answer to reconciliation). A call in flight when the process carrying it
died, or whose provider's reports went missing, stops being heard of: once stale it no
longer counts toward the tenant's concurrent-call limit, and reconciliation asks its
provider where it is (``plugins.calls.reconcile``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls.config import CallsSettings
from plugins.calls.models import Call
from plugins.calls.status import ACTIVE_STATUSES


def heard_recently(settings: CallsSettings, now: datetime) -> ColumnElement[bool]:
    """Not final, and heard of within its status's threshold (what the limit counts)."""
    return or_(
        *(
            and_(Call.status == status, Call.heard_at > now - settings.stale_after(status))
            for status in ACTIVE_STATUSES
        )
    )


def is_stale(settings: CallsSettings, now: datetime) -> ColumnElement[bool]:
    """Not final, and not heard of within its status's threshold."""
    return or_(
        *(
            and_(Call.status == status, Call.heard_at <= now - settings.stale_after(status))
            for status in ACTIVE_STATUSES
        )
    )


async def next_stale_at(session: AsyncSession, settings: CallsSettings) -> datetime | None:
    """When the tenant's next call goes stale (in the past: some are stale now); None when
    no call is unended."""
    rows = await session.execute(
        select(Call.status, func.min(Call.heard_at))
        .where(Call.status.in_(ACTIVE_STATUSES))
        .group_by(Call.status)
    )
    times = [heard + settings.stale_after(status) for status, heard in rows if heard is not None]
    return min(times, default=None)
