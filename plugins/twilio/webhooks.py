"""Twilio's webhooks (form posts) as normalized events.

Kinds, the last segment of ``/webhooks/twilio/<tenant id>/<kind>``: ``voice`` (the call was
answered, or arrived: what now?), ``status`` (call progress), ``amd`` (asynchronous
answering-machine detection's verdict: ``AsyncAmdStatusCallback``), ``gather`` (a ``<Gather>``
with keys or speech, a ``<Record>`` or a ``<Pay>`` finished, or the dialled leg of a
``<Dial>`` that reports its outcome ended: ``DialCallStatus``), ``recording``, ``transcription``
(real-time transcription) and ``payment`` (a secure capture's progress: a ``<Pay>`` verb's or an
agent-assisted session's).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from plugins.calls import (
    AnsweredBy,
    CallProgress,
    CallStatus,
    CaptureField,
    CaptureStatus,
    Direction,
    InstructionsNeeded,
    MachineDetected,
    NormalizedEvent,
    ParsedWebhook,
    PaymentCapture,
    PaymentProgress,
    RecordingProgress,
    RecordingStatus,
    TranscriptSegment,
    WebhookMalformed,
    WebhookRequest,
)

Form = Mapping[str, str]

STATUSES = {status.value: status for status in CallStatus}
"""Twilio's CallStatus values are the platform's, one for one."""
ANSWERED_BY = {
    "human": AnsweredBy.HUMAN,
    "machine_start": AnsweredBy.MACHINE,
    "machine_end_beep": AnsweredBy.MACHINE,
    "machine_end_silence": AnsweredBy.MACHINE,
    "machine_end_other": AnsweredBy.MACHINE,
    "fax": AnsweredBy.MACHINE,
    "unknown": AnsweredBy.UNKNOWN,
}
GREETING_ENDS = {"machine_end_beep": True, "machine_end_silence": False, "machine_end_other": None}
"""``AnsweredBy`` values of ``DetectMessageEnd`` that come at the end of a machine's greeting,
and whether a beep ended it (``machine_end_other``: Twilio does not say)."""
RECORDING_STATUSES: dict[str, RecordingStatus] = {
    "in-progress": "in-progress",
    "paused": "paused",
    "completed": "completed",
    "absent": "failed",  # nothing was recorded (silence)
    "failed": "failed",
    "deleted": "deleted",
}
SPEAKERS = {"inbound_track": "customer", "outbound_track": "agent"}
"""The inbound track is what the far end says; the outbound one what the platform's side
(an agent, a prompt) sends it."""
REDACTED = frozenset(
    {"PaymentCardNumber", "ExpirationDate", "SecurityCode", "PaymentCardPostalCode", "PaymentToken"}
)
"""``<Pay>`` fields kept out of stored payloads (Twilio masks the card number; drop it all)."""
PAY_RESULTS: dict[str, CaptureStatus] = {
    "success": "succeeded",
    "too-many-failed-attempts": "failed",
    "payment-connector-error": "failed",
    "validation-error": "failed",
    "input-timeout": "failed",
    "internal-error": "failed",
    "caller-interrupted-with-star": "cancelled",
    "caller-hung-up": "cancelled",
}
"""``Result`` of a ``<Pay>`` action -> how the capture ended."""
DIGITS = re.compile(r"^[0-9*#]+$")
DIAL_CALL_STATUSES = {
    "completed": CallStatus.COMPLETED,
    "answered": CallStatus.COMPLETED,  # the callee answered; the caller hung up first
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.CANCELED,
}
"""``DialCallStatus`` (a ``<Dial action>`` request) -> how the dialled leg ended."""


def parse_webhook(webhook: WebhookRequest, *, recording_type: str) -> ParsedWebhook:
    """Normalize a verified Twilio webhook (:class:`WebhookMalformed` when it is not one)."""
    parser = _PARSERS.get(webhook.kind)
    if parser is None:
        raise WebhookMalformed(f"unknown Twilio callback kind {webhook.kind!r}")
    form: Form = webhook.form if webhook.form is not None else webhook.query
    call_sid = form.get("CallSid", "")
    if not call_sid:
        raise WebhookMalformed("the callback has no CallSid")
    events, identity = parser(form, call_sid, recording_type)
    return ParsedWebhook(
        dedupe_key=dedupe_key(webhook.kind, call_sid, form, identity, webhook.headers),
        events=events,
        payload={k: v for k, v in form.items() if k not in REDACTED},
    )


def dedupe_key(
    kind: str,
    call_sid: str,
    form: Form,
    identity: tuple[str, ...] | None,
    headers: Mapping[str, str],
) -> str:
    """Signed fields that name the callback when there are some (a redelivery repeats them,
    distinct callbacks differ; a replay with a fresh ``I-Twilio-Idempotency-Token``, which
    the signature does not cover, is still a duplicate); else Twilio's idempotency token;
    else a digest of the whole form."""
    if identity is not None:
        return ":".join(("twilio", kind, call_sid, *identity))
    token = headers.get("i-twilio-idempotency-token", "").strip()
    if token:
        return f"twilio:{kind}:{call_sid}:token:{token}"
    digest = hashlib.sha256(json.dumps(sorted(form.items())).encode()).hexdigest()[:32]
    return f"twilio:{kind}:{call_sid}:form:{digest}"


Parsed = tuple[tuple[NormalizedEvent, ...], tuple[str, ...] | None]


def _voice(form: Form, call_sid: str, _: str) -> Parsed:
    progress = _progress(form, call_sid)
    inbound = progress.direction is Direction.INBOUND
    needed = InstructionsNeeded(
        provider_call_id=call_sid,
        reason="inbound" if inbound else "answered",
        direction=progress.direction,
        from_number=progress.from_number,
        to_number=progress.to_number,
    )
    if inbound and progress.status is CallStatus.RINGING:
        return (progress, _answering(progress), needed), None
    return (progress, needed), None


def _answering(ringing: CallProgress) -> CallProgress:
    """Twilio answers an incoming call to run the TwiML its voice request gets (the platform
    never answers ``<Reject>``), and tells no status callback so: a number's "call status
    changes" callback hears only the end. The call is in progress from this request on."""
    return replace(ringing, status=CallStatus.IN_PROGRESS, sequence=None)


