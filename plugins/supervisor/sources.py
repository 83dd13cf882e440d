"""The figures optional plugins give through the supervisor's hooks (``hookspecs.py``),
gathered for the dashboard and the alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.supervisor.figures import CampaignFigure, DisabledEndpoint


async def campaign_figures(
    platform: Platform, session: AsyncSession, campaign_ids: Sequence[uuid.UUID] | None = None
) -> list[CampaignFigure]:
    """Every active campaign's figures (``campaign_ids``: those campaigns'), by name."""
    found: list[CampaignFigure] = []
    for _, figures in await platform.hooks.collect(
        "kraliki_supervisor_campaign_figures",
        session=session,
        campaign_ids=None if campaign_ids is None else list(campaign_ids),
    ):
        found.extend(figures)
    return sorted(found, key=lambda f: (f.name, str(f.campaign_id)))


def campaigns_installed(platform: Platform) -> bool:
    return bool(platform.hooks.implementers("kraliki_supervisor_campaign_figures"))


async def disabled_endpoints(platform: Platform, session: AsyncSession) -> list[DisabledEndpoint]:
    found: list[DisabledEndpoint] = []
    for _, endpoints in await platform.hooks.collect(
        "kraliki_supervisor_disabled_endpoints", session=session
    ):
        found.extend(endpoints)
    return found
