"""The campaign's roster: who it dials, written to ``campaigns_contacts`` when it is
activated or resumed.

A list campaign's entries come in their order; a segment's members are read then (in
chunks, through the contacts plugin's public ``segment_contact_ids``), so contacts who
joined the segment since the last activation are added on resume. Only missing rows are
inserted: a contact already on the roster keeps its state (attempts, retries, done).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import current_tenant_id
from plugins.campaigns.models import Campaign, CampaignContact, ContactStatus, SourceKind
from plugins.campaigns.service import list_contact_ids
from plugins.contacts import SegmentNotFoundError, segment_contact_ids

CHUNK = 1000
"""Segment members read (and rows inserted) per round."""


async def write_roster(session: AsyncSession, campaign: Campaign) -> int:
    """Add the campaign's contacts missing from its roster; how many it holds afterwards."""
    if campaign.source_kind == SourceKind.LIST.value:
        await _insert(session, campaign.id, await list_contact_ids(session, campaign.id), 0)
    else:
        await _segment(session, campaign)
    count = await session.scalar(
        select(func.count())
        .select_from(CampaignContact)
        .where(CampaignContact.campaign_id == campaign.id)
    )
    return int(count or 0)


async def _segment(session: AsyncSession, campaign: Campaign) -> None:
    if campaign.segment_id is None:
        return
    start = await session.scalar(
        select(func.coalesce(func.max(CampaignContact.position) + 1, 0)).where(
            CampaignContact.campaign_id == campaign.id
        )
    )
    position = int(start or 0)
    after: uuid.UUID | None = None
    while True:
        try:
            chunk = await segment_contact_ids(
                session, campaign.segment_id, after=after, limit=CHUNK
            )
        except SegmentNotFoundError:
            return  # activation refuses a deleted segment; the roster keeps what it has
        if not chunk:
            return
        await _insert(session, campaign.id, chunk, position)
        position += len(chunk)
        after = chunk[-1]


async def _insert(
    session: AsyncSession, campaign_id: uuid.UUID, contact_ids: list[uuid.UUID], first: int
) -> None:
    """Insert the contacts not on the roster yet, positions from ``first`` on."""
    tenant = current_tenant_id()
    for start in range(0, len(contact_ids), CHUNK):
        rows = [
            {
                "tenant_id": tenant,
                "campaign_id": campaign_id,
                "contact_id": contact_id,
                "position": first + start + offset,
                "status": ContactStatus.PENDING.value,
                "attempts": 0,
            }
            for offset, contact_id in enumerate(contact_ids[start : start + CHUNK])
        ]
        if not rows:
            return
        postgres = session.get_bind().dialect.name == "postgresql"
        insert: Any = (pg_insert if postgres else sqlite_insert)(CampaignContact)
        await session.execute(insert.values(rows).on_conflict_do_nothing())
