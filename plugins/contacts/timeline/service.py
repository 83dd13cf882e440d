"""Reading a contact's timeline (no HTTP)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import PageParams, paginate
from plugins.contacts.models import Contact, Interaction


async def contact_exists(session: AsyncSession, contact_id: uuid.UUID) -> bool:
    """Whether the tenant has this contact (merged and erased ones included)."""
    found = await session.scalar(select(Contact.id).where(Contact.id == contact_id))
    return found is not None


async def timeline_page(
    session: AsyncSession, *, contact_id: uuid.UUID, params: PageParams
) -> tuple[list[Interaction], str | None]:
    """One page of the contact's calls, newest first."""
    rows, cursor = await paginate(
        session,
        select(Interaction).where(Interaction.contact_id == contact_id),
        order_by=(Interaction.started_at, Interaction.id),
        params=params,
    )
    return list(rows), cursor
