"""Events the calls plugin publishes (``calls.call.<verb>``), one per status transition and
per action. They share the call as aggregate, so a subscriber sees a call's story in order."""

from __future__ import annotations

import uuid

from pydantic import Field

from kernel import Event


class CallEvent(Event):
    """What every call event carries: the call as it is after the change."""

    permission = "calls:read"
    aggregate = "call_id"

    call_id: uuid.UUID
    status: str
    direction: str
    from_number: str
    to_number: str
    provider: str
    provider_call_id: str | None = None


class CallCreated(CallEvent):
    name = "calls.call.created"
    description = "A call was placed over the API (queued) or arrived from a provider."


class CallInitiated(CallEvent):
    name = "calls.call.initiated"
    description = "The provider accepted the call and is dialling."


class CallRinging(CallEvent):
    name = "calls.call.ringing"
    description = "The called party's phone is ringing."


class CallAnswered(CallEvent):
    name = "calls.call.answered"
    description = "The call was answered (status in-progress); answered_by when known."

    answered_by: str | None = None


class CallMachineDetected(CallEvent):
    name = "calls.call.machine_detected"
    description = (
        "Asynchronous answering-machine detection's verdict on an answered call: "
        "`answered_by` human, machine or unknown; `greeting_ended` once a machine's greeting "
        "is over (a message can be left), with `beep` when the provider says whether one "
        "ended it. A provider may report a machine twice: the verdict, then its greeting's end."
    )

    answered_by: str
    greeting_ended: bool = False
    beep: bool | None = None
    detection_ms: int | None = None


class CallEnded(CallEvent):
    """Base of the five final statuses."""

    hangup_cause: str | None = None
    duration_seconds: int | None = None
    reason: str | None = None
    """Set when the platform ended the call itself rather than on a provider's report:
    ``reconciled`` (its provider, asked, said it ended), ``carrier-lost``,
    ``unknown-at-provider``, ``placing-interrupted``, ``force-ended``."""


class CallCompleted(CallEnded):
    name = "calls.call.completed"
    description = "An answered call ended normally."


class CallBusy(CallEnded):
    name = "calls.call.busy"
    description = "The called party was busy."


class CallNoAnswer(CallEnded):
    name = "calls.call.no-answer"
    description = "Nobody answered before the ring timeout."


class CallFailed(CallEnded):
    name = "calls.call.failed"
    description = "The call could not be connected (invalid number, carrier or provider error)."


class CallCanceled(CallEnded):
    name = "calls.call.canceled"
    description = "The call was hung up by the platform before it was answered."


class CallUpdated(CallEvent):
    name = "calls.call.updated"
    description = "The call's disposition, notes, tags or metadata changed."

    disposition: str | None = None
    notes: str | None = None
    """The call's notes as they are now (whether or not they changed)."""
    tags: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)


class CallControlled(CallEvent):
    """Base of the live-call actions taken over the API."""

    actor: str | None = None


class CallHeld(CallControlled):
    name = "calls.call.held"
    description = "The call was put on hold."


class CallUnheld(CallControlled):
    name = "calls.call.unheld"
    description = "The call was taken off hold."


class CallMuted(CallControlled):
    name = "calls.call.muted"
    description = "The call was muted."


class CallUnmuted(CallControlled):
    name = "calls.call.unmuted"
    description = "The call was unmuted."


class CallTransferred(CallControlled):
    name = "calls.call.transferred"
    description = "The call was transferred (blind) to another number."

    target: str


class CallDigitsSent(CallControlled):
    name = "calls.call.digits-sent"
    description = "Digits (DTMF) were sent on the call; only their count is published."

    digits_count: int


class CallFailedOver(CallEvent):
    name = "calls.call.failed-over"
    description = "The primary provider was unavailable; the call went to the secondary."

    from_provider: str
    reason: str


class RecordingEvent(CallEvent):
    recording_id: uuid.UUID | None = None
    duration_seconds: int | None = None
    actor: str | None = None


class RecordingStarted(RecordingEvent):
    name = "calls.call.recording-started"
    description = "Recording of the call started."


class RecordingPaused(RecordingEvent):
    name = "calls.call.recording-paused"
    description = "Recording of the call was paused (e.g. while card details are given)."


class RecordingResumed(RecordingEvent):
    name = "calls.call.recording-resumed"
    description = "Recording of the call resumed."


class RecordingCompleted(RecordingEvent):
    name = "calls.call.recording-completed"
    description = "A recording of the call is complete; its audio can be fetched."


class CallTranscribed(CallEvent):
    name = "calls.call.transcribed"
    description = "A transcript segment of the call arrived (speaker, text, confidence)."

    segment_id: uuid.UUID
    speaker: str
    text: str
    confidence: float | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    final: bool = True


EVENT_TYPES: tuple[type[Event], ...] = (
    CallCreated,
    CallInitiated,
    CallRinging,
    CallAnswered,
    CallMachineDetected,
    CallCompleted,
    CallBusy,
    CallNoAnswer,
    CallFailed,
    CallCanceled,
    CallUpdated,
    CallHeld,
    CallUnheld,
    CallMuted,
    CallUnmuted,
    CallTransferred,
    CallDigitsSent,
    CallFailedOver,
    RecordingStarted,
    RecordingPaused,
    RecordingResumed,
    RecordingCompleted,
    CallTranscribed,
)
