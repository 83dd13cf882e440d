"""Contacts themselves: create, change, delete and merge; custom field definitions; settings.

No HTTP here: explicit sessions and keyword arguments. Each change bumps the contact's
``version`` (its ``ETag``) and publishes an event in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, if_match_allows, utcnow
from plugins.contacts import fields as custom
from plugins.contacts import records
from plugins.contacts.events import ContactCreated, ContactDeleted, ContactMerged, ContactUpdated
from plugins.contacts.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactSettingsRow,
    ContactTag,
    FieldDefinition,
    Interaction,
    SegmentMember,
)
from plugins.contacts.problems import (
    CONTACT_CHANGED,
    CONTACT_ERASED,
    CONTACT_MERGED,
    CONTACT_NOT_FOUND,
    FIELD_EXISTS,
    FIELD_NOT_FOUND,
    FIELD_TYPE_FIXED,
    INVALID_CONTACT,
    MERGE_REFUSED,
    located,
)
from plugins.contacts.schemas import ContactOut, PhoneOut


def invalid(problems: Sequence[custom.FieldProblem]) -> ProblemError:
    errors = [{"field": p.field, "reason": p.reason} for p in problems]
    detail = "; ".join(f"{p.field}: {p.reason}" for p in problems[:5])
    return ProblemError(INVALID_CONTACT, detail, errors=located(errors))


async def get_contact(
    session: AsyncSession, contact_id: uuid.UUID, *, lock: bool = False
) -> Contact:
    query = select(Contact).where(Contact.id == contact_id)
    if lock:
        query = query.with_for_update()
    contact = await session.scalar(query)
    if contact is None:
        raise ProblemError(CONTACT_NOT_FOUND, f"no contact {contact_id}")
    return contact


def check_version(contact: Contact, if_match: str | None) -> None:
    """``If-Match`` (``"3"``, ``W/"3"`` or ``*``) must name the contact's current version."""
    if not if_match_allows(if_match, contact.version):
        raise ProblemError(
            CONTACT_CHANGED,
            f"the contact is at version {contact.version}; If-Match named {if_match}",
            current_version=contact.version,
        )


def _writable(contact: Contact) -> None:
    if contact.erased_at is not None:
        raise ProblemError(CONTACT_ERASED, f"contact {contact.id} was erased")
    if contact.merged_into_id is not None:
        raise ProblemError(
            CONTACT_MERGED,
            f"contact {contact.id} was merged into {contact.merged_into_id}",
            merged_into=str(contact.merged_into_id),
        )


async def _cleaned(
    session: AsyncSession, values: Mapping[str, Any], *, partial: bool
) -> records.Cleaned:
    cleaned = records.clean(
        values,
        default_country=await records.default_country(session),
        fields=await custom.definitions(session),
        partial=partial,
    )
    if cleaned.problems:
        raise invalid(cleaned.problems)
    return cleaned


async def create_contact(
    session: AsyncSession,
    platform: Platform,
    *,
    values: Mapping[str, Any],
    source: str = "api",
) -> Contact:
    cleaned = await _cleaned(session, values, partial=False)
    contact = Contact(id=uuid.uuid4(), tags=[], custom_fields={}, version=1)
    records.apply(contact, cleaned)
    session.add(contact)
    await session.flush()
    await records.write_children(session, contact, cleaned, new=True)
    await platform.events.publish(
        session, ContactCreated(contact_id=contact.id, contact_version=1, source=source)
    )
    return contact


async def update_contact(
    session: AsyncSession,
    platform: Platform,
    *,
    contact_id: uuid.UUID,
    values: Mapping[str, Any],
    if_match: str | None,
) -> Contact:
    contact = await get_contact(session, contact_id, lock=True)
    check_version(contact, if_match)
    _writable(contact)
    cleaned = await _cleaned(session, values, partial=True)
    changed = records.apply(contact, cleaned)
    changed += [
        name
        for name in ("phones", "emails")
        if getattr(cleaned, name) is not None
        and getattr(cleaned, name) != await _current(session, contact.id, name)
    ]
    if not changed:
        return contact
    await records.write_children(session, contact, cleaned, new=False)
    contact.version += 1
    contact.updated_at = utcnow()
    await platform.events.publish(
        session,
        ContactUpdated(contact_id=contact.id, contact_version=contact.version, changed=changed),
    )
    return contact


async def _current(session: AsyncSession, contact_id: uuid.UUID, name: str) -> list[Any]:
    if name == "emails":
        return await records.contact_emails(session, contact_id)
    rows = await session.scalars(
        select(ContactPhone)
        .where(ContactPhone.contact_id == contact_id)
        .order_by(ContactPhone.position)
    )
    return [
        records.PhoneRecord(
            number=p.number,
            type=p.type,
            label=p.label,
            region=p.number_region,
            time_zones=tuple(p.time_zones),
            line_type=p.line_type,
        )
        for p in rows
    ]


