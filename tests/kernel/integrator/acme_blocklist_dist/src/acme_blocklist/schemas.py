"""Request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class BlockIn(BaseModel):
    number: str = Field(pattern=r"^\+[1-9]\d{6,14}$", description="E.164 number.")
    reason: str = Field(default="", max_length=200)


class BlockedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    reason: str
    created_at: datetime
