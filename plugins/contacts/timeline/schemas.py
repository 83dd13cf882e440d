"""Response bodies of the timeline and the number lookup."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from plugins.contacts.schemas import ContactOut


class ContactTimelineEntryOut(BaseModel):
    """One call on a contact's timeline."""

    call_id: uuid.UUID
    direction: str
    number: str
    """The contact's number on the call (a pseudonym once the contact was erased)."""
    status: str
    """The call's status: its outcome once ended (``completed``, ``busy``, ``no-answer``...)."""
    disposition: str | None
    notes: str
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: int | None
    href: str = Field(description="The call in the calls API.")


class LookupOut(BaseModel):
    number: str
    """The number as looked up, in E.164."""
    items: list[ContactOut]