async def delete_contact(
    session: AsyncSession, platform: Platform, *, contact_id: uuid.UUID, if_match: str | None
) -> None:
    contact = await get_contact(session, contact_id, lock=True)
    check_version(contact, if_match)
    await platform.events.publish(
        session, ContactDeleted(contact_id=contact.id, contact_version=contact.version)
    )
    # Contacts merged into this one keep their history but point nowhere now.
    await session.execute(
        update(Contact).where(Contact.merged_into_id == contact.id).values(merged_into_id=None)
    )
    await session.delete(contact)


async def merge_contacts(
    session: AsyncSession,
    platform: Platform,
    *,
    survivor_id: uuid.UUID,
    other_id: uuid.UUID,
    if_match: str | None,
) -> Contact:
    """Merge ``other`` into ``survivor``: numbers, e-mails and tags are united, values the
    survivor lacks are taken from the other, the timeline and static lists move over. The
    other contact stays, marked ``merged_into``, so history that names it still resolves."""
    if survivor_id == other_id:
        await get_contact(session, survivor_id)  # another tenant's id is not found, first
        raise ProblemError(MERGE_REFUSED, "a contact cannot be merged into itself")
    # Lock both in id order, so two merges of the same pair in opposite directions cannot
    # deadlock.
    first, second = sorted((survivor_id, other_id))
    locked = {c.id: c for c in [await get_contact(session, first, lock=True)]}
    locked[second] = await get_contact(session, second, lock=True)
    survivor, other = locked[survivor_id], locked[other_id]
    check_version(survivor, if_match)
    for contact in (survivor, other):
        if contact.erased_at is not None or contact.merged_into_id is not None:
            raise ProblemError(MERGE_REFUSED, f"contact {contact.id} was already merged or erased")
    changed = _take_missing_values(survivor, other)
    numbers = await _unite_phones(session, survivor, other)
    emails = await _unite_emails(session, survivor, other)
    tags = list(dict.fromkeys([*survivor.tags, *other.tags]))
    if tags != survivor.tags:
        survivor.tags = tags
        changed.append("tags")
    await session.execute(delete(ContactTag).where(ContactTag.contact_id == other.id))
    await session.execute(delete(ContactTag).where(ContactTag.contact_id == survivor.id))
    session.add_all(ContactTag(contact_id=survivor.id, tag=t) for t in tags)
    await _move_timeline(session, survivor, other)
    await _move_memberships(session, survivor, other)
    other.merged_into_id = survivor.id
    other.version += 1
    other.updated_at = utcnow()
    survivor.search_text = records.search_text(survivor, numbers, emails)
    survivor.version += 1
    survivor.updated_at = utcnow()
    await platform.events.publish(
        session,
        ContactMerged(contact_id=survivor.id, contact_version=survivor.version, merged_id=other.id),
    )
    await platform.events.publish(
        session,
        ContactUpdated(
            contact_id=survivor.id,
            contact_version=survivor.version,
            changed=sorted({*changed, "phones", "emails"}),
        ),
    )
    return survivor


def _take_missing_values(survivor: Contact, other: Contact) -> list[str]:
    changed = []
    for name in records.SCALARS:
        if not getattr(survivor, name) and getattr(other, name):
            setattr(survivor, name, getattr(other, name))
            changed.append(name)
    merged = {**other.custom_fields, **survivor.custom_fields}
    if merged != survivor.custom_fields:
        survivor.custom_fields = merged
        changed.append("custom_fields")
    other.external_id = None  # the survivor answers for it now (imports match on it)
    return changed


async def _unite_phones(session: AsyncSession, survivor: Contact, other: Contact) -> list[str]:
    phones = list(
        await session.scalars(
            select(ContactPhone)
            .where(ContactPhone.contact_id.in_([survivor.id, other.id]))
            .order_by(ContactPhone.contact_id != survivor.id, ContactPhone.position)
        )
    )
    kept: list[str] = []
    for phone in phones:
        if phone.number in kept:
            await session.delete(phone)
            continue
        phone.contact_id = survivor.id
        phone.position = len(kept)
        kept.append(phone.number)
    return kept


async def _unite_emails(session: AsyncSession, survivor: Contact, other: Contact) -> list[str]:
    rows = list(
        await session.scalars(
            select(ContactEmail)
            .where(ContactEmail.contact_id.in_([survivor.id, other.id]))
            .order_by(ContactEmail.contact_id != survivor.id, ContactEmail.position)
        )
    )
    kept: list[str] = []
    for row in rows:
        if row.email in kept:
            await session.delete(row)
            continue
        row.contact_id = survivor.id
        row.position = len(kept)
        kept.append(row.email)
    return kept


