"""The public API of the ``contacts`` plugin: what other plugins (and their tests) may import.

Everything else in ``plugins.contacts`` is private. See ``docs/plugins/contacts.md``.
"""

from __future__ import annotations

from plugins.contacts.compliance.callable import CallableDecision, is_callable
from plugins.contacts.compliance.settings import consent_purposes
from plugins.contacts.filters import ContactFilter, FieldCondition
from plugins.contacts.imports.csvfile import neutralise
from plugins.contacts.lookup import (
    CardPhone,
    ConsentLine,
    ContactCard,
    DialFacts,
    consent_line,
    contact_card,
    contacts_for_number,
    dial_facts,
    live_contact_ids,
)
from plugins.contacts.permissions import (
    CONSENT_READ,
    CONSENT_WRITE,
    CONTACTS_READ,
    CONTACTS_WRITE,
    DNC_READ,
    DNC_WRITE,
    PERMISSIONS,
    SEGMENTS_READ,
)
from plugins.contacts.segments.service import (
    SegmentNotFoundError,
    count_segment,
    segment_contact_ids,
)

__all__ = [
    "CONSENT_READ",
    "CONSENT_WRITE",
    "CONTACTS_READ",
    "CONTACTS_WRITE",
    "DNC_READ",
    "DNC_WRITE",
    "PERMISSIONS",
    "SEGMENTS_READ",
    "CallableDecision",
    "CardPhone",
    "ConsentLine",
    "ContactCard",
    "ContactFilter",
    "DialFacts",
    "FieldCondition",
    "SegmentNotFoundError",
    "consent_line",
    "consent_purposes",
    "contact_card",
    "contacts_for_number",
    "count_segment",
    "dial_facts",
    "is_callable",
    "live_contact_ids",
    "neutralise",
    "segment_contact_ids",
]
