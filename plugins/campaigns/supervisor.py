"""What the supervisor plugin's dashboard and alerts read of campaigns
(``kraliki_supervisor_campaign_figures``): each campaign's own 30-day abandonment figure,
the one ``metrics.py`` computes for the campaign's page and the pacing guard caps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import utcnow
from plugins.campaigns.metrics import campaign_metric
from plugins.campaigns.models import Campaign, CampaignState
from plugins.supervisor import CampaignFigure


async def supervisor_figures(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID] | None
) -> list[CampaignFigure]:
    """The campaigns ``campaign_ids`` (every active one: None) with their figures."""
    statement = select(Campaign).order_by(Campaign.name, Campaign.id)
    if campaign_ids is None:
        statement = statement.where(Campaign.state == CampaignState.ACTIVE.value)
    else:
        statement = statement.where(Campaign.id.in_(list(campaign_ids)))
    now = utcnow()
    out = []
    for campaign in await session.scalars(statement):
        metric = await campaign_metric(session, campaign, now=now)
        out.append(
            CampaignFigure(
                campaign_id=campaign.id,
                name=campaign.name,
                state=campaign.state,
                mode=campaign.mode,
                answered_30d=metric.answered_30d,
                abandoned_30d=metric.abandoned_30d,
                abandonment_rate_30d=metric.abandonment_rate_30d,
            )
        )
    return out
