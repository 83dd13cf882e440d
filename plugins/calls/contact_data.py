"""What the calls plugin holds about a contact, for its data export (``kraliki_contact_data``
of the contacts plugin): the calls to and from its numbers, with their notes, dispositions,
transcripts and recordings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls.models import Call, Recording, TranscriptSegmentRow


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def contact_calls(session: AsyncSession, numbers: Sequence[str]) -> list[Call]:
    """The tenant's calls from or to any of ``numbers``, oldest first."""
    if not numbers:
        return []
    wanted = sorted(set(numbers))
    rows = await session.scalars(
        select(Call)
        .where(or_(Call.from_number.in_(wanted), Call.to_number.in_(wanted)))
        .order_by(Call.created_at, Call.id)
    )
    return list(rows)


async def contact_data(session: AsyncSession, numbers: Sequence[str]) -> dict[str, Any] | None:
    """The calls to and from ``numbers`` as plain values (None: no call)."""
    calls = await contact_calls(session, numbers)
    if not calls:
        return None
    ids = [call.id for call in calls]
    segments: dict[Any, list[dict[str, Any]]] = {}
    for segment in await session.scalars(
        select(TranscriptSegmentRow)
        .where(TranscriptSegmentRow.call_id.in_(ids))
        .order_by(TranscriptSegmentRow.recorded_at, TranscriptSegmentRow.id)
    ):
        segments.setdefault(segment.call_id, []).append(
            {"speaker": segment.speaker, "text": segment.text, "final": segment.final}
        )
    recordings: dict[Any, list[dict[str, Any]]] = {}
    for recording in await session.scalars(
        select(Recording).where(Recording.call_id.in_(ids)).order_by(Recording.created_at)
    ):
        recordings.setdefault(recording.call_id, []).append(
            {
                "id": str(recording.id),
                "status": recording.status,
                "duration_seconds": recording.duration_seconds,
                "deleted": recording.deleted_at is not None,
            }
        )
    return {
        "calls": [
            {
                "id": str(call.id),
                "direction": call.direction,
                "from": call.from_number,
                "to": call.to_number,
                "status": call.status,
                "created_at": _time(call.created_at),
                "answered_at": _time(call.answered_at),
                "ended_at": _time(call.ended_at),
                "duration_seconds": call.duration_seconds,
                "disposition": call.disposition,
                "notes": call.notes,
                "tags": list(call.tags or []),
                "metadata": dict(call.attributes or {}),
                "transcript": segments.get(call.id, []),
                "recordings": recordings.get(call.id, []),
                "href": f"/api/v1/calls/{call.id}",
            }
            for call in calls
        ]
    }
