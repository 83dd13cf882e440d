"""Telnyx Call Control webhooks as provider-neutral events.

One body is one event: ``{"data": {"id", "event_type", "occurred_at", "payload": {...}}}``.
Events are reported as they come: Telnyx may deliver them late, twice or out of order, and
``calls`` drops what does not move a call forward. An event type this module does not map
is accepted with no events (it is kept, and can be re-read later).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from plugins.calls import (
    DIAL_STATUSES,
    AnsweredBy,
    CallProgress,
    CallStatus,
    CaptureStatus,
    Direction,
    InstructionList,
    InstructionsNeeded,
    MachineDetected,
    NormalizedEvent,
    ParsedWebhook,
    PaymentCapture,
    RecordingProgress,
    TranscriptSegment,
    WebhookMalformed,
    WebhookRequest,
)
from plugins.telnyx.client_state import CallState, decode
from plugins.telnyx.status import answered_by, hangup_status

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset(
    {
        "payment_card_number",
        "security_code",
        "expiration_date",
        "payment_card_postal_code",
        "bank_account_number",
        "bank_routing_number",
        "token_id",
        "payment_token",
        "recording_urls",
        "public_recording_urls",
        "sip_auth_password",
        "stream_auth_token",
    }
)
"""Card data (PCI) and pre-signed media URLs (they work as credentials until they expire)."""
ENDED_STATUSES = frozenset({"call_hangup", "cancelled", "cancelled_amd"})
"""A media command that ended this way was interrupted: the script does not go on."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One webhook's event, with the parts every mapping needs."""

    event_id: str
    type: str
    payload: Mapping[str, Any]
    occurred_at: datetime | None
    state: CallState

    @property
    def call(self) -> str:
        call_control_id = self.payload.get("call_control_id")
        if not isinstance(call_control_id, str) or not call_control_id:
            raise WebhookMalformed(f"{self.type} has no call_control_id")
        return call_control_id

    def text(self, key: str) -> str | None:
        value = self.payload.get(key)
        return value if isinstance(value, str) and value else None

    def continuation(self) -> list[NormalizedEvent]:
        """``continue`` with the steps the state kept, when this is the event it waits for."""
        if self.state.on != self.type:
            return []
        try:
            steps = InstructionList.model_validate({"steps": list(self.state.rest or ())}).steps
        except ValidationError as exc:
            raise WebhookMalformed(f"{self.type}: the client_state's steps are invalid") from exc
        target = self.state.call_control_id or self.call
        # As JSON: calls keeps the normalized events of a webhook (and may apply them later).
        rest = tuple(step.model_dump(mode="json") for step in steps)
        return [InstructionsNeeded(target, "continue", instructions=rest)]


def parse_webhook(webhook: WebhookRequest) -> ParsedWebhook:
    """Telnyx posts every event to the one ``events`` webhook."""
    if webhook.kind != "events":
        raise WebhookMalformed(f"Telnyx sends no {webhook.kind!r} webhooks (only 'events')")
    return parse_body(webhook.body)


def parse_body(body: bytes) -> ParsedWebhook:
    """Raise :class:`WebhookMalformed` for a body that is not a Telnyx event."""
    try:
        document = json.loads(body)
    except ValueError:
        raise WebhookMalformed("the body is not JSON") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise WebhookMalformed("the body has no data object")
    event_id, event_type, payload = data.get("id"), data.get("event_type"), data.get("payload")
    if not isinstance(event_id, str) or not event_id:
        raise WebhookMalformed("the event has no id")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookMalformed("the event has no event_type")
    if not isinstance(payload, dict):
        raise WebhookMalformed(f"{event_type} has no payload object")
    state = payload.get("client_state")
    incoming = Incoming(
        event_id=event_id,
        type=event_type,
        payload=payload,
        occurred_at=timestamp(data.get("occurred_at"), "occurred_at"),
        state=decode(state if isinstance(state, str) else None),
    )
    mapping = MAPPINGS.get(event_type)
    events = tuple(mapping(incoming)) if mapping is not None else ()
    return ParsedWebhook(dedupe_key=event_id, events=events, payload=redact(document))


