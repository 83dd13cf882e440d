"""The contacts plugin's own part of an erasure (its ``kraliki_contact_erased``).

The contact row stays (its id is what interactions, erasures and other plugins' history
point at), emptied of everything personal: the name becomes the pseudonym, the rest is
cleared. Numbers, e-mails, tags and segment memberships go; interactions keep the call's
outcome with the pseudonym for the number and no notes; do-not-call entries and consent
lines of its numbers keep only the numbers' hashes, so the person is still not called.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.contacts.compliance.hashing import keep_erased_numbers
from plugins.contacts.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    Interaction,
    SegmentMember,
)


async def erase_own(
    platform: Platform,
    session: AsyncSession,
    *,
    contact_id: uuid.UUID,
    numbers: Sequence[str],
    pseudonym: str,
) -> None:
    """Erase the contact's personal data in the contacts plugin's tables (no commit)."""
    contact = await session.scalar(select(Contact).where(Contact.id == contact_id))
    if contact is None:
        return
    for model in (ContactPhone, ContactEmail, ContactTag, SegmentMember):
        await session.execute(
            delete(model)
            .where(model.contact_id == contact_id)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Interaction)
        .where(Interaction.contact_id == contact_id)
        .values(number=pseudonym, notes="")
        .execution_options(synchronize_session=False)
    )
    await keep_erased_numbers(platform, session, list(numbers))
    if contact.erased_at is None:
        contact.erased_at = utcnow()
        contact.version += 1
    contact.name = pseudonym
    contact.company = ""
    contact.external_id = None
    contact.address_line1 = ""
    contact.address_line2 = ""
    contact.city = ""
    contact.region = ""
    contact.postal_code = ""
    contact.country = None
    contact.time_zone = None
    contact.tags = []
    contact.custom_fields = {}
    contact.search_text = pseudonym
    await session.flush()
