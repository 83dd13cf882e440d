"""Request and response bodies of the compliance routes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from plugins.contacts.compliance.settings import ComplianceSettings

CHANNEL_OR_ALL = Literal["voice_call", "prerecorded_voice", "text", "all"]
ACTION = Literal["granted", "revoked"]
CONSENT_SOURCE = Literal["web_form", "ivr", "agent", "import", "api"]
PURPOSE_OR_ALL = r"^(all|[a-z][a-z0-9_]{0,31})$"


class DncCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["number", "prefix"] = "number"
    value: str = Field(
        min_length=1,
        max_length=64,
        description="A number (national numbers are read with the organization's default "
        "country) or, for `prefix`, `+` and digits (`+1900`).",
    )
    reason: str = Field(default="", max_length=200)
    source: Literal["api", "agent"] = Field(
        default="api", description="`agent` when a person asked an agent not to be called."
    )
    expires_on: date | None = Field(
        default=None, description="The day the entry stops applying (UTC); none: for good."
    )


class DncOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    value: str
    """Empty for an erased contact's number (kept only as its hash)."""
    erased: bool = False
    reason: str
    source: str
    added_by: str | None
    expires_on: date | None
    created_at: datetime
    updated_at: datetime


class InvalidRowOut(BaseModel):
    row: int
    reason: str


class DncImportOut(BaseModel):
    rows: int = Field(description="Records read (with the header, if any).")
    added: int
    already_listed: int
    invalid: int
    invalid_rows: list[InvalidRowOut] = Field(
        description="The first 1000 invalid rows, with why (`invalid` counts them all)."
    )
    encoding: str
    delimiter: str | None


class DecisionOut(BaseModel):
    """What :func:`plugins.contacts.is_callable` decided (``CallableDecision.as_record``)."""

    allowed: bool
    rule: str
    reason: str
    purpose: str
    channel: str
    checked_at: datetime
    dnc_entry_id: uuid.UUID | None
    consent_record_id: uuid.UUID | None
    contact_id: uuid.UUID | None


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(
        pattern=PURPOSE_OR_ALL,
        description="One of the organization's purposes; `all` only to revoke.",
        examples=["marketing"],
    )
    channel: CHANNEL_OR_ALL = Field(examples=["voice_call"])
    action: ACTION = Field(examples=["granted"])
    source: CONSENT_SOURCE = Field(examples=["agent"])
    evidence: str = Field(
        default="",
        max_length=2000,
        description="How it was given or withdrawn: free text or a URL (form, recording).",
    )
    number: str | None = Field(
        default=None,
        max_length=64,
        description="One of the contact's numbers; leave out for all of them.",
    )
    occurred_at: datetime | None = Field(
        default=None, description="When the person said so (default: now); not in the future."
    )


class NumberConsentCreate(ConsentCreate):
    number: str = Field(min_length=1, max_length=64, description="The number it is about.")


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contact_id: uuid.UUID | None
    number: str
    """E.164, empty for all the contact's numbers; an erased number shows as its hash."""
    purpose: str
    channel: str
    action: str
    source: str
    evidence: str
    recorded_by: str | None
    occurred_at: datetime
    recorded_at: datetime


class ConsentStateOut(BaseModel):
    purpose: str
    channel: str
    required: bool
    state: Literal["granted", "revoked", "none"]
    opted_out: bool
    record_id: uuid.UUID | None
    occurred_at: datetime | None


class ConsentStateList(BaseModel):
    contact_id: uuid.UUID
    number: str | None
    states: list[ConsentStateOut]


class OptOutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: CONSENT_SOURCE = "agent"
    evidence: str = Field(default="", max_length=2000)
    occurred_at: datetime | None = None
    add_to_dnc: bool = Field(default=True, description="Also list every number of the contact.")


class OptOutOut(BaseModel):
    consent: ConsentOut
    dnc_entries: list[DncOut]


class ComplianceSettingsBody(ComplianceSettings):
    """The organization's purposes and where each needs consent."""