async def _move_timeline(session: AsyncSession, survivor: Contact, other: Contact) -> None:
    known = set(
        await session.scalars(
            select(Interaction.call_id).where(Interaction.contact_id == survivor.id)
        )
    )
    for row in await session.scalars(select(Interaction).where(Interaction.contact_id == other.id)):
        if row.call_id in known:
            await session.delete(row)
        else:
            row.contact_id = survivor.id
    await session.flush()
    # The timeline is the record of calls: the summary follows from it.
    survivor.call_count = (
        await session.scalar(
            select(func.count())
            .select_from(Interaction)
            .where(Interaction.contact_id == survivor.id)
        )
        or 0
    )
    if other.last_call_at and (
        survivor.last_call_at is None or other.last_call_at > survivor.last_call_at
    ):
        survivor.last_call_at = other.last_call_at
        survivor.last_call_status = other.last_call_status
        survivor.last_disposition = other.last_disposition


async def _move_memberships(session: AsyncSession, survivor: Contact, other: Contact) -> None:
    mine = set(
        await session.scalars(
            select(SegmentMember.segment_id).where(SegmentMember.contact_id == survivor.id)
        )
    )
    for row in await session.scalars(
        select(SegmentMember).where(SegmentMember.contact_id == other.id)
    ):
        if row.segment_id not in mine:
            session.add(SegmentMember(segment_id=row.segment_id, contact_id=survivor.id))
        await session.delete(row)


async def contact_outs(session: AsyncSession, contacts: Sequence[Contact]) -> list[ContactOut]:
    """Response bodies for contacts, with their numbers and e-mails read in two queries."""
    ids = [c.id for c in contacts]
    phones = await records.phones_of(session, ids)
    emails = await records.emails_of(session, ids)
    return [
        ContactOut(
            id=c.id,
            name=c.name,
            company=c.company,
            external_id=c.external_id,
            phones=[
                PhoneOut(
                    number=p.number,
                    type=p.type,
                    label=p.label,
                    region=p.number_region,
                    time_zones=list(p.time_zones),
                    line_type=p.line_type,
                )
                for p in phones[c.id]
            ],
            emails=emails[c.id],
            address_line1=c.address_line1,
            address_line2=c.address_line2,
            city=c.city,
            region=c.region,
            postal_code=c.postal_code,
            country=c.country,
            time_zone=c.time_zone,
            tags=list(c.tags),
            custom_fields=dict(c.custom_fields),
            owner_id=c.owner_id,
            merged_into=c.merged_into_id,
            erased=c.erased_at is not None,
            last_call_at=c.last_call_at,
            last_call_status=c.last_call_status,
            last_disposition=c.last_disposition,
            call_count=c.call_count,
            version=c.version,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in contacts
    ]


# Custom field definitions


async def get_field(session: AsyncSession, key: str) -> FieldDefinition:
    row = await session.scalar(select(FieldDefinition).where(FieldDefinition.key == key))
    if row is None:
        raise ProblemError(FIELD_NOT_FOUND, f"no custom field {key!r}")
    return row


async def define_field(
    session: AsyncSession,
    *,
    key: str,
    label: str,
    type: str,
    choices: Sequence[str],
    required: bool,
) -> FieldDefinition:
    try:
        cleaned = custom.check_choices(type, choices)
    except custom.FieldProblem as problem:
        raise invalid([problem]) from None
    row = FieldDefinition(key=key, label=label, type=type, choices=cleaned, required=required)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise ProblemError(FIELD_EXISTS, f"a custom field {key!r} exists already") from None
    return row


async def change_field(
    session: AsyncSession,
    *,
    key: str,
    label: str | None,
    type: str | None,
    choices: Sequence[str] | None,
    required: bool | None,
) -> FieldDefinition:
    row = await get_field(session, key)
    if type is not None and type != row.type:
        raise ProblemError(FIELD_TYPE_FIXED, f"custom field {key!r} is a {row.type} field")
    if choices is not None:
        try:
            row.choices = custom.check_choices(row.type, choices)
        except custom.FieldProblem as problem:
            raise invalid([problem]) from None
    if label is not None:
        row.label = label
    if required is not None:
        row.required = required
    row.updated_at = utcnow()
    return row


async def delete_field(session: AsyncSession, *, key: str) -> None:
    """Forget a field; values stored under it stay in contacts' data until they change (a
    field defined again with the same key finds them)."""
    await session.delete(await get_field(session, key))


# Settings


async def settings(session: AsyncSession) -> ContactSettingsRow:
    row = await session.scalar(select(ContactSettingsRow))
    return row or ContactSettingsRow(default_country=records.DEFAULT_COUNTRY, compliance={})


async def change_settings(session: AsyncSession, *, default_country: str) -> ContactSettingsRow:
    import phonenumbers

    country = default_country.upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise invalid([custom.FieldProblem("default_country", "not an ISO 3166-1 alpha-2 code")])
    row = await session.scalar(select(ContactSettingsRow).with_for_update())
    if row is None:
        row = ContactSettingsRow(default_country=country, compliance={})
        session.add(row)
    else:
        row.default_country = country
        row.updated_at = utcnow()
    return row
