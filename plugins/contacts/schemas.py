"""Request and response bodies of contacts, custom fields and settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plugins.contacts.models import FieldType, PhoneType

_FIELD_VALUE = str | int | float | None
"""A custom field's value as sent: text, a number, a date as ``YYYY-MM-DD``, or null to
remove it."""


class PhoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(
        max_length=64,
        description="E.164, or a national number read with the organization's default country.",
        examples=["+420601123456", "(415) 555-2671"],
    )
    type: PhoneType | None = Field(
        default=None,
        description="What the number is for; by default `mobile` for mobile "
        "numbers and `other` for the rest.",
    )
    label: str = Field(default="", max_length=64)


class ContactFields(BaseModel):
    """What a client writes: every field optional (an update changes only what it sends)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    external_id: str | None = Field(
        default=None, max_length=128, description="The contact's id in your own system (CRM)."
    )
    phones: list[PhoneIn | str] | None = Field(
        default=None,
        max_length=20,
        description="Replaces every number; the first is the primary one.",
    )
    emails: list[str] | None = Field(default=None, max_length=20)
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(
        default=None,
        max_length=16,
        description="ISO 3166-2 subdivision (`CA` or `US-CA`); with the country it decides "
        "calling windows.",
    )
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=2, description="ISO 3166-1 alpha-2.")
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description="The contact's own IANA time zone, when known (it beats what a number "
        "implies).",
    )
    tags: list[str] | None = Field(default=None, max_length=50)
    custom_fields: dict[str, _FIELD_VALUE] | None = Field(
        default=None,
        max_length=200,
        description="Values of the organization's custom fields by key; null removes one.",
    )
    owner_id: uuid.UUID | None = Field(default=None, description="The user who owns it.")


class ContactCreate(ContactFields):
    pass


class ContactPatch(ContactFields):
    pass


class PhoneOut(BaseModel):
    number: str
    type: str
    label: str
    region: str | None = Field(description="The region (ISO alpha-2) the number belongs to.")
    time_zones: list[str] = Field(
        description="Every time zone the number may be in; several when it is ambiguous."
    )
    line_type: str | None


class ContactOut(BaseModel):
    id: uuid.UUID
    name: str
    company: str
    external_id: str | None
    phones: list[PhoneOut]
    emails: list[str]
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str | None
    time_zone: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    owner_id: uuid.UUID | None
    merged_into: uuid.UUID | None = Field(
        description="Set when this contact was merged into another (kept as history)."
    )
    erased: bool
    last_call_at: datetime | None
    last_call_status: str | None
    last_disposition: str | None
    call_count: int
    version: int = Field(description="Goes up with every change; the `ETag`.")
    created_at: datetime
    updated_at: datetime


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: uuid.UUID = Field(
        description="The contact merged into this one: its numbers, e-mails, tags, missing "
        "values and timeline move here; it stays, marked as merged, for history."
    )


class FieldDefinitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["plan"])
    label: str = Field(default="", max_length=120)
    type: FieldType
    choices: list[str] = Field(default_factory=list, max_length=200)
    required: bool = False


class FieldDefinitionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, max_length=120)
    type: FieldType | None = Field(default=None, description="Cannot change once defined.")
    choices: list[str] | None = Field(default=None, max_length=200)
    required: bool | None = None


class FieldDefinitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    type: FieldType
    choices: list[str]
    required: bool
    created_at: datetime
    updated_at: datetime


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_country: str = Field(
        min_length=2,
        max_length=2,
        description="ISO 3166-1 alpha-2 country whose national numbers need no country code.",
    )


class SettingsOut(BaseModel):
    default_country: str


SortKey = Literal["updated", "created", "name"]
