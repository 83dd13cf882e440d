"""What the dialer holds about a person, for the contacts plugin's erasure and export hooks:
the attempts store the number dialled (on the attempt and in its decision record)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.campaigns.models import Attempt, CampaignContact


async def erase_contact(session: AsyncSession, contact_id: uuid.UUID, pseudonym: str) -> None:
    """The contact's attempts keep their decisions (the proof of every dial) with the
    number replaced by the pseudonym. Idempotent."""
    for attempt in await session.scalars(select(Attempt).where(Attempt.contact_id == contact_id)):
        if attempt.number is not None:
            attempt.number = pseudonym
        if (attempt.decision or {}).get("number") is not None:
            attempt.decision = {**attempt.decision, "number": pseudonym}
    await session.flush()


async def contact_data(session: AsyncSession, contact_id: uuid.UUID) -> dict[str, Any] | None:
    """The contact's place on campaigns' rosters and every attempt to call them."""
    roster = list(
        await session.scalars(
            select(CampaignContact).where(CampaignContact.contact_id == contact_id)
        )
    )
    attempts = list(
        await session.scalars(
            select(Attempt)
            .where(Attempt.contact_id == contact_id)
            .order_by(Attempt.decided_at, Attempt.id)
        )
    )
    if not roster and not attempts:
        return None
    return {
        "campaigns": [
            {
                "campaign_id": str(row.campaign_id),
                "status": row.status,
                "attempts": row.attempts,
                "last_outcome": row.last_outcome,
            }
            for row in roster
        ],
        "attempts": [
            {
                "campaign_id": str(a.campaign_id),
                "number": a.number,
                "decided_at": a.decided_at.isoformat(),
                "allowed": a.allowed,
                "rule": a.rule,
                "status": a.status,
                "outcome": a.outcome,
                "call_id": str(a.call_id) if a.call_id else None,
            }
            for a in attempts
        ],
    }
