"""How many new calls a campaign may start now: one function per mode.

Agentless campaigns keep at most ``lines`` calls in flight. Progressive campaigns dial one
call per ready seat not already covered by a call still ringing. Predictive campaigns are
paced by :func:`plugins.campaigns.pacing.pace` from their live figures (``figures.py``)
under their abandonment cap; when the pacer falls back to progressive (thin data, a 30-day
rate near the cap) or returns to predictive, the campaign's ``pacing_mode`` changes and
``campaigns.campaign.pacing_changed`` says why. Preview campaigns have no pacer: their
agents start each call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.campaigns.dialer.figures import snapshot
from plugins.campaigns.events import PacingChanged
from plugins.campaigns.models import LIVE_ATTEMPTS, Attempt, Campaign, Mode
from plugins.campaigns.pacing import PacingDecision, PacingMode, PacingPolicy, pace

Pacer = Callable[[Platform, AsyncSession, Campaign, datetime], Awaitable[int]]


async def in_flight(session: AsyncSession, campaign: Campaign) -> int:
    """The campaign's live attempts (being placed, or placed and not ended)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(Attempt.campaign_id == campaign.id, Attempt.status.in_(LIVE_ATTEMPTS))
    )
    return int(count or 0)


async def agentless(
    platform: Platform, session: AsyncSession, campaign: Campaign, now: datetime
) -> int:
    """``lines`` minus the calls in flight."""
    return max(0, campaign.lines - await in_flight(session, campaign))


def policy(campaign: Campaign) -> PacingPolicy:
    """The campaign's pacing settings: its cap (a percentage on the campaign), and whether
    answering machines go to agents (they then need one like a person does)."""
    amd = campaign.amd or {}
    to_agents = not amd.get("enabled", True) or amd.get("on_machine") == "agent"
    return PacingPolicy(
        max_abandon_rate=campaign.max_abandon_rate / 100.0, machines_to_agents=to_agents
    )


async def agents(
    platform: Platform, session: AsyncSession, campaign: Campaign, now: datetime
) -> int:
    """Progressive and predictive: the pacer's decision on the campaign's figures now (the
    campaign's row is locked by the caller, so its ``pacing_mode`` is too)."""
    rules = policy(campaign)
    predictive = campaign.mode == Mode.PREDICTIVE.value
    figures = await snapshot(session, campaign, now, rules, measured=predictive)
    previous = PacingMode(campaign.pacing_mode) if campaign.pacing_mode else None
    decision = pace(
        figures,
        policy=rules,
        campaign_mode=PacingMode.PREDICTIVE if predictive else PacingMode.PROGRESSIVE,
        previous_mode=previous,
    )
    if decision.mode != previous:
        await _mode_changed(platform, session, campaign, decision, previous)
    return decision.calls


async def _mode_changed(
    platform: Platform,
    session: AsyncSession,
    campaign: Campaign,
    decision: PacingDecision,
    previous: PacingMode | None,
) -> None:
    campaign.pacing_mode = decision.mode.value
    await platform.events.publish(
        session,
        PacingChanged(
            campaign_id=campaign.id,
            mode=decision.mode.value,
            previous_mode=previous.value if previous else None,
            reason=decision.reason.value,
            abandon_rate=round(decision.abandon_rate, 6),
            detail=decision.detail,
        ),
    )


PACERS: dict[str, Pacer] = {
    Mode.AGENTLESS.value: agentless,
    Mode.PROGRESSIVE.value: agents,
    Mode.PREDICTIVE.value: agents,
}
"""The modes the engine dials, with their pacer."""
