"""What the timeline and privacy tests share: contacts written straight through the ORM
(inside the tenant's scope), call events as the calls plugin publishes them, and reading
rows back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from kernel import DeliveredEvent, Platform, tenant_scope, utcnow
from plugins.contacts.models import Contact, ContactEmail, ContactPhone, ContactTag
from plugins.contacts.phones import normalize

START = datetime(2026, 3, 2, 9, 0, tzinfo=utcnow().tzinfo)


async def add_contact(
    platform: Platform,
    tenant_id: uuid.UUID,
    name: str = "Ada Lovelace",
    *,
    numbers: Sequence[str] = (),
    emails: Sequence[str] = (),
    tags: Sequence[str] = (),
    **fields: Any,
) -> uuid.UUID:
    """A contact with its numbers (E.164), e-mails and tags, written as the core would."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            contact = Contact(name=name, tags=list(tags), **fields)
            session.add(contact)
            await session.flush()
            for position, number in enumerate(numbers):
                parsed = normalize(number, default_country="US")
                session.add(
                    ContactPhone(
                        contact_id=contact.id,
                        number=parsed.e164,
                        position=position,
                        number_region=parsed.region,
                        time_zones=list(parsed.time_zones),
                        line_type=parsed.line_type,
                    )
                )
            for position, email in enumerate(emails):
                session.add(ContactEmail(contact_id=contact.id, email=email, position=position))
            for tag in tags:
                session.add(ContactTag(contact_id=contact.id, tag=tag))
            await session.commit()
            return contact.id


def call_event(
    tenant_id: uuid.UUID,
    verb: str,
    *,
    call_id: uuid.UUID,
    position: int,
    status: str | None = None,
    direction: str = "outbound",
    from_number: str = "+14155550000",
    to_number: str = "+14155550123",
    at: datetime | None = None,
    **payload: Any,
) -> DeliveredEvent:
    """A ``calls.call.<verb>`` event as the dispatcher delivers it."""
    statuses = {"created": "queued", "answered": "in-progress", "updated": "completed"}
    return DeliveredEvent(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=f"calls.call.{verb}",
        version=1,
        occurred_at=at or START + timedelta(seconds=position),
        aggregate=str(call_id),
        payload={
            "call_id": str(call_id),
            "status": status or statuses.get(verb, verb),
            "direction": direction,
            "from_number": from_number,
            "to_number": to_number,
            "provider": "loopback",
            "provider_call_id": None,
            **payload,
        },
        position=position,
    )


async def rows(platform: Platform, tenant_id: uuid.UUID, model: type, *where: Any) -> list[Any]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            return list(await session.scalars(select(model).where(*where)))


async def contact_row(platform: Platform, tenant_id: uuid.UUID, contact_id: uuid.UUID) -> Contact:
    found = await rows(platform, tenant_id, Contact, Contact.id == contact_id)
    assert found, contact_id
    contact: Contact = found[0]
    return contact
