"""What the offer routes answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class QueueOfferOut(BaseModel):
    """A call offered to you: what the agent page shows while it rings."""

    id: uuid.UUID
    status: str = Field(description="`pending` (accept or decline), `ringing`, `accepted`, ...")
    ring_all: bool
    created_at: datetime
    expires_at: datetime
    item_id: uuid.UUID
    queue_id: uuid.UUID
    queue_name: str
    kind: str = Field(description="`call` (the caller waits) or `callback`.")
    call_id: uuid.UUID | None
    caller_number: str
    called_number: str
    callback_number: str | None
    priority: int
    entered_at: datetime
    wait_seconds: float
    context: dict[str, Any] = Field(
        description="What the caller did before: the IVR flow, path and variables (`ivr`). "
        "The caller's contact is in the call's `links` (`GET /api/v1/calls/{id}`)."
    )


class MyQueueOfferOut(BaseModel):
    offer: QueueOfferOut | None = Field(description="Your open offer; null when there is none.")