def _status(form: Form, call_sid: str, _: str) -> Parsed:
    progress = _progress(form, call_sid)
    if progress.sequence is None:
        return (progress,), None
    return (progress,), (progress.status.value, str(progress.sequence))


def _gather(form: Form, call_sid: str, _: str) -> Parsed:
    """Keys (``Digits``) or speech (``SpeechResult`` with its ``Confidence``); Twilio
    sends one or the other, or neither when nothing came in. With ``DialCallStatus``, a
    ``<Dial>``'s action: how the dialled leg ended."""
    if "DialCallStatus" in form:
        return _dialed(form, call_sid)
    if form.get("Result") in PAY_RESULTS:
        return _paid(form, call_sid)
    digits = form.get("Digits", "")
    speech = form.get("SpeechResult", "").strip()
    needed = InstructionsNeeded(
        provider_call_id=call_sid,
        reason="gathered",
        digits=digits if DIGITS.match(digits) else None,  # not "hangup" (after <Record>)
        speech=speech or None,
        confidence=_confidence(form.get("Confidence")) if speech else None,
    )
    return (needed,), None


def _paid(form: Form, call_sid: str) -> Parsed:
    """A ``<Pay>`` action: its ``Result``, the connector's confirmation or token and error;
    the card fields Twilio sends (masked) are never read."""
    result = form["Result"]
    capture = PaymentCapture(
        status=PAY_RESULTS[result],
        result=result,
        confirmation=form.get("PaymentConfirmationCode") or None,
        token=form.get("PaymentToken") or None,
        error=(form.get("PaymentError") or form.get("ConnectorError") or None),
    )
    return (
        InstructionsNeeded(provider_call_id=call_sid, reason="gathered", payment=capture),
    ), None


