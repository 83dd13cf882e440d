"""A contact's summaries (hooks declared by the contacts plugin): a summary repeats what was
said on a call, so the summaries of the contact's calls are the contact's data. They are in
its export (``kraliki_contact_data``) and go with its erasure (``kraliki_contact_erased``).

Runs after the calls plugin's part (summaries requires calls), which may already have put
the contact's pseudonym in place of its numbers: calls to or from either are matched. Writes
through the erasure's session, never commits; running it again deletes nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls import Call
from plugins.summaries.models import CallSummaryRow


def _calls_of(tenant_id: uuid.UUID, values: Sequence[str]) -> Any:
    return select(Call.id).where(
        Call.tenant_id == tenant_id,
        or_(Call.from_number.in_(values), Call.to_number.in_(values)),
    )


async def contact_data(
    session: AsyncSession, tenant_id: uuid.UUID, numbers: Sequence[str]
) -> dict[str, Any] | None:
    """The summaries of the calls from and to ``numbers`` (None: there are none)."""
    if not numbers:
        return None
    rows = await session.scalars(
        select(CallSummaryRow)
        .where(CallSummaryRow.call_id.in_(_calls_of(tenant_id, numbers)))
        .order_by(CallSummaryRow.created_at, CallSummaryRow.id)
    )
    found = [
        {
            "call_id": str(row.call_id),
            "status": row.status,
            "summary": row.summary,
            "reason": row.reason,
            "outcome": row.outcome,
            "suggested_disposition": row.suggested_disposition,
            "follow_ups": list(row.follow_ups or []),
            "created_at": row.created_at.isoformat(),
        }
        for row in rows
    ]
    return {"summaries": found} if found else None


async def erase_contact(
    session: AsyncSession, tenant_id: uuid.UUID, numbers: Sequence[str], pseudonym: str
) -> None:
    calls = _calls_of(tenant_id, [*numbers, pseudonym])
    await session.execute(
        delete(CallSummaryRow)
        .where(CallSummaryRow.tenant_id == tenant_id, CallSummaryRow.call_id.in_(calls))
        .execution_options(synchronize_session=False)
    )
