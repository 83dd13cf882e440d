"""What a call's summary is made of, read through the calls and queues plugins' public
tables: the transcript of the conversation and the tenant's disposition codes.

A customer's call that reached an agent through a queue is two legs: the customer's call
and the agent's leg (an outbound call to the agent's phone, bridged in a conference). The
conversation is both legs' transcripts, in the order they were recorded; what was said on
the agent's leg is the agent's. An agent's leg is summarised with its customer's call, not
on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls import Call, TranscriptSegmentRow
from plugins.queues import Offer, QueueItem
from plugins.summaries.prompt import Code, Line

MAX_CODES = 30
AGENT = "agent"
CUSTOMER = "customer"


async def is_agent_leg(session: AsyncSession, call_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Offer.id).where(Offer.agent_call_id == call_id).limit(1))
    return found is not None


async def agent_legs(session: AsyncSession, call_id: uuid.UUID) -> list[uuid.UUID]:
    """The agent legs bridged with the customer's call ``call_id``."""
    rows = await session.scalars(
        select(Offer.agent_call_id)
        .join(QueueItem, QueueItem.id == Offer.item_id)
        .where(QueueItem.call_id == call_id, Offer.agent_call_id.is_not(None))
    )
    return [leg for leg in rows if leg is not None]


def _speaker(raw: str, *, on_agent_leg: bool) -> str:
    if on_agent_leg:
        return AGENT
    return AGENT if raw.lower() == AGENT else CUSTOMER


async def transcript(session: AsyncSession, call_id: uuid.UUID) -> list[Line]:
    """The conversation of the customer's call ``call_id`` (final segments only)."""
    legs = set(await agent_legs(session, call_id))
    rows = await session.scalars(
        select(TranscriptSegmentRow)
        .where(
            TranscriptSegmentRow.call_id.in_([call_id, *legs]),
            TranscriptSegmentRow.final.is_(True),
        )
        .order_by(TranscriptSegmentRow.recorded_at, TranscriptSegmentRow.id)
    )
    return [
        Line(_speaker(row.speaker, on_agent_leg=row.call_id in legs), row.text)
        for row in rows
        if row.text.strip()
    ]


async def disposition_codes(session: AsyncSession) -> Sequence[Code]:
    """The tenant's disposition codes: the platform keeps no list of them (a disposition is
    free text), so they are the dispositions the tenant's calls were given, most used
    first (up to :data:`MAX_CODES`). A tenant that never set one has none."""
    used = func.count(Call.id)
    rows = await session.execute(
        select(Call.disposition, used)
        .where(Call.disposition.is_not(None), Call.disposition != "")
        .group_by(Call.disposition)
        .order_by(used.desc(), Call.disposition)
        .limit(MAX_CODES)
    )
    return [Code(str(code)) for code, _ in rows]
