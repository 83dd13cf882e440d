"""The contacts plugin's tables: contacts and what hangs off them, imports, segments, the
do-not-call list and the consent ledger.

All tenant-owned: ``tenant_id`` leads every key and index, and references between the tables
include it, so no row can point at another tenant's. Numbers are stored normalised (E.164) and
indexed per tenant, because an inbound call looks its contact up by number while it rings.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base,
    TenantOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    UUIDPrimaryKeyMixin,
    tenant_foreign_key,
    utcnow,
)


class PhoneType(enum.StrEnum):
    MOBILE = "mobile"
    WORK = "work"
    HOME = "home"
    FAX = "fax"
    OTHER = "other"


class FieldType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


class ContactSettingsRow(TenantOwnedMixin, TimestampMixin, Base):
    """One row per tenant: how national numbers are read. Missing row: the defaults."""

    __tablename__ = "contacts_settings"

    default_country: Mapped[str] = mapped_column(String(2), default="US")
    """ISO 3166-1 alpha-2 region used to read numbers written without a country code."""
    compliance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The tenant's calling rules: purposes and whether they need consent (see compliance)."""


class Contact(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A person or organisation the tenant calls or is called by."""

    __tablename__ = "contacts_contacts"
    __table_args__ = (
        Index("ix_contacts_contacts_updated", "tenant_id", "updated_at", "id"),
        Index("ix_contacts_contacts_external_id", "tenant_id", "external_id"),
        Index("ix_contacts_contacts_last_call", "tenant_id", "last_call_at"),
    )

    name: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """The contact's id in the tenant's own system (CRM), to match rows on import."""
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(16), default="")
    """ISO 3166-2 subdivision code without the country (``CA`` for California, ``NSW``)."""
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    """ISO 3166-1 alpha-2; with ``region`` it decides calling windows."""
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The contact's own IANA time zone, when known: it beats anything a number implies."""
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The user who owns the relationship."""
    search_text: Mapped[str] = mapped_column(Text, default="")
    """Lower-cased name, company, numbers (digits) and e-mails, for the ``q`` filter."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Goes up with every change; the ``ETag`` that ``If-Match`` compares."""
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """Set when this contact was merged into another: kept for history, hidden from lists."""
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_call_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_call_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_disposition: Mapped[str | None] = mapped_column(String(64), nullable=True)
    call_count: Mapped[int] = mapped_column(Integer, default=0)


class ContactPhone(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One of a contact's numbers, normalised, with what the number itself implies."""

    __tablename__ = "contacts_phones"
    __table_args__ = (
        tenant_foreign_key("contact_id", "contacts_contacts", ondelete="CASCADE"),
        Index("ix_contacts_phones_number", "tenant_id", "number"),
        Index("ix_contacts_phones_contact", "tenant_id", "contact_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    number: Mapped[str] = mapped_column(String(32))
    """E.164."""
    type: Mapped[str] = mapped_column(String(16), default=PhoneType.OTHER.value)
    label: Mapped[str] = mapped_column(String(64), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    """0 is the primary number."""
    number_region: Mapped[str | None] = mapped_column(String(2), nullable=True)
    """The region (ISO alpha-2) the number belongs to."""
    time_zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Every IANA zone the number may be in (``phonenumbers``); several when ambiguous."""
    line_type: Mapped[str | None] = mapped_column(String(24), nullable=True)
    """What the numbering plan says (mobile, fixed_line, voip, toll_free, ...)."""


class ContactEmail(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    __tablename__ = "contacts_emails"
    __table_args__ = (
        tenant_foreign_key("contact_id", "contacts_contacts", ondelete="CASCADE"),
        Index("ix_contacts_emails_email", "tenant_id", "email"),
        Index("ix_contacts_emails_contact", "tenant_id", "contact_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    email: Mapped[str] = mapped_column(String(254))
    """Lower case."""
    position: Mapped[int] = mapped_column(Integer, default=0)


class ContactTag(TenantOwnedMixin, Base):
    """A contact's tags as rows, so ``tag=`` filters and segments use an index."""

    __tablename__ = "contacts_tags"
    __table_args__ = (
        tenant_foreign_key("contact_id", "contacts_contacts", ondelete="CASCADE"),
        Index("ix_contacts_tags_tag", "tenant_id", "tag", "contact_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class FieldDefinition(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A custom field of the tenant's contacts: its key, type and (for choices) values."""

    __tablename__ = "contacts_field_definitions"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(120), default="")
    type: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)


class Interaction(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A call to or from one of a contact's numbers ("contact session"), learned from the
    calls plugin's events."""

    __tablename__ = "contacts_interactions"
    __table_args__ = (
        tenant_foreign_key("contact_id", "contacts_contacts", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "contact_id", "call_id"),
        Index("ix_contacts_interactions_call", "tenant_id", "call_id"),
        Index("ix_contacts_interactions_timeline", "tenant_id", "contact_id", "started_at"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    direction: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(32))
    """The contact's number on the call."""
    status: Mapped[str] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(64), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_event_position: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The newest call event applied, so a redelivered or late older event changes nothing."""


class ImportStatus(enum.StrEnum):
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ContactImport(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """An uploaded CSV file and what importing it did, row by row counted."""

    __tablename__ = "contacts_imports"
    __table_args__ = (Index("ix_contacts_imports_created", "tenant_id", "created_at", "id"),)

    filename: Mapped[str] = mapped_column(String(255), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    encoding: Mapped[str | None] = mapped_column(String(16), nullable=True)
    delimiter: Mapped[str | None] = mapped_column(String(1), nullable=True)
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The header row as read."""
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duplicates: Mapped[str] = mapped_column(String(8), default="skip")
    """What a row matching an existing contact does: skip, update or create."""
    match_on: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """What makes a row the same contact: phone, email or external_id."""
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.UPLOADING.value)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    """Rows processed and committed: rows 1..rows_done landed (minus failed and skipped)."""
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ImportChunk(TenantOwnedMixin, Base):
    """The uploaded file in pieces, in the database, so any worker can run the import."""

    __tablename__ = "contacts_import_chunks"
    __table_args__ = (tenant_foreign_key("import_id", "contacts_imports", ondelete="CASCADE"),)

    import_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRowError(TenantOwnedMixin, Base):
    """One line of an import's error report."""

    __tablename__ = "contacts_import_errors"
    __table_args__ = (tenant_foreign_key("import_id", "contacts_imports", ondelete="CASCADE"),)

    import_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    """The row's line in the file, counting the header as row 1."""
    column: Mapped[str] = mapped_column(String(200), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))


class ImportMapping(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A saved column mapping, to import the same kind of file again without mapping it."""

    __tablename__ = "contacts_import_mappings"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duplicates: Mapped[str] = mapped_column(String(8), default="skip")
    match_on: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Segment(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A saved, named filter (``dynamic``) or an explicit list of contacts (``static``)."""

    __tablename__ = "contacts_segments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    kind: Mapped[str] = mapped_column(String(8), default="dynamic")
    filter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SegmentMember(TenantOwnedMixin, Base):
    __tablename__ = "contacts_segment_members"
    __table_args__ = (
        tenant_foreign_key("segment_id", "contacts_segments", ondelete="CASCADE"),
        tenant_foreign_key("contact_id", "contacts_contacts", ondelete="CASCADE"),
        Index("ix_contacts_segment_members_contact", "tenant_id", "contact_id"),
    )

    segment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DncEntry(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A number (or a prefix) the tenant must not call.

    ``value`` is the E.164 number or the prefix (``+1900``); an entry that outlived its
    contact's erasure keeps only ``number_hash`` (``value`` is then empty), so the person is
    still not called and nobody can read the number back.
    """

    __tablename__ = "contacts_dnc"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "value", "number_hash"),
        Index("ix_contacts_dnc_hash", "tenant_id", "number_hash"),
        # is_callable looks a number and all its prefixes up at once: value IN (...).
        Index("ix_contacts_dnc_value", "tenant_id", "value"),
        Index("ix_contacts_dnc_created", "tenant_id", "created_at", "id"),
    )

    kind: Mapped[str] = mapped_column(String(8), default="number")
    """``number`` or ``prefix``."""
    value: Mapped[str] = mapped_column(String(32), default="")
    number_hash: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(32), default="api")
    """api, import, ivr, agent, erasure..."""
    added_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class ConsentRecord(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One line of the append-only consent ledger: consent granted or revoked for a purpose
    and channel, for a number of a contact. Current consent is derived from the newest line."""

    __tablename__ = "contacts_consents"
    __table_args__ = (
        Index("ix_contacts_consents_number", "tenant_id", "number", "purpose", "recorded_at"),
        Index("ix_contacts_consents_contact", "tenant_id", "contact_id", "recorded_at"),
    )

    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    number: Mapped[str] = mapped_column(String(64), default="")
    """E.164, or ``""`` for a consent about the contact on every number; after erasure, the
    number's hash."""
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(8))
    """``granted`` or ``revoked``."""
    source: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[str] = mapped_column(String(2000), default="")
    recorded_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When the person gave or withdrew it (may be earlier than recorded)."""
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Erasure(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A request to erase a contact, and whether every plugin did its part."""

    __tablename__ = "contacts_erasures"
    __table_args__ = (Index("ix_contacts_erasures_contact", "tenant_id", "contact_id"),)

    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    pseudonym: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When a pending erasure is (re)tried: now when requested, later after a failure."""


MODELS: tuple[type[Base], ...] = (
    ContactSettingsRow,
    Contact,
    ContactPhone,
    ContactEmail,
    ContactTag,
    FieldDefinition,
    Interaction,
    ContactImport,
    ImportChunk,
    ImportRowError,
    ImportMapping,
    Segment,
    SegmentMember,
    DncEntry,
    ConsentRecord,
    Erasure,
)
