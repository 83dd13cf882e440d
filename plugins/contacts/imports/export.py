"""Contacts as CSV, streamed a page at a time (keyset on ``created_at, id``), so an export
of any size holds one page in memory. The header names are the import's targets, so an
exported file imports again as it is.

Every cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR
first) gets a leading ``'`` (OWASP CSV injection guidance). E.164 numbers start with ``+``:
they get it too, which also keeps a spreadsheet from reading them as numbers and dropping
the ``+``; the import strips it again.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import and_, or_, select

from kernel import Platform, tenant_scope
from plugins.contacts.fields import definitions
from plugins.contacts.imports.csvfile import neutralise
from plugins.contacts.models import Contact
from plugins.contacts.records import emails_of, phones_of

PAGE = 500
BASE_COLUMNS = (
    "name",
    "company",
    "external_id",
    "phone",
    "other_phones",
    "emails",
    "tags",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "time_zone",
)
SegmentIds = Callable[..., Awaitable[Sequence[uuid.UUID]]]
"""``segment_contact_ids(session, segment_id, after=, limit=)``: a segment's contact ids in id
order, a page after ``after`` (the segments' public function)."""


def segment_ids() -> SegmentIds | None:
    """The segments' ``segment_contact_ids``, through the plugin's public API (None when this
    build has no segments)."""
    import plugins.contacts as public

    found: SegmentIds | None = getattr(public, "segment_contact_ids", None)
    return found


async def check_segment(platform: Platform, *, tenant_id: uuid.UUID, segment_id: uuid.UUID) -> bool:
    """Whether the tenant has the segment (asked before an export starts streaming)."""
    lookup = segment_ids()
    if lookup is None:
        return False
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            try:
                await lookup(session, segment_id, after=None, limit=1)
            except LookupError:  # SegmentNotFoundError
                return False
    return True


async def export_csv(
    platform: Platform,
    *,
    tenant_id: uuid.UUID,
    segment_id: uuid.UUID | None = None,
) -> AsyncIterator[str]:
    """The tenant's contacts (merged and erased ones left out), or a segment's members
    (paged by the segments' ``segment_contact_ids``), as CSV text."""
    lookup = segment_ids() if segment_id is not None else None
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            keys = list(await definitions(session))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [*BASE_COLUMNS, *(f"custom_fields.{k}" for k in keys), "created_at", "updated_at"]
    )
    yield "\ufeff" + _take(buffer)  # a BOM: spreadsheets then read the file as UTF-8
    after: Any = None
    while True:
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                query = select(Contact).where(
                    Contact.merged_into_id.is_(None), Contact.erased_at.is_(None)
                )
                if lookup is not None:
                    ids = list(await lookup(session, segment_id, after=after, limit=PAGE))
                    if not ids:
                        return
                    after = ids[-1]
                    query = query.where(Contact.id.in_(ids)).order_by(Contact.id)
                    contacts = list(await session.scalars(query))
                    more = len(ids) == PAGE
                else:
                    if after is not None:
                        at, last = after
                        query = query.where(
                            or_(
                                Contact.created_at > at,
                                and_(Contact.created_at == at, Contact.id > last),
                            )
                        )
                    query = query.order_by(Contact.created_at, Contact.id).limit(PAGE)
                    contacts = list(await session.scalars(query))
                    more = len(contacts) == PAGE
                    if contacts:
                        after = (contacts[-1].created_at, contacts[-1].id)
                ids = [c.id for c in contacts]
                phones = await phones_of(session, ids)
                emails = await emails_of(session, ids)
        for contact in contacts:
            numbers = [p.number for p in phones[contact.id]]
            custom = contact.custom_fields or {}
            cells = [
                contact.name,
                contact.company,
                contact.external_id or "",
                numbers[0] if numbers else "",
                "; ".join(numbers[1:]),
                "; ".join(emails[contact.id]),
                "; ".join(contact.tags or []),
                contact.address_line1,
                contact.address_line2,
                contact.city,
                contact.region,
                contact.postal_code,
                contact.country or "",
                contact.time_zone or "",
                *(_text(custom.get(k)) for k in keys),
                contact.created_at.isoformat(),
                contact.updated_at.isoformat(),
            ]
            writer.writerow([neutralise(cell) for cell in cells])
        if contacts:
            yield _take(buffer)
        if not more:
            return


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
