"""Normalized webhook events to and from JSON, so an accepted webhook keeps what it meant and
can be applied again later (a report about a call the platform did not know yet)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from plugins.calls.provider import (
    AnsweredBy,
    CallProgress,
    CallStatus,
    CaptureField,
    Direction,
    InstructionsNeeded,
    MachineDetected,
    NormalizedEvent,
    PaymentCapture,
    PaymentProgress,
    RecordingProgress,
    TranscriptSegment,
)

TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        CallProgress,
        InstructionsNeeded,
        RecordingProgress,
        TranscriptSegment,
        MachineDetected,
        PaymentProgress,
    )
}
ENUMS: dict[str, type[enum.Enum]] = {
    "status": CallStatus,
    "dial_status": CallStatus,
    "direction": Direction,
    "answered_by": AnsweredBy,
    "field": CaptureField,
}


def _plain(value: Any) -> Any:
    if isinstance(value, PaymentCapture):  # kept without the token (it can pay again)
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)} | {"token": None}
    if isinstance(value, BaseModel):  # an instruction a command-style provider carries on
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def dump_events(events: Sequence[NormalizedEvent]) -> list[dict[str, Any]]:
    return [
        {
            "type": type(event).__name__,
            **{f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)},
        }
        for event in events
    ]


def load_events(raw: Sequence[dict[str, Any]]) -> list[NormalizedEvent]:
    events: list[NormalizedEvent] = []
    for item in raw:
        fields = dict(item)
        cls = TYPES[fields.pop("type")]
        for name, value in list(fields.items()):
            if value is None:
                continue
            if name in ENUMS and cls is not RecordingProgress:
                fields[name] = ENUMS[name](value)
            elif name == "occurred_at":
                fields[name] = datetime.fromisoformat(value)
            elif name in ("instructions", "required"):
                fields[name] = tuple(value)
            elif name in ("payment", "capture"):
                fields[name] = PaymentCapture(**value)
        events.append(cls(**fields))
    return events
