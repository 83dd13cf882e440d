"""Request and response bodies of loopback's routes."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

E164 = r"^\+[1-9][0-9]{1,14}$"


class InboundCallIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: str = Field(pattern=E164, description="The organization's loopback number dialled.")
    from_: str = Field(
        alias="from",
        default="+14155550100",
        pattern=E164,
        description="The caller's number (caller id).",
    )
    script: list[Any] = Field(
        default_factory=list,
        max_length=200,
        description="What the caller does once the platform answers, in order: "
        '`{"step": "wait", "seconds": 5}`, `{"step": "press", "digits": "2"}`, '
        '`{"step": "say", "text": "..."}`, `{"step": "pay", "card": "visa"}` (a test card '
        "into the platform's payment capture), "
        '`{"step": "card", "card": "mastercard"}` (the test card keyed when an agent asks '
        "for card details; default visa), "
        '`"hangup"` (last; `{"hangup_after": 30}` waits, '
        "then hangs up). Empty: the caller stays on the line, silent, until the platform "
        "hangs up.",
    )


class InboundCallOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    call_id: uuid.UUID | None = Field(
        description="The platform's call (`GET /api/v1/calls/{id}`); null if the platform did "
        "not hear of it in time (its webhooks were not reached)."
    )
    provider_call_id: str = Field(description="The loopback carrier's id of the call.")
    to: str
    from_: str = Field(alias="from", serialization_alias="from")
