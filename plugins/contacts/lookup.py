"""Which contacts own a number: what an inbound call, a call's links and the timeline ask.

The query rides the ``(tenant_id, number)`` index of ``contacts_phones``; numbers are stored
normalised (E.164), so the caller normalises once and the database compares strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, Uuid, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import current_tenant_id
from plugins.contacts.models import ConsentRecord, Contact, ContactPhone


def lookup_statement() -> Select[Any]:
    """The query :func:`contacts_for_number` runs, with ``tenant_id`` and ``number`` bound at
    execution (built once: building it costs more than the database takes to answer)."""
    tenant_id = bindparam("tenant_id", type_=Uuid)
    owners = select(ContactPhone.contact_id).where(
        ContactPhone.tenant_id == tenant_id,
        ContactPhone.number == bindparam("number", type_=String),
    )
    return (
        select(Contact)
        .where(
            Contact.tenant_id == tenant_id,
            Contact.id.in_(owners),
            Contact.merged_into_id.is_(None),
            Contact.erased_at.is_(None),
        )
        .order_by(Contact.updated_at.desc(), Contact.id.desc())
    )


_LOOKUP = lookup_statement()


async def contacts_for_number(session: AsyncSession, number: str) -> list[Contact]:
    """The tenant's live contacts with ``number`` (E.164), newest updated first.

    Merged and erased contacts are left out; a number shared by several contacts (a family
    line, a switchboard) answers each of them.
    """
    found = await session.scalars(_LOOKUP, {"tenant_id": current_tenant_id(), "number": number})
    return list(found.all())


async def owners_of_numbers(
    session: AsyncSession, numbers: Collection[str]
) -> dict[str, list[Contact]]:
    """:func:`contacts_for_number` for many numbers in one query (number -> contacts)."""
    if not numbers:
        return {}
    query = (
        select(ContactPhone.number, Contact)
        .join(
            Contact,
            (Contact.tenant_id == ContactPhone.tenant_id) & (Contact.id == ContactPhone.contact_id),
        )
        .where(
            ContactPhone.tenant_id == current_tenant_id(),
            ContactPhone.number.in_(sorted(set(numbers))),
            Contact.merged_into_id.is_(None),
            Contact.erased_at.is_(None),
        )
        .order_by(Contact.updated_at.desc(), Contact.id.desc())
    )
    found: dict[str, list[Contact]] = {}
    for number, contact in (await session.execute(query)).all():
        owners = found.setdefault(number, [])
        if contact not in owners:
            owners.append(contact)
    return found


async def live_contact_ids(session: AsyncSession, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` are contacts of the tenant that can still be called about: they exist,
    were not erased and were not merged into another (what a campaign's list may name)."""
    if not ids:
        return set()
    found = await session.scalars(
        select(Contact.id).where(
            Contact.id.in_(list(ids)),
            Contact.merged_into_id.is_(None),
            Contact.erased_at.is_(None),
        )
    )
    return set(found)


@dataclass(frozen=True, slots=True)
class DialFacts:
    """What a dialer needs to know about a contact before calling: its numbers (E.164, in
    the contact's order) and where the person is (their own time zone, their address's
    country and region), so the calling window is judged in *their* local time."""

    contact_id: uuid.UUID
    numbers: tuple[str, ...]
    time_zone: str | None
    country: str | None
    region: str | None


async def dial_facts(session: AsyncSession, contact_id: uuid.UUID) -> DialFacts | None:
    """The contact's :class:`DialFacts`, or None when it is not a live contact of the tenant
    (unknown, erased or merged)."""
    contact = await session.scalar(
        select(Contact).where(
            Contact.id == contact_id,
            Contact.merged_into_id.is_(None),
            Contact.erased_at.is_(None),
        )
    )
    if contact is None:
        return None
    numbers = await session.scalars(
        select(ContactPhone.number)
        .where(ContactPhone.contact_id == contact_id)
        .order_by(ContactPhone.position, ContactPhone.id)
    )
    return DialFacts(
        contact_id=contact.id,
        numbers=tuple(numbers),
        time_zone=contact.time_zone or None,
        country=contact.country,
        region=contact.region or None,
    )


@dataclass(frozen=True, slots=True)
class CardPhone:
    number: str
    type: str
    label: str


@dataclass(frozen=True, slots=True)
class ContactCard:
    """What an agent sees about a contact before calling it (a preview): who it is, its
    numbers, where it is, and its last call as the contact's record keeps it."""

    contact_id: uuid.UUID
    name: str
    company: str
    phones: tuple[CardPhone, ...]
    time_zone: str | None
    city: str
    region: str | None
    country: str | None
    last_call_at: datetime | None
    last_call_status: str | None
    last_disposition: str | None
    call_count: int


async def contact_card(session: AsyncSession, contact_id: uuid.UUID) -> ContactCard | None:
    """The contact's :class:`ContactCard`, or None when it is not a live contact of the
    tenant (unknown, erased or merged)."""
    contact = await session.scalar(
        select(Contact).where(
            Contact.id == contact_id,
            Contact.merged_into_id.is_(None),
            Contact.erased_at.is_(None),
        )
    )
    if contact is None:
        return None
    phones = await session.scalars(
        select(ContactPhone)
        .where(ContactPhone.contact_id == contact_id)
        .order_by(ContactPhone.position, ContactPhone.id)
    )
    return ContactCard(
        contact_id=contact.id,
        name=contact.name,
        company=contact.company,
        phones=tuple(CardPhone(p.number, p.type, p.label) for p in phones),
        time_zone=contact.time_zone or None,
        city=contact.city,
        region=contact.region or None,
        country=contact.country,
        last_call_at=contact.last_call_at,
        last_call_status=contact.last_call_status,
        last_disposition=contact.last_disposition,
        call_count=contact.call_count,
    )


@dataclass(frozen=True, slots=True)
class ConsentLine:
    """One line of the consent ledger, as a dialer shows it (never the number)."""

    id: uuid.UUID
    purpose: str
    channel: str
    action: str
    source: str
    occurred_at: datetime


async def consent_line(session: AsyncSession, record_id: uuid.UUID) -> ConsentLine | None:
    """A line of the tenant's consent ledger (the one ``is_callable`` named), or None."""
    line = await session.scalar(select(ConsentRecord).where(ConsentRecord.id == record_id))
    if line is None:
        return None
    return ConsentLine(
        id=line.id,
        purpose=line.purpose,
        channel=line.channel,
        action=line.action,
        source=line.source,
        occurred_at=line.occurred_at,
    )
