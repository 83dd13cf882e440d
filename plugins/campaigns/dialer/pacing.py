"""How many new calls a campaign may start now: one function per mode.

Agentless campaigns keep at most ``lines`` calls in flight. Agent modes (preview,
progressive, predictive) have no pacer yet: the engine skips them until theirs is added
here (progressive: one call per available agent; predictive: from live figures under the
abandonment cap).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.campaigns.models import LIVE_ATTEMPTS, Attempt, Campaign, Mode

Pacer = Callable[[AsyncSession, Campaign], Awaitable[int]]


async def in_flight(session: AsyncSession, campaign: Campaign) -> int:
    """The campaign's live attempts (being placed, or placed and not ended)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(Attempt.campaign_id == campaign.id, Attempt.status.in_(LIVE_ATTEMPTS))
    )
    return int(count or 0)


async def agentless(session: AsyncSession, campaign: Campaign) -> int:
    """``lines`` minus the calls in flight."""
    return max(0, campaign.lines - await in_flight(session, campaign))


PACERS: dict[str, Pacer] = {Mode.AGENTLESS.value: agentless}
"""The modes the engine dials, with their pacer."""
