"""What the IVR holds about a contact, for its data export (``kraliki_contact_data`` of the
contacts plugin): the flow sessions of calls to and from its numbers, with what the caller
entered (the flow's variables) and the path taken."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls import Call
from plugins.ivr.models import FlowSession


async def contact_data(session: AsyncSession, numbers: Sequence[str]) -> dict[str, Any] | None:
    """The IVR sessions of calls with ``numbers`` as plain values (None: no session)."""
    if not numbers:
        return None
    wanted = sorted(set(numbers))
    calls = select(Call.id).where(or_(Call.from_number.in_(wanted), Call.to_number.in_(wanted)))
    sessions = list(
        await session.scalars(
            select(FlowSession)
            .where(FlowSession.call_id.in_(calls))
            .order_by(FlowSession.created_at, FlowSession.id)
        )
    )
    if not sessions:
        return None
    return {
        "sessions": [
            {
                "id": str(row.id),
                "call_id": str(row.call_id),
                "flow_id": str(row.flow_id),
                "version": row.version,
                "status": row.status,
                "outcome": row.outcome,
                "started_at": row.created_at.isoformat(),
                "ended_at": row.ended_at.isoformat() if row.ended_at else None,
                "variables": dict((row.state or {}).get("variables") or {}),
                "path": list((row.state or {}).get("path") or []),
            }
            for row in sessions
        ]
    }
