"""The seat as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from plugins.campaigns.models import SeatStatus


class SeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID | None = Field(
        default=None,
        description="Seat this agent (a supervisor, `campaigns:activate`, for an agent they "
        "supervise); absent: your own agent.",
    )


class SeatOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    campaign_id: uuid.UUID
    agent_id: uuid.UUID
    status: SeatStatus = Field(
        description="joining (the agent's phone rings), ready (waiting for the next answered "
        "call), talking, wrap_up, leaving or ended."
    )
    call_id: uuid.UUID | None = Field(description="The agent's leg.")
    attempt_id: uuid.UUID | None = Field(
        description="The call the agent talks (or last talked) to."
    )
    joined_at: datetime
    ready_since: datetime | None
    wrap_up_until: datetime | None
    calls_taken: int
    ended_at: datetime | None
    end_reason: str | None
