"""The JSON bodies of loopback's webhooks, one model per kind, and their normalized events.

The carrier builds these models and sends ``model_dump_json()``; the provider validates what
arrives against the same models. Every body names its ``kind``, which must equal the URL's
last segment: the signature covers the body, not the URL, so a signed status report cannot
be replayed as a gather result.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from plugins.calls import (
    DIAL_STATUSES,
    AnsweredBy,
    CallProgress,
    CallStatus,
    CaptureStatus,
    Direction,
    InstructionsNeeded,
    MachineDetected,
    NormalizedEvent,
    PaymentCapture,
    RecordingProgress,
    RecordingStatus,
    TranscriptSegment,
)

CALL_ID = r"^LB(?:[0-9a-f]{16})?[0-9a-f]{32}$"
"""``LB``, the carrier's instance (calls placed before carriers were named have none), and
the call's own 32 hex digits."""
RECORDING_ID = r"^RE[0-9a-f]{32}$"


class _Body(BaseModel):
    # Unknown fields are ignored, as a receiver of a real carrier's webhooks must.
    model_config = ConfigDict(frozen=True, extra="ignore")

    call_id: str = Field(pattern=CALL_ID)
    sequence: int = Field(ge=1)
    """Per call, increasing across every kind of webhook the call sends."""
    occurred_at: AwareDatetime


class StatusBody(_Body):
    kind: Literal["status"] = "status"
    status: CallStatus
    direction: Direction
    from_number: str
    to_number: str
    answered_by: AnsweredBy | None = None
    hangup_cause: str | None = Field(default=None, max_length=64)
    duration_seconds: int | None = Field(default=None, ge=0)
    """Simulated seconds from the answer to the end (terminal reports of answered calls)."""

    def event(self) -> CallProgress:
        return CallProgress(
            provider_call_id=self.call_id,
            status=self.status,
            occurred_at=self.occurred_at,
            sequence=self.sequence,
            direction=self.direction,
            from_number=self.from_number,
            to_number=self.to_number,
            answered_by=self.answered_by,
            hangup_cause=self.hangup_cause,
            duration_seconds=self.duration_seconds,
        )


class VoiceBody(_Body):
    """The call was answered (or arrived): the answer holds the instructions to run."""

    kind: Literal["voice"] = "voice"
    reason: Literal["answered", "inbound"]
    direction: Direction
    from_number: str
    to_number: str
    answered_by: AnsweredBy | None = None

    def event(self) -> InstructionsNeeded:
        return InstructionsNeeded(
            provider_call_id=self.call_id,
            reason=self.reason,
            direction=self.direction,
            from_number=self.from_number,
            to_number=self.to_number,
        )


class AmdBody(_Body):
    """Asynchronous answering-machine detection's verdict (a call placed with
    ``detection``): who answered and, for a machine with message end, that its greeting
    is over and whether a beep ended it."""

    kind: Literal["amd"] = "amd"
    answered_by: AnsweredBy
    greeting_ended: bool = False
    beep: bool | None = None
    detection_ms: int | None = Field(default=None, ge=0)

    def event(self) -> MachineDetected:
        return MachineDetected(
            provider_call_id=self.call_id,
            answered_by=self.answered_by,
            greeting_ended=self.greeting_ended,
            beep=self.beep,
            detection_ms=self.detection_ms,
            occurred_at=self.occurred_at,
        )


PaymentResult = Literal[
    "success",
    "payment-connector-error",
    "caller-interrupted-with-star",
    "input-timeout",
    "internal-error",
]
PAYMENT_STATUSES: dict[str, CaptureStatus] = {
    "success": "succeeded",
    "payment-connector-error": "failed",
    "caller-interrupted-with-star": "cancelled",
    "input-timeout": "failed",
    "internal-error": "failed",
}