def _dialed(form: Form, call_sid: str) -> Parsed:
    """A ``<Dial action>`` request. Its identity is the dialled leg (``DialCallSid``, signed)
    and how it ended, so a redelivery is a duplicate; without a ``DialCallSid`` (no leg was
    created) Twilio's idempotency token tells deliveries apart, as two failed dials of one
    call would otherwise look the same."""
    raw = form["DialCallStatus"]
    status = DIAL_CALL_STATUSES.get(raw)
    if status is None:
        raise WebhookMalformed(f"unknown DialCallStatus {raw!r}")
    needed = InstructionsNeeded(provider_call_id=call_sid, reason="dialed", dial_status=status)
    dial_sid = form.get("DialCallSid", "")
    return (needed,), ("dial", dial_sid, raw) if dial_sid else None


def _recording(form: Form, call_sid: str, recording_type: str) -> Parsed:
    recording_sid = form.get("RecordingSid", "")
    raw = form.get("RecordingStatus", "")
    status = RECORDING_STATUSES.get(raw)
    if not recording_sid or status is None:
        raise WebhookMalformed(f"recording callback without a known status ({raw!r}) or sid")
    duration = _int(form, "RecordingDuration")
    progress = RecordingProgress(
        provider_call_id=call_sid,
        provider_recording_id=recording_sid,
        status=status,
        occurred_at=_time(form.get("Timestamp")),
        duration_seconds=duration if duration is None or duration >= 0 else None,
        channels=_int(form, "RecordingChannels"),
        media_ref=form.get("RecordingUrl") or None,
        content_type=recording_type,
    )
    return (progress,), (recording_sid, raw)


def _transcription(form: Form, call_sid: str, _: str) -> Parsed:
    event = form.get("TranscriptionEvent", "")
    sequence = _int(form, "SequenceId")
    identity = (form.get("TranscriptionSid", ""), event, str(sequence))
    if event != "transcription-content":
        return (), identity  # started, stopped, error: kept, nothing to add to a transcript
    try:
        data = json.loads(form.get("TranscriptionData", ""))
        text = str(data["transcript"]).strip()
        confidence = data.get("confidence")
        confidence = float(confidence) if confidence is not None else None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise WebhookMalformed("TranscriptionData is not Twilio's JSON") from exc
    if not text:
        return (), identity
    segment = TranscriptSegment(
        provider_call_id=call_sid,
        text=text,
        speaker=SPEAKERS.get(form.get("Track", ""), "unknown"),
        confidence=confidence,
        final=form.get("Final", "true").lower() != "false",
        sequence=sequence,
        occurred_at=_time(form.get("Timestamp")),
    )
    return (segment,), identity


def _amd(form: Form, call_sid: str, _: str) -> Parsed:
    """The asynchronous AMD callback (``CallSid``, ``AccountSid``, ``AnsweredBy``,
    ``MachineDetectionDuration`` in milliseconds). Twilio posts it once per call: its
    identity is the call and the verdict."""
    raw = form.get("AnsweredBy", "")
    answered_by = ANSWERED_BY.get(raw)
    if answered_by is None:
        raise WebhookMalformed(f"unknown AnsweredBy {raw!r}")
    ended = raw in GREETING_ENDS
    verdict = MachineDetected(
        provider_call_id=call_sid,
        answered_by=answered_by,
        greeting_ended=ended,
        beep=GREETING_ENDS[raw] if ended else None,
        detection_ms=_int(form, "MachineDetectionDuration"),
    )
    return (verdict,), ("amd", raw)


MASKED_FIELDS = {
    CaptureField.CARD_NUMBER: "PaymentCardNumber",
    CaptureField.EXPIRATION_DATE: "ExpirationDate",
    CaptureField.SECURITY_CODE: "SecurityCode",
    CaptureField.POSTAL_CODE: "PaymentCardPostalCode",
}
"""The parameter in which Twilio reports what was keyed into each field (masked)."""
CAPTURE_FIELDS = {field.value: field for field in CaptureField}


