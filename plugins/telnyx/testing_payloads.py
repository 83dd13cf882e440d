"""Webhook payloads as Telnyx sends them, for :class:`plugins.telnyx.testing.TelnyxDouble`.

Field names and values follow the SDK's webhook models (``telnyx.types.call_*``): what every
call event carries, plus what each type adds. Tests override any member.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugins.telnyx.testing_rest import DoubleCall, DoubleRecording, TelnyxApi, iso, now


def call_fields(call: DoubleCall) -> dict[str, Any]:
    return {
        "call_control_id": call.call_control_id,
        "call_leg_id": call.call_leg_id,
        "call_session_id": call.call_session_id,
        "connection_id": call.connection_id,
        "client_state": call.client_state,
        "from": call.from_,
        "to": call.to,
    }


def event_payload(
    call: DoubleCall, event_type: str, recording: DoubleRecording | None, api: TelnyxApi
) -> dict[str, Any]:
    payload = call_fields(call)
    extra = _EXTRA.get(event_type)
    if extra is not None:
        payload.update(extra(call))
    if event_type == "call.recording.saved":
        payload.update(_recording_saved(call, recording, api))
    return payload


def _initiated(call: DoubleCall) -> dict[str, Any]:
    return {
        "direction": call.direction,
        "state": "parked" if call.direction == "incoming" else "bridging",
        "start_time": iso(call.start_time),
        "caller_id_name": call.from_,
    }


def _answered(call: DoubleCall) -> dict[str, Any]:
    call.answered = True
    return {"state": "answered", "start_time": iso(call.start_time)}


def _hangup(call: DoubleCall) -> dict[str, Any]:
    call.end()
    return {
        "state": "hangup",
        "hangup_cause": "normal_clearing",
        "hangup_source": "caller",
        "sip_hangup_cause": "200",
        "start_time": iso(call.start_time),
        "end_time": iso(call.end_time or now()),
    }


def _recording_saved(
    call: DoubleCall, recording: DoubleRecording | None, api: TelnyxApi
) -> dict[str, Any]:
    if recording is None:
        return {}
    url = api.media_url(recording)
    return {
        "recording_id": recording.id,
        "channels": recording.channels,
        "format": recording.format,
        "recording_started_at": iso(recording.started_at),
        "recording_ended_at": iso(recording.ended_at),
        "recording_urls": {recording.format: url},
        "public_recording_urls": {},
        "start_time": iso(call.start_time),
        "end_time": iso(recording.ended_at),
    }


_EXTRA: dict[str, Callable[[DoubleCall], dict[str, Any]]] = {
    "call.initiated": _initiated,
    "call.answered": _answered,
    "call.hangup": _hangup,
    "call.machine.detection.ended": lambda call: {"result": "human"},
    "call.machine.premium.detection.ended": lambda call: {"result": "human_residence"},
    "call.machine.greeting.ended": lambda call: {"result": "beep_detected"},
    "call.machine.premium.greeting.ended": lambda call: {"result": "beep_detected"},
    "call.gather.ended": lambda call: {"digits": "", "status": "valid"},
    "call.speak.started": lambda call: {},
    "call.speak.ended": lambda call: {"status": "completed"},
    "call.playback.started": lambda call: {"media_url": None, "overlay": False},
    "call.playback.ended": lambda call: {"status": "completed", "overlay": False},
    "call.dtmf.received": lambda call: {"digit": "1"},
    "call.transcription": lambda call: {
        "transcription_data": {
            "transcript": "hello",
            "confidence": 0.9,
            "is_final": True,
            "transcription_track": "inbound",
        }
    },
    "call.payment.completed": lambda call: {"result": "success", "payment_method": "credit-card"},
}