class GatherBody(_Body):
    """A gather ended: with the digits keyed in, with what the callee said (``speech``, a
    gather that listens for it), or with nothing (``no-input``: it timed out, or only the
    finish key was pressed)."""

    kind: Literal["gather"] = "gather"
    result: Literal["digits", "speech", "no-input", "payment"]
    digits: str = Field(default="", pattern=r"^[0-9*#]{0,64}$")
    speech: str | None = Field(default=None, min_length=1, max_length=4000)
    confidence: float | None = Field(default=None, ge=0, le=1)
    """The recognizer's confidence in ``speech`` (loopback's: 1.0)."""
    payment_result: PaymentResult | None = None
    """``payment``: how the capture ended (Twilio's ``<Pay>`` results)."""
    payment_confirmation: str | None = Field(default=None, pattern=r"^lbpay_[0-9a-f]{24}$")
    """The simulated connector's charge (a success)."""
    payment_error: str | None = Field(default=None, pattern=r"^[a-z_]{1,64}$")

    def event(self) -> InstructionsNeeded:
        if self.result == "payment":
            result = self.payment_result or "internal-error"
            return InstructionsNeeded(
                provider_call_id=self.call_id,
                reason="gathered",
                payment=PaymentCapture(
                    status=PAYMENT_STATUSES[result],
                    result=result,
                    confirmation=self.payment_confirmation,
                    error=self.payment_error,
                ),
            )
        said = self.result == "speech"
        return InstructionsNeeded(
            provider_call_id=self.call_id,
            reason="gathered",
            digits=self.digits if self.result == "digits" else None,
            speech=self.speech if said else None,
            confidence=self.confidence if said and self.speech else None,
        )


class DialBody(_Body):
    """A ``dial`` with ``report_outcome`` ended: ``status`` says how the dialled leg did
    (``completed``: it answered and the conversation is over; ``busy``, ``no-answer``,
    ``failed``, ``canceled``: it never answered). The answer holds the instructions to run
    instead of what was left."""

    kind: Literal["dial"] = "dial"
    status: CallStatus
    duration_seconds: int = Field(default=0, ge=0)
    """Simulated seconds the dialled leg talked, from its answer (0 when it did not answer)."""

    @field_validator("status")
    @classmethod
    def _an_ending(cls, status: CallStatus) -> CallStatus:
        if status not in DIAL_STATUSES:
            raise ValueError(f"a dialled leg cannot end as {status.value!r}")
        return status

    def event(self) -> InstructionsNeeded:
        return InstructionsNeeded(
            provider_call_id=self.call_id, reason="dialed", dial_status=self.status
        )


class RecordingBody(_Body):
    kind: Literal["recording"] = "recording"
    recording_id: str = Field(pattern=RECORDING_ID)
    status: RecordingStatus
    duration_seconds: int | None = Field(default=None, ge=0)
    channels: int | None = Field(default=None, ge=1, le=2)
    media_ref: str | None = Field(default=None, max_length=2048)
    content_type: str | None = None

    def event(self) -> RecordingProgress:
        return RecordingProgress(
            provider_call_id=self.call_id,
            provider_recording_id=self.recording_id,
            status=self.status,
            occurred_at=self.occurred_at,
            duration_seconds=self.duration_seconds,
            channels=self.channels,
            media_ref=self.media_ref,
            content_type=self.content_type,
        )


class TranscriptionBody(_Body):
    kind: Literal["transcription"] = "transcription"
    text: str = Field(min_length=1, max_length=4000)
    speaker: Literal["caller", "callee"]
    confidence: float | None = Field(default=None, ge=0, le=1)
    start_seconds: float | None = Field(default=None, ge=0)
    end_seconds: float | None = Field(default=None, ge=0)
    final: bool = True

    def event(self) -> TranscriptSegment:
        return TranscriptSegment(
            provider_call_id=self.call_id,
            text=self.text,
            speaker=self.speaker,
            confidence=self.confidence,
            start_seconds=self.start_seconds,
            end_seconds=self.end_seconds,
            final=self.final,
            sequence=self.sequence,
            occurred_at=self.occurred_at,
        )


Body = Annotated[
    StatusBody | VoiceBody | AmdBody | GatherBody | DialBody | RecordingBody | TranscriptionBody,
    Field(discriminator="kind"),
]
KINDS = ("status", "voice", "amd", "gather", "dial", "recording", "transcription")
_ADAPTER: TypeAdapter[Body] = TypeAdapter(Body)


class PayloadError(ValueError):
    """The body is not a loopback webhook of the kind its URL says."""


def parse_body(kind: str, raw: bytes) -> tuple[Body, dict[str, Any]]:
    """The validated body of a ``kind`` webhook and its JSON as kept (nothing to redact:
    loopback sends no card data, only the simulated connector's outcome, and no
    credentials)."""
    if kind not in KINDS:
        raise PayloadError(f"loopback sends no {kind!r} webhooks")
    try:
        body = _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise PayloadError(f"not a loopback {kind} webhook: {problems}") from None
    if body.kind != kind:
        raise PayloadError(f"a {body.kind} body sent to the {kind} webhook")
    return body, body.model_dump(mode="json")


def events_of(body: Body) -> list[NormalizedEvent]:
    return [body.event()]


def body_bytes(body: Body) -> bytes:
    return body.model_dump_json().encode()
