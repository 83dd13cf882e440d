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
    ValidationInfo,
    field_validator,
    model_validator,
)

from plugins.calls import (
    DIAL_STATUSES,
    AnsweredBy,
    CallProgress,
    CallStatus,
    CaptureField,
    CaptureStatus,
    Direction,
    InstructionsNeeded,
    MachineDetected,
    NormalizedEvent,
    PaymentCapture,
    PaymentProgress,
    RecordingProgress,
    RecordingStatus,
    TranscriptSegment,
)

CALL_ID = r"^LB(?:[0-9a-f]{16})?[0-9a-f]{32}$"
"""``LB``, the carrier's instance (calls placed before carriers were named have none), and
the call's own 32 hex digits."""
RECORDING_ID = r"^RE[0-9a-f]{32}$"
SESSION_ID = r"^LC[0-9a-f]{32}$"
"""An agent-assisted capture session: ``LC`` and 32 hex digits."""
CONFIRMATION = r"^lbpay_[0-9a-f]{24}$"
"""The simulated connector's charge."""


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


def payment_capture(
    result: PaymentResult, confirmation: str | None, error: str | None
) -> PaymentCapture:
    return PaymentCapture(
        status=PAYMENT_STATUSES[result], result=result, confirmation=confirmation, error=error
    )


def mask(field: CaptureField | None, keyed: str) -> str | None:
    """What the platform may see of what was keyed into ``field``: one ``x`` per digit, but
    for a card number's last four digits once twelve or more were keyed (None: nothing
    keyed). ``keyed`` may be digits or a mask already (``x``); anything else is dropped."""
    marks = [c for c in keyed if c.isdigit() or c in "xX"]
    if not marks:
        return None
    shown = ""
    if field is CaptureField.CARD_NUMBER and len(marks) >= 12:
        tail = "".join(marks[-4:])
        shown = tail if tail.isdigit() else ""
    return "x" * (len(marks) - len(shown)) + shown


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
    payment_confirmation: str | None = Field(default=None, pattern=CONFIRMATION)
    """The simulated connector's charge (a success)."""
    payment_error: str | None = Field(default=None, pattern=r"^[a-z_]{1,64}$")

    def event(self) -> InstructionsNeeded:
        if self.result == "payment":
            return InstructionsNeeded(
                provider_call_id=self.call_id,
                reason="gathered",
                payment=payment_capture(
                    self.payment_result or "internal-error",
                    self.payment_confirmation,
                    self.payment_error,
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


class PaymentBody(_Body):
    """An agent-assisted capture session moved on: the callee is keying ``field``
    (``partial``), finished keying it, or the session ended (``payment_result``: the
    simulated connector's outcome, or the callee's star). Never card data: a count of
    ``digits`` and a ``masked`` form, masked again as it is read (:func:`mask`)."""

    kind: Literal["payment"] = "payment"
    session_id: str = Field(pattern=SESSION_ID)
    field: CaptureField | None = None
    """The field the callee was asked for (None: the connector's outcome)."""
    partial: bool = False
    digits: int = Field(default=0, ge=0, le=64)
    """How many digits were keyed into ``field``."""
    masked: str | None = Field(default=None, max_length=64)
    card_type: Literal["visa", "mastercard"] | None = None
    """The card keyed into ``payment-card-number``, once its first digits tell."""
    required: tuple[CaptureField, ...] = ()
    """The fields the session still needs, in order."""
    error: str | None = Field(default=None, pattern=r"^[a-z-]{1,64}$")
    """Why the carrier refused what was keyed (its test cards are always valid: only a
    delivery crafted by hand has one)."""
    payment_result: PaymentResult | None = None
    payment_confirmation: str | None = Field(default=None, pattern=CONFIRMATION)
    payment_error: str | None = Field(default=None, pattern=r"^[a-z_]{1,64}$")

    @field_validator("masked")
    @classmethod
    def _masked(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Whatever arrives is kept and reported masked: at most a card number's last four."""
        return None if value is None else mask(info.data.get("field"), value)

    @model_validator(mode="after")
    def _counted(self) -> PaymentBody:
        if self.masked is not None and len(self.masked) != self.digits:
            raise ValueError("masked must have one character per digit keyed")
        return self

    def event(self) -> PaymentProgress:
        capture = None
        if self.payment_result is not None:
            capture = payment_capture(
                self.payment_result, self.payment_confirmation, self.payment_error
            )
        return PaymentProgress(
            provider_call_id=self.call_id,
            session_id=self.session_id,
            field=self.field,
            partial=self.partial,
            digits=self.digits,
            masked=self.masked,
            card_type=self.card_type,
            required=tuple(field.value for field in self.required),
            error=self.error,
            capture=capture,
            occurred_at=self.occurred_at,
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
    StatusBody
    | VoiceBody
    | AmdBody
    | GatherBody
    | PaymentBody
    | DialBody
    | RecordingBody
    | TranscriptionBody,
    Field(discriminator="kind"),
]
KINDS = ("status", "voice", "amd", "gather", "payment", "dial", "recording", "transcription")
_ADAPTER: TypeAdapter[Body] = TypeAdapter(Body)


class PayloadError(ValueError):
    """The body is not a loopback webhook of the kind its URL says."""


def parse_body(kind: str, raw: bytes) -> tuple[Body, dict[str, Any]]:
    """The validated body of a ``kind`` webhook and its JSON as kept (nothing to redact:
    loopback sends no card data, only masks and the simulated connector's outcome, and no
    credentials; a ``payment`` body's mask is masked again as it is read)."""
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
