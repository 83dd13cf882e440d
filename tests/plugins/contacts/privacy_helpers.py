"""What the privacy tests share: a contact with something in every table of the contacts
plugin and a call in the calls plugin, and running the erasure job on the spot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from timeline_helpers import START, add_contact, call_event

from kernel import Platform, tenant_scope
from plugins.calls import Call, TranscriptSegmentRow
from plugins.contacts.models import ConsentRecord, DncEntry, Segment, SegmentMember
from plugins.contacts.timeline.linking import link_calls

NUMBER = "+14155550123"
EMAIL = "ada@example.com"


@dataclass
class Seeded:
    contact_id: uuid.UUID
    call_id: uuid.UUID
    segment_id: uuid.UUID


async def seed_contact(platform: Platform, tenant_id: uuid.UUID, name: str = "Ada Lovelace"):
    """A contact with a number, an e-mail, a tag, a custom field, an address; a call to its
    number with notes and a transcript, on its timeline; a consent line, a do-not-call entry
    and a segment membership."""
    contact_id = await add_contact(
        platform,
        tenant_id,
        name,
        numbers=[NUMBER],
        emails=[EMAIL],
        tags=["vip"],
        company="Analytical Engines",
        custom_fields={"account": "A-42"},
        address_line1="12 St James's Square",
        city="London",
        country="GB",
        external_id="crm-42",
    )
    call_id = uuid.uuid4()
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            session.add(
                Call(
                    id=call_id,
                    direction="outbound",
                    from_number="+14155550000",
                    to_number=NUMBER,
                    provider="loopback",
                    status="completed",
                    notes="Prefers mornings",
                    disposition="callback",
                )
            )
            await session.flush()
            session.add(
                TranscriptSegmentRow(call_id=call_id, speaker="callee", text="It is Ada here")
            )
            session.add(
                ConsentRecord(
                    contact_id=contact_id,
                    number=NUMBER,
                    purpose="marketing",
                    channel="voice",
                    action="revoked",
                    source="agent",
                    evidence="said so on the phone",
                )
            )
            session.add(DncEntry(kind="number", value=NUMBER, reason="asked", source="agent"))
            segment = Segment(name="VIPs", kind="static")
            session.add(segment)
            await session.flush()
            session.add(SegmentMember(segment_id=segment.id, contact_id=contact_id))
            await session.commit()
            segment_id = segment.id
    await link_calls(
        platform,
        [
            call_event(tenant_id, "created", call_id=call_id, position=1, to_number=NUMBER),
            call_event(
                tenant_id,
                "updated",
                call_id=call_id,
                position=2,
                to_number=NUMBER,
                at=START + timedelta(minutes=1),
                disposition="callback",
                notes="Prefers mornings",
            ),
        ],
    )
    return Seeded(contact_id, call_id, segment_id)
