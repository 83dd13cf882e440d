"""Request and response bodies of ``/api/v1/calls``. Provider URLs and credentials never
appear in any of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plugins.calls.models import DEFAULT_MAX_CONCURRENT_CALLS
from plugins.calls.provider import (
    AnsweredBy,
    CallStatus,
    Capability,
    Direction,
    Instruction,
    MachineDetection,
    RecordingStatus,
)

NUMBER = Field(
    min_length=2,
    max_length=32,
    description="E.164 (`+` and country code), e.g. `+14155550100`.",
    examples=["+14155550100"],
)
TAGS: Any = Field(default_factory=list, max_length=20, description="Free labels (1-40 characters).")


class PlaceCallBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: str = NUMBER
    from_: str | None = Field(
        default=None,
        alias="from",
        min_length=2,
        max_length=32,
        description="Caller id in E.164; default: the organization's first number on the provider.",
    )
    provider: str | None = Field(
        default=None,
        description="Force a provider (no failover); default: the organization's primary.",
    )
    instructions: list[Instruction] = Field(
        default_factory=list,
        max_length=100,
        description="What happens when the call is answered (say, play, gather, dial, "
        "conference, record, pay, hangup); none: the line stays open until hung up.",
    )
    flow_id: uuid.UUID | None = Field(
        default=None,
        description="Run this IVR flow (its published version) when the call is answered, "
        "instead of `instructions` (needs the ivr plugin).",
    )
    record: bool = Field(default=False, description="Record the call from the answer.")
    machine_detection: bool = Field(
        default=False,
        description="Ask the provider whether a human or a machine answered, with the answer "
        "(Twilio: synchronous; superseded by `detection`).",
    )
    detection: MachineDetection = Field(
        default=MachineDetection.OFF,
        description="Asynchronous answering-machine detection: the call is connected at once "
        "and the verdict arrives later (`calls.call.machine_detected`); `detect-message-end` "
        "also waits for the end of a machine's greeting (its beep).",
    )
    timeout_seconds: int = Field(default=30, ge=5, le=120, description="Ring this long.")
    tags: list[str] = TAGS
    metadata: dict[str, Any] = Field(default_factory=dict, description="Your own key/values.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Provider-specific options (loopback: `script`, the callee's behaviour).",
    )


class CallUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=10000)
    tags: list[str] | None = Field(default=None, max_length=20)
    metadata: dict[str, Any] | None = None


class TransferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = NUMBER


class ForceEndBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None,
        max_length=200,
        description="Why (kept in the call's timeline and the audit log).",
        examples=["stuck ringing after the outage"],
    )


class DigitsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digits: str = Field(
        pattern=r"^[0-9*#wW]{1,64}$",
        description="`0-9*#`; `w` waits half a second.",
        examples=["1234#"],
    )


class CallOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    direction: Direction
    from_: str = Field(alias="from")
    to: str
    provider: str
    provider_call_id: str | None
    status: CallStatus
    created_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    hangup_cause: str | None
    answered_by: AnsweredBy | None
    disposition: str | None
    notes: str
    tags: list[str]
    metadata: dict[str, Any]
    parent_call_id: uuid.UUID | None
    on_hold: bool
    muted: bool
    recording: Literal["recording", "paused"] | None = Field(
        description="Whether a recording runs (or is paused) now."
    )
    links: dict[str, Any] = Field(
        default_factory=dict,
        description="What other plugins relate to the call, by name (`contact`: its id, "
        "name and `href`), as far as you may read it. Given by `GET` (a call, the list) "
        "and `PATCH`; `{}` in the answers to actions.",
    )


class TimelineEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    source: str
    status: CallStatus | None = Field(description="The status it moved the call to, if any.")
    recorded_at: datetime
    occurred_at: datetime | None
    detail: dict[str, Any]


class RecordingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    call_id: uuid.UUID
    status: RecordingStatus
    duration_seconds: int | None
    channels: int | None
    content_type: str | None
    created_at: datetime
    completed_at: datetime | None
    deleted_at: datetime | None


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    speaker: str
    text: str
    confidence: float | None
    start_seconds: float | None
    end_seconds: float | None
    final: bool
    occurred_at: datetime | None


class CallDetailOut(CallOut):
    timeline: list[TimelineEntryOut]
    recordings: list[RecordingOut]
    transcript: list[SegmentOut]


class NumberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = NUMBER
    provider: str = Field(description="The provider that carries the number.")
    label: str = Field(default="", max_length=120)
    route: Literal["none", "forward", "ivr", "queues"] = Field(
        default="none",
        description="Where inbound calls go: `forward` to `forward_to`, `ivr` to "
        "`ivr_flow_id` (needs the IVR plugin), `queues` to the queue whose id is in "
        "`ivr_flow_id` (needs the queues plugin), `none` (a not-in-service message).",
    )
    forward_to: str | None = Field(default=None, max_length=32)
    ivr_flow_id: uuid.UUID | None = None


class NumberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    label: str | None = Field(default=None, max_length=120)
    route: Literal["none", "forward", "ivr", "queues"] | None = None
    forward_to: str | None = Field(default=None, max_length=32)
    ivr_flow_id: uuid.UUID | None = None


class NumberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    provider: str
    label: str
    route: Literal["none", "forward", "ivr", "queues"]
    forward_to: str | None
    ivr_flow_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class CallSettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary_provider: str | None = None
    secondary_provider: str | None = None
    max_concurrent_calls: int = Field(default=DEFAULT_MAX_CONCURRENT_CALLS, ge=1, le=100000)
    calls_per_second: dict[str, Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=dict, description="Per provider; others get the provider's usual limit."
    )
    recording_retention_days: int | None = Field(
        default=None, ge=1, le=3650, description="Delete recordings after N days; none: keep."
    )
    recording_consent_message: str | None = Field(
        default=None,
        max_length=1000,
        description="Said to the callee before a recorded call goes on.",
    )


class CallSettingsOut(CallSettingsBody):
    model_config = ConfigDict(from_attributes=True)

    effective_primary_provider: str


class ProviderOut(BaseModel):
    name: str
    description: str
    capabilities: list[Capability]
    secrets: list[str]
    configured: bool
    default_calls_per_second: float