def _payment(form: Form, call_sid: str, _: str) -> Parsed:
    """A secure capture's status callback: an agent-assisted session's (``Sid``, the field
    in ``Capture``) or a ``<Pay>`` verb's (the field in ``For``). While the caller keys,
    ``PartialResult`` is true; ``ErrorType`` says why a field was refused; ``Result`` ends
    the session with the connector's outcome. What was keyed is read only as a count of
    digits and a mask built here (a card number's last four at most)."""
    field = CAPTURE_FIELDS.get(form.get("Capture") or form.get("For") or "")
    result = form.get("Result", "")
    digits, masked = _masked(field, form.get(MASKED_FIELDS[field], "")) if field else (0, None)
    capture = None
    if result:
        capture = PaymentCapture(
            status=PAY_RESULTS.get(result, "failed"),
            result=result,
            confirmation=form.get("PaymentConfirmationCode") or None,
            error=(form.get("PaymentError") or form.get("ConnectorError") or None),
        )
    progress = PaymentProgress(
        provider_call_id=call_sid,
        session_id=form.get("Sid") or None,
        field=field,
        partial=form.get("PartialResult", "").lower() == "true",
        digits=digits,
        masked=masked,
        card_type=form.get("PaymentCardType") or None,
        required=tuple(item for item in form.get("Required", "").split(",") if item),
        error=form.get("ErrorType") or None,
        capture=capture,
        occurred_at=_time(form.get("DateUpdated")),
    )
    return (progress,), None


def _masked(field: CaptureField, value: str) -> tuple[int, str | None]:
    """How many digits Twilio's masked ``value`` stands for, and the platform's own mask of
    it: all ``x`` but a card number's last four digits (when at least twelve were keyed)."""
    keyed = [c for c in value if c.isdigit() or c.lower() == "x"]
    if not keyed:
        return 0, None
    shown = ""
    if field is CaptureField.CARD_NUMBER and len(keyed) >= 12:
        tail = "".join(keyed[-4:])
        shown = tail if tail.isdigit() else ""
    return len(keyed), "x" * (len(keyed) - len(shown)) + shown


_PARSERS: dict[str, Callable[[Form, str, str], Parsed]] = {
    "voice": _voice,
    "status": _status,
    "amd": _amd,
    "gather": _gather,
    "recording": _recording,
    "transcription": _transcription,
    "payment": _payment,
}


# --- fields --------------------------------------------------------------------------------


def _progress(form: Form, call_sid: str) -> CallProgress:
    raw = form.get("CallStatus", "")
    status = STATUSES.get(raw)
    if status is None:
        raise WebhookMalformed(f"unknown CallStatus {raw!r}")
    return CallProgress(
        provider_call_id=call_sid,
        status=status,
        occurred_at=_time(form.get("Timestamp")),
        sequence=_int(form, "SequenceNumber"),
        direction=_direction(form.get("Direction", "")),
        from_number=form.get("From") or None,
        to_number=form.get("To") or None,
        answered_by=ANSWERED_BY.get(form.get("AnsweredBy", "")),
        hangup_cause=_hangup_cause(form) if status.terminal else None,
        duration_seconds=_int(form, "CallDuration"),
        parent_provider_call_id=form.get("ParentCallSid") or None,
    )


def _direction(value: str) -> Direction | None:
    if value == "inbound":
        return Direction.INBOUND
    if value.startswith("outbound"):  # outbound-api, outbound-dial
        return Direction.OUTBOUND
    return None


def _hangup_cause(form: Form) -> str | None:
    if form.get("ErrorCode"):
        return f"twilio:{form['ErrorCode']}"
    sip = form.get("SipResponseCode", "")
    return f"sip:{sip}" if sip and sip != "200" else None


def _int(form: Form, name: str) -> int | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise WebhookMalformed(f"{name} is not a number") from None


def _confidence(value: str | None) -> float | None:
    """Twilio's 0-1 score; an unreadable one is left out rather than losing what was said."""
    try:
        score = float(value or "")
    except ValueError:
        return None
    return score if 0.0 <= score <= 1.0 else None


def _time(value: str | None) -> datetime | None:
    """Twilio's timestamps: RFC 2822 on call callbacks, ISO 8601 on transcriptions."""
    if not value:
        return None
    parsed: datetime
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
