"""Response bodies of the privacy routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class ErasureOut(BaseModel):
    id: uuid.UUID
    contact_id: uuid.UUID
    status: str
    """``pending`` (queued, or retrying after a failure) or ``completed``."""
    pseudonym: str
    """What replaces the contact's name and numbers wherever a value must remain."""
    attempts: int
    last_error: str | None
    """Why the last attempt failed (the plugin and the kind of error; no personal data)."""
    next_attempt_at: datetime | None
    requested_by: str | None
    created_at: datetime
    completed_at: datetime | None
    href: str
