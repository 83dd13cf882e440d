"""A call's summary in the calls API (the calls plugin's ``kraliki_call_links``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Principal
from plugins.calls import Call
from plugins.summaries.models import CallSummaryRow
from plugins.summaries.permissions import SUMMARIES_READ


async def call_links(
    session: AsyncSession, principal: Principal, calls: Sequence[Call]
) -> dict[uuid.UUID, dict[str, Any]] | None:
    """``summary``: status, outcome and the summary's address, for principals who may read
    summaries (the text itself is one GET away)."""
    if not calls or not principal.can(SUMMARIES_READ.resource, SUMMARIES_READ.action):
        return None
    rows = await session.scalars(
        select(CallSummaryRow).where(CallSummaryRow.call_id.in_([call.id for call in calls]))
    )
    return {
        row.call_id: {
            "summary": {
                "id": str(row.id),
                "status": row.status,
                "outcome": row.outcome,
                "href": f"/api/v1/summaries/calls/{row.call_id}",
            }
        }
        for row in rows
    }
