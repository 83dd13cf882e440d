"""Request and response bodies of the segments routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plugins.contacts.filters import ContactFilter
from plugins.contacts.schemas import ContactOut
from plugins.contacts.segments.service import MAX_MEMBERS_PER_REQUEST, SegmentKind

Name = Field(min_length=1, max_length=120)


class ContactSegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Name
    description: str = Field(default="", max_length=500)
    kind: SegmentKind = SegmentKind.DYNAMIC
    filter: ContactFilter | None = Field(
        default=None, description="Dynamic segments only; absent means every contact."
    )

    @model_validator(mode="after")
    def _filter_fits_kind(self) -> ContactSegmentCreate:
        if self.kind is SegmentKind.STATIC and self.filter is not None:
            raise ValueError("a static segment has members, not a filter")
        return self


class ContactSegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=500)
    filter: ContactFilter | None = Field(default=None, description="Dynamic segments only.")


class ContactSegmentOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    kind: SegmentKind
    filter: dict[str, Any] | None = Field(description="The criteria set; null for static.")
    version: int = Field(description="The `ETag`; send it as `If-Match` to change the segment.")
    count: int | None = Field(
        default=None, description="Contacts in the segment now (absent in lists)."
    )
    created_at: datetime
    updated_at: datetime


class SegmentMembers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_MEMBERS_PER_REQUEST)


class SegmentMembersChanged(BaseModel):
    changed: int = Field(description="Contacts added (or removed) by this request.")
    count: int = Field(description="Contacts in the segment now.")
    version: int


class SegmentPreview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: ContactFilter = Field(default_factory=ContactFilter)


class SegmentPreviewOut(BaseModel):
    count: int
    items: list[ContactOut] = Field(description="The first contacts (by id).")
