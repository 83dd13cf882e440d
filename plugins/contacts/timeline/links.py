"""A call's contact in the calls API (the calls plugin's ``kraliki_call_links``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Principal, current_tenant_id
from plugins.contacts.models import Contact, Interaction
from plugins.contacts.permissions import CONTACTS_READ


async def call_links(
    session: AsyncSession, principal: Principal, call_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """``{"contact": {"id", "name", "href"}}`` per linked call, for a principal who may read
    contacts (one query for the page). A call linked to several contacts (a shared number)
    names the one updated last; merged and erased contacts are not named."""
    if not call_ids or not principal.can(CONTACTS_READ.resource, CONTACTS_READ.action):
        return {}
    rows = await session.execute(
        select(Interaction.call_id, Contact.id, Contact.name)
        .join(
            Contact,
            (Contact.tenant_id == Interaction.tenant_id) & (Contact.id == Interaction.contact_id),
        )
        .where(
            Interaction.tenant_id == current_tenant_id(),
            Interaction.call_id.in_(sorted(set(call_ids))),
            Contact.merged_into_id.is_(None),
            Contact.erased_at.is_(None),
        )
        .order_by(Contact.updated_at.desc(), Contact.id.desc())
    )
    links: dict[uuid.UUID, dict[str, Any]] = {}
    for call_id, contact_id, name in rows:
        links.setdefault(
            call_id,
            {
                "contact": {
                    "id": str(contact_id),
                    "name": name,
                    "href": f"/api/v1/contacts/{contact_id}",
                }
            },
        )
    return links