def timestamp(value: object, what: str) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise WebhookMalformed(f"{what} is not a time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WebhookMalformed(f"{what} is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def redact(value: Any) -> Any:
    """A copy of a webhook body fit to keep: card data and media URLs masked."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if key in SENSITIVE_KEYS and item else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


# --- mappings ------------------------------------------------------------------------------


def _initiated(event: Incoming) -> list[NormalizedEvent]:
    direction = {"incoming": Direction.INBOUND, "outgoing": Direction.OUTBOUND}.get(
        str(event.payload.get("direction"))
    )
    caller, callee = event.text("from"), event.text("to")
    events: list[NormalizedEvent] = [
        CallProgress(
            event.call,
            CallStatus.INITIATED,
            occurred_at=event.occurred_at,
            direction=direction,
            from_number=caller,
            to_number=callee,
        )
    ]
    if direction is Direction.INBOUND:
        events.append(
            InstructionsNeeded(
                event.call,
                "inbound",
                direction=Direction.INBOUND,
                from_number=caller,
                to_number=callee,
            )
        )
    return events


def _answered(event: Incoming) -> list[NormalizedEvent]:
    caller, callee = event.text("from"), event.text("to")
    events: list[NormalizedEvent] = [
        CallProgress(
            event.call,
            CallStatus.IN_PROGRESS,
            occurred_at=event.occurred_at,
            from_number=caller,
            to_number=callee,
        )
    ]
    continued = event.continuation()
    if continued:  # an inbound call the platform answered, its script in the state
        return events + continued
    if event.state.call_id is not None and event.state.on is None:  # dialled by the platform
        events.append(
            InstructionsNeeded(
                event.call,
                "answered",
                direction=Direction.OUTBOUND,
                from_number=caller,
                to_number=callee,
            )
        )
    return events


def _hangup(event: Incoming) -> list[NormalizedEvent]:
    cause = event.text("hangup_cause")
    status = hangup_status(cause, event.text("sip_hangup_cause"))
    duration = None
    if status is CallStatus.COMPLETED:
        duration = _seconds_between(
            timestamp(event.payload.get("start_time"), "start_time"),
            timestamp(event.payload.get("end_time"), "end_time"),
        )
    events: list[NormalizedEvent] = [
        CallProgress(
            event.call,
            status,
            occurred_at=event.occurred_at,
            hangup_cause=cause,
            duration_seconds=duration,
            from_number=event.text("from"),
            to_number=event.text("to"),
        )
    ]
    caller = event.state.call_control_id
    if caller is not None and caller != event.call:  # a transfer's callee left
        if event.state.report == "dialed" and event.state.on == event.type:
            # Any other status of the callee's hangup reads as a failed dial.
            dialed = status if status in DIAL_STATUSES else CallStatus.FAILED
            events.append(InstructionsNeeded(caller, "dialed", dial_status=dialed))
        else:
            events.extend(event.continuation())
    return events


def _machine(event: Incoming) -> list[NormalizedEvent]:
    """``call.machine[.premium].detection.ended``: the verdict (``result`` human, machine,
    not_sure; premium: human_residence, human_business, machine, silence, fax_detected)."""
    return [
        MachineDetected(
            event.call,
            answered_by(event.text("result")),
            occurred_at=event.occurred_at,
        )
    ]


def _greeting(event: Incoming) -> list[NormalizedEvent]:
    """``call.machine[.premium].greeting.ended`` (``answering_machine_detection``
    ``detect_beep``): the machine's greeting is over (``result`` beep_detected, ended,
    not_sure; premium: beep_detected, no_beep_detected). ``not_sure``: Telnyx stopped
    listening for the end; the greeting is taken as over, without a beep."""
    result = event.text("result")
    return [
        MachineDetected(
            event.call,
            AnsweredBy.MACHINE,
            greeting_ended=True,
            beep=result == "beep_detected" if result != "not_sure" else None,
            occurred_at=event.occurred_at,
        )
    ]


def _gathered(event: Incoming) -> list[NormalizedEvent]:
    if event.payload.get("status") in ENDED_STATUSES:
        return []
    digits = event.text("digits") or ""
    if not digits and event.state.on == event.type and event.state.rest:
        return event.continuation()  # nothing pressed: the script goes on
    # Digits, or silence with nothing after the gather: the platform decides (an IVR asks
    # again), as Twilio's actionOnEmptyResult lets it.
    return [InstructionsNeeded(event.call, "gathered", digits=digits)]


PAY_RESULTS: dict[str, CaptureStatus] = {
    "success": "succeeded",
    "payment-connector-error": "failed",
    "internal-error": "failed",
    "too-many-failed-attempts": "failed",
    "cancelled": "cancelled",
}
"""``result`` of ``call.payment.completed`` -> how the capture ended."""


def _paid(event: Incoming) -> list[NormalizedEvent]:
    """The pay command ended: its result, the connector's confirmation or token and error
    for the platform to decide what follows (as after a gather), unless the script it was
    part of has more steps; card fields are never read."""
    if event.payload.get("status") in ENDED_STATUSES:
        return []
    if event.state.on == event.type and event.state.rest:
        return event.continuation()  # a script with steps after the payment goes on
    result = event.text("result") or "internal-error"
    capture = PaymentCapture(
        status=PAY_RESULTS.get(result, "failed"),
        result=result,
        confirmation=event.text("payment_confirmation_code") or event.text("charge_id"),
        token=event.text("token_id"),
        error=event.text("pay_error_code") or event.text("payment_error"),
    )
    return [InstructionsNeeded(event.call, "gathered", payment=capture)]


def _media_ended(event: Incoming) -> list[NormalizedEvent]:
    if event.payload.get("status") in ENDED_STATUSES:
        return []
    return event.continuation()


def _recording_saved(event: Incoming) -> list[NormalizedEvent]:
    call = event.text("call_control_id") or event.state.call_control_id
    if call is None:  # no call to attach it to; kept, and visible in the stored payload
        return []
    urls = event.payload.get("recording_urls") or event.payload.get("public_recording_urls")
    urls = urls if isinstance(urls, Mapping) else {}
    media, content_type = (
        (urls.get("mp3"), "audio/mpeg")
        if urls.get("mp3")
        else (
            urls.get("wav"),
            "audio/wav",
        )
    )
    started = timestamp(event.payload.get("recording_started_at"), "recording_started_at")
    ended = timestamp(event.payload.get("recording_ended_at"), "recording_ended_at")
    recording = RecordingProgress(
        call,
        _recording_id(event),
        "completed",
        occurred_at=event.occurred_at,
        duration_seconds=_seconds_between(started, ended),
        channels={"single": 1, "dual": 2}.get(str(event.payload.get("channels"))),
        media_ref=media if isinstance(media, str) and media else None,
        content_type=content_type if media else None,
    )
    return [recording, *event.continuation()]


def _recording_error(event: Incoming) -> list[NormalizedEvent]:
    call = event.text("call_control_id") or event.state.call_control_id
    if call is None:
        return []
    failed = RecordingProgress(call, _recording_id(event), "failed", occurred_at=event.occurred_at)
    return [failed, *event.continuation()]


def _transcription(event: Incoming) -> list[NormalizedEvent]:
    data = event.payload.get("transcription_data")
    data = data if isinstance(data, Mapping) else {}
    text = data.get("transcript")
    if not isinstance(text, str) or not text.strip():
        return []
    confidence = data.get("confidence")
    return [
        TranscriptSegment(
            event.call,
            text.strip(),
            speaker={"inbound": "customer", "outbound": "agent"}.get(
                str(data.get("transcription_track")), "unknown"
            ),
            confidence=float(confidence) if isinstance(confidence, int | float) else None,
            final=data.get("is_final") is not False,
            occurred_at=event.occurred_at,
        )
    ]


def _recording_transcribed(event: Incoming) -> list[NormalizedEvent]:
    text = event.text("transcription_text")
    if text is None or not text.strip():
        return []
    return [TranscriptSegment(event.call, text.strip(), occurred_at=event.occurred_at)]


def _recording_id(event: Incoming) -> str:
    """Telnyx's recording id; older payloads lack it, so a stable stand-in from the leg and
    the start (the same for every delivery of this recording's event)."""
    recording_id = event.text("recording_id")
    if recording_id is not None:
        return recording_id
    leg = event.text("call_leg_id") or event.event_id
    return f"leg:{leg}:{event.text('recording_started_at') or ''}"


def _seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


MAPPINGS: dict[str, Callable[[Incoming], Sequence[NormalizedEvent]]] = {
    "call.initiated": _initiated,
    "call.answered": _answered,
    "call.hangup": _hangup,
    "call.machine.detection.ended": _machine,
    "call.machine.premium.detection.ended": _machine,
    "call.machine.greeting.ended": _greeting,
    "call.machine.premium.greeting.ended": _greeting,
    "call.gather.ended": _gathered,
    "call.speak.ended": _media_ended,
    "call.playback.ended": _media_ended,
    "call.payment.completed": _paid,
    "call.recording.saved": _recording_saved,
    "call.recording.error": _recording_error,
    "call.transcription": _transcription,
    "call.recording.transcription.saved": _recording_transcribed,
}
