"""Request and response bodies of ``/api/v1/webhooks``. Secrets appear in two answers only:
``EndpointCreated`` and ``SecretRotated``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kernel import event_pattern

URL_FIELD = Field(
    min_length=1,
    max_length=2048,
    description="Where deliveries are POSTed: https:// (http:// only to networks the "
    "operator allows).",
    examples=["https://hooks.example.com/kraliki"],
)
PATTERNS_FIELD = Field(
    min_length=1,
    max_length=50,
    description="Event name patterns; `*` matches any run of characters (`calls.call.*`, `*`).",
    examples=[["webhooks.endpoint.*"]],
)


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = URL_FIELD
    description: str = Field(default="", max_length=500)
    event_types: list[str] = PATTERNS_FIELD

    @field_validator("event_types")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return [event_pattern(p) for p in value]


class EndpointUpdate(BaseModel):
    """Only the fields given change. ``enabled: true`` does what ``POST .../enable`` does."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    enabled: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [event_pattern(p) for p in value]


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None
    secret_version: int
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(
        description="The signing secret (`whsec_...`). Shown only now: store it with the receiver."
    )


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_hours: float | None = Field(
        default=None,
        ge=0,
        le=168,
        description="How long the current secret keeps signing alongside the new one "
        "(default `KRALIKI_WEBHOOKS_SECRET_GRACE_HOURS`; 0 revokes it at once).",
    )


class SecretRotated(BaseModel):
    endpoint: EndpointOut
    secret: str = Field(description="The new signing secret. Shown only now.")


class EventTypeOut(BaseModel):
    name: str
    description: str
    version: int


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    latency_ms: int
    response_excerpt: str = Field(description="The first KiB of the receiver's answer.")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: Literal["pending", "failed", "succeeded", "dead"]
    attempt_count: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    finished_at: datetime | None
    created_at: datetime


class DeliveryDetail(DeliveryOut):
    envelope: dict[str, Any] = Field(description="The body sent (the same on every attempt).")
    attempts: list[AttemptOut]


class TestResult(BaseModel):
    __test__ = False  # not a pytest class

    succeeded: bool
    delivery: DeliveryDetail


class BulkReplay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint_id: uuid.UUID
    status: Literal["dead", "failed"] = "dead"
    since: datetime | None = Field(
        default=None, description="Only deliveries created at or after this time."
    )


class BulkReplayed(BaseModel):
    replayed: int
