"""Events the contacts plugin publishes (catalogue in ``docs/events.md``).

Payloads carry ids, counts and field names, not a contact's personal data: events travel to
webhook endpoints and live streams, and an erased contact must not live on in them.
"""

from __future__ import annotations

import uuid

from pydantic import Field

from kernel import Event


class ContactEvent(Event):
    permission = "contacts:read"
    aggregate = "contact_id"

    contact_id: uuid.UUID
    contact_version: int = 1
    """The contact's version (ETag) after the change."""


class ContactCreated(ContactEvent):
    name = "contacts.contact.created"
    description = (
        "A contact was created through the API (imports publish `contacts.import.*` instead)."
    )

    source: str = "api"


class ContactUpdated(ContactEvent):
    name = "contacts.contact.updated"
    description = "A contact changed; `changed` names the fields."

    changed: list[str] = Field(default_factory=list)


class ContactDeleted(ContactEvent):
    name = "contacts.contact.deleted"
    description = "A contact was deleted."


class ContactMerged(ContactEvent):
    name = "contacts.contact.merged"
    description = "Another contact was merged into this one (`merged_id` is kept as history)."

    merged_id: uuid.UUID


class ContactErased(ContactEvent):
    name = "contacts.contact.erased"
    description = "A contact's personal data was erased in every plugin."

    erasure_id: uuid.UUID


class ContactCallLinked(ContactEvent):
    name = "contacts.contact.call-linked"
    description = "A call to or from one of the contact's numbers joined its timeline."

    call_id: uuid.UUID
    direction: str


class ImportEvent(Event):
    permission = "contacts:import"
    aggregate = "import_id"

    import_id: uuid.UUID
    status: str
    dry_run: bool = False
    rows_total: int | None = None
    rows_done: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0


class ImportStarted(ImportEvent):
    name = "contacts.import.started"
    description = "An import (or a dry run) started."


class ImportProgressed(ImportEvent):
    name = "contacts.import.progressed"
    description = "An import committed another batch of rows (counts so far)."


class ImportCompleted(ImportEvent):
    name = "contacts.import.completed"
    description = "An import finished; the counts are final."


class ImportFailed(ImportEvent):
    name = "contacts.import.failed"
    description = "An import stopped on an error; rows 1..rows_done landed, nothing after."

    error: str = ""


class ImportCancelled(ImportEvent):
    name = "contacts.import.cancelled"
    description = "An import was cancelled; rows 1..rows_done landed, nothing after."


class DncEvent(Event):
    permission = "contacts.dnc:read"
    aggregate = "entry_id"

    entry_id: uuid.UUID
    kind: str
    source: str


class DncAdded(DncEvent):
    name = "contacts.dnc.added"
    description = "A number or prefix was added to the do-not-call list."


class DncRemoved(DncEvent):
    name = "contacts.dnc.removed"
    description = "A number or prefix was removed from the do-not-call list."


class DncImported(Event):
    name = "contacts.dnc.imported"
    permission = "contacts.dnc:read"
    description = "A do-not-call file was imported."

    added: int
    already_listed: int
    invalid: int


class ConsentEvent(Event):
    permission = "contacts.consent:read"
    aggregate = "contact_id"

    record_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    purpose: str
    channel: str
    source: str


class ConsentGranted(ConsentEvent):
    name = "contacts.consent.granted"
    description = "Consent for a purpose and channel was recorded."


class ConsentRevoked(ConsentEvent):
    name = "contacts.consent.revoked"
    description = "Consent for a purpose and channel was revoked; it takes effect at once."


EVENT_TYPES: tuple[type[Event], ...] = (
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
    ContactMerged,
    ContactErased,
    ContactCallLinked,
    ImportStarted,
    ImportProgressed,
    ImportCompleted,
    ImportFailed,
    ImportCancelled,
    DncAdded,
    DncRemoved,
    DncImported,
    ConsentGranted,
    ConsentRevoked,
)
