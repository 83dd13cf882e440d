"""Everything held about one contact, in every plugin, as JSON (right of access)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Base, Platform, current_tenant_id, utcnow
from plugins.contacts.models import (
    ConsentRecord,
    Contact,
    ContactEmail,
    ContactPhone,
    ContactTag,
    DncEntry,
    Interaction,
    Segment,
    SegmentMember,
)

_LEFT_OUT = {"tenant_id", "search_text"}


def _plain(row: Base) -> dict[str, Any]:
    """A row's columns as JSON values (the tenant id and derived search text left out)."""
    mapper = inspect(type(row))
    values = {
        attribute.key: getattr(row, attribute.key)
        for attribute in mapper.column_attrs
        if attribute.key not in _LEFT_OUT
    }
    return dict(to_jsonable_python(values))


async def contact_numbers_and_emails(
    session: AsyncSession, contact_id: uuid.UUID
) -> tuple[list[str], list[str]]:
    """The contact's E.164 numbers and e-mail addresses, primary first."""
    numbers = await session.scalars(
        select(ContactPhone.number)
        .where(ContactPhone.contact_id == contact_id)
        .order_by(ContactPhone.position, ContactPhone.id)
    )
    emails = await session.scalars(
        select(ContactEmail.email)
        .where(ContactEmail.contact_id == contact_id)
        .order_by(ContactEmail.position, ContactEmail.id)
    )
    return list(dict.fromkeys(numbers)), list(dict.fromkeys(emails))


async def export_contact(
    platform: Platform, session: AsyncSession, contact: Contact
) -> dict[str, Any]:
    """The contact, its numbers, e-mails, tags, interactions, consent lines, do-not-call
    entries of its numbers and segment memberships, and what every other plugin holds
    about it (``kraliki_contact_data``), under ``plugins``."""
    contact_id = contact.id
    numbers, emails = await contact_numbers_and_emails(session, contact_id)
    mine_phone = ContactPhone.contact_id == contact_id
    phones = await session.scalars(
        select(ContactPhone).where(mine_phone).order_by(ContactPhone.position, ContactPhone.id)
    )
    mails = await session.scalars(
        select(ContactEmail)
        .where(ContactEmail.contact_id == contact_id)
        .order_by(ContactEmail.position, ContactEmail.id)
    )
    tags = await session.scalars(
        select(ContactTag.tag).where(ContactTag.contact_id == contact_id).order_by(ContactTag.tag)
    )
    interactions = await session.scalars(
        select(Interaction)
        .where(Interaction.contact_id == contact_id)
        .order_by(Interaction.started_at, Interaction.id)
    )
    consent_filter = [ConsentRecord.contact_id == contact_id]
    if numbers:
        consent_filter.append(ConsentRecord.number.in_(numbers))
    consents = await session.scalars(
        select(ConsentRecord)
        .where(or_(*consent_filter))
        .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    )
    dnc: list[DncEntry] = []
    if numbers:
        dnc = list(
            await session.scalars(
                select(DncEntry)
                .where(DncEntry.kind == "number", DncEntry.value.in_(numbers))
                .order_by(DncEntry.created_at, DncEntry.id)
            )
        )
        prefixes = await session.scalars(
            select(DncEntry).where(DncEntry.kind == "prefix").order_by(DncEntry.created_at)
        )
        dnc.extend(
            entry
            for entry in prefixes
            if entry.value and any(number.startswith(entry.value) for number in numbers)
        )
    memberships = await session.execute(
        select(Segment.id, Segment.name, SegmentMember.added_at)
        .join(
            Segment,
            (Segment.tenant_id == SegmentMember.tenant_id)
            & (Segment.id == SegmentMember.segment_id),
        )
        .where(SegmentMember.contact_id == contact_id)
        .order_by(Segment.name)
    )
    answers = await platform.hooks.collect(
        "kraliki_contact_data",
        platform=platform,
        session=session,
        tenant_id=current_tenant_id(),
        contact_id=contact_id,
        numbers=numbers,
        emails=emails,
    )
    return {
        "exported_at": to_jsonable_python(utcnow()),
        "contact": _plain(contact),
        "numbers": [_plain(row) for row in phones],
        "emails": [_plain(row) for row in mails],
        "tags": list(tags),
        "interactions": [_plain(row) for row in interactions],
        "consents": [_plain(row) for row in consents],
        "dnc": [_plain(row) for row in dnc],
        "segments": [
            {"id": str(segment_id), "name": name, "added_at": to_jsonable_python(added_at)}
            for segment_id, name, added_at in memberships
        ],
        "plugins": {plugin: to_jsonable_python(data) for plugin, data in answers},
    }
