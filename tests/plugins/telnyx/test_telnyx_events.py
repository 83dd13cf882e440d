"""Telnyx webhooks as normalized events: every mapped event type, continuations carried in
client_state, duplicates, malformed bodies, and what is kept (redacted)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from telnyx_helpers import CALLEE, CALLER, as_json

from plugins.calls import (
    AnsweredBy,
    CallProgress,
    CallStatus,
    Direction,
    InstructionsNeeded,
    MachineDetected,
    Play,
    RecordingProgress,
    Say,
    TranscriptSegment,
    WebhookMalformed,
)
from plugins.telnyx.client_state import CallState, encode
from plugins.telnyx.steps import compact
from plugins.telnyx.testing import TelnyxDouble
from plugins.telnyx.webhooks import parse_body

WHEN = datetime(2026, 11, 3, 10, 15, 30, 123456, tzinfo=UTC)
REST = [Say(text="Goodbye"), Play(url="https://audio.example.test/bye.mp3")]


@pytest.fixture
def double() -> TelnyxDouble:
    return TelnyxDouble()  # not started: it only builds bodies here


def state(on: str | None = None, *, call_id: str = "c-1", target: str | None = None) -> str:
    rest = tuple(compact(step) for step in REST) if on else None
    return encode(CallState(call_id, on, rest, target), max_length=4096)


def parsed(double: TelnyxDouble, call_control_id: str, event_type: str, **fields):
    document = double.build_event(call_control_id, event_type, occurred_at=WHEN, **fields)
    return parse_body(json.dumps(document).encode())


def dialled(double: TelnyxDouble, client_state: str | None = None) -> str:
    return double.outgoing_call(CALLER, CALLEE, client_state=client_state).call_control_id


def test_an_outbound_call_initiated(double):
    call = dialled(double, state())
    result = parsed(double, call, "call.initiated", event_id="ev-1")
    assert result.dedupe_key == "ev-1"
    assert result.events == (
        CallProgress(
            call,
            CallStatus.INITIATED,
            occurred_at=WHEN,
            direction=Direction.OUTBOUND,
            from_number=CALLER,
            to_number=CALLEE,
        ),
    )


def test_an_inbound_call_asks_for_instructions(double):
    call = double.incoming_call(CALLEE, CALLER).call_control_id
    progress, needed = parsed(double, call, "call.initiated").events
    assert progress.direction is Direction.INBOUND
    assert needed == InstructionsNeeded(
        call, "inbound", direction=Direction.INBOUND, from_number=CALLEE, to_number=CALLER
    )


def test_a_dialled_call_answered_asks_for_instructions(double):
    call = dialled(double, state())
    progress, needed = parsed(double, call, "call.answered").events
    assert progress == CallProgress(
        call, CallStatus.IN_PROGRESS, occurred_at=WHEN, from_number=CALLER, to_number=CALLEE
    )
    assert needed == InstructionsNeeded(
        call, "answered", direction=Direction.OUTBOUND, from_number=CALLER, to_number=CALLEE
    )


def test_an_answer_the_platform_did_not_ask_for_only_reports_progress(double):
    call = dialled(double)
    [progress] = parsed(double, call, "call.answered").events
    assert progress.status is CallStatus.IN_PROGRESS


def test_an_inbound_call_answered_by_the_platform_continues_its_script(double):
    call = double.incoming_call(CALLEE, CALLER, webhook_url="https://x.test").call_control_id
    double.call(call).client_state = state("call.answered", target=call)
    progress, needed = parsed(double, call, "call.answered").events
    assert progress.status is CallStatus.IN_PROGRESS
    assert needed == InstructionsNeeded(call, "continue", instructions=as_json(*REST))


@pytest.mark.parametrize(
    ("cause", "sip", "status"),
    [
        ("normal_clearing", "200", CallStatus.COMPLETED),
        ("time_limit", "200", CallStatus.COMPLETED),
        ("user_busy", "486", CallStatus.BUSY),
        ("timeout", "unspecified", CallStatus.NO_ANSWER),
        ("no_answer", "480", CallStatus.NO_ANSWER),
        ("originator_cancel", "487", CallStatus.CANCELED),
        ("call_rejected", "603", CallStatus.FAILED),
        ("not_found", "404", CallStatus.FAILED),
        ("unallocated_number", "404", CallStatus.FAILED),
        ("unspecified", "486", CallStatus.BUSY),
        ("unspecified", "503", CallStatus.FAILED),
        ("unspecified", "unspecified", CallStatus.COMPLETED),
        ("something_new", None, CallStatus.FAILED),
    ],
)
def test_hangup_causes(double, cause, sip, status):
    call = dialled(double, state())
    [progress] = parsed(
        double, call, "call.hangup", hangup_cause=cause, sip_hangup_cause=sip
    ).events
    assert progress.status is status
    assert progress.hangup_cause == cause


def test_a_completed_call_has_its_duration(double):
    call = dialled(double)
    start = WHEN - timedelta(seconds=95)
    [progress] = parsed(
        double,
        call,
        "call.hangup",
        start_time=start.isoformat(),
        end_time=WHEN.isoformat(),
    ).events
    assert progress.duration_seconds == 95
    assert progress.occurred_at == WHEN
    [busy] = parsed(double, call, "call.hangup", hangup_cause="user_busy").events
    assert busy.duration_seconds is None


@pytest.mark.parametrize(
    ("event_type", "result", "answered_by"),
    [
        ("call.machine.detection.ended", "human", AnsweredBy.HUMAN),
        ("call.machine.detection.ended", "machine", AnsweredBy.MACHINE),
        ("call.machine.detection.ended", "not_sure", AnsweredBy.UNKNOWN),
        ("call.machine.premium.detection.ended", "human_business", AnsweredBy.HUMAN),
        ("call.machine.premium.detection.ended", "fax_detected", AnsweredBy.MACHINE),
        ("call.machine.premium.detection.ended", "silence", AnsweredBy.UNKNOWN),
    ],
)
def test_machine_detection(double, event_type, result, answered_by):
    call = dialled(double)
    [verdict] = parsed(double, call, event_type, result=result).events
    assert verdict == MachineDetected(call, answered_by, occurred_at=WHEN)


@pytest.mark.parametrize(
    ("event_type", "result", "beep"),
    [
        ("call.machine.greeting.ended", "beep_detected", True),
        ("call.machine.greeting.ended", "ended", False),
        ("call.machine.greeting.ended", "not_sure", None),
        ("call.machine.premium.greeting.ended", "beep_detected", True),
        ("call.machine.premium.greeting.ended", "no_beep_detected", False),
    ],
)
def test_the_end_of_a_machines_greeting(double, event_type, result, beep):
    call = dialled(double)
    [verdict] = parsed(double, call, event_type, result=result).events
    assert verdict == MachineDetected(
        call, AnsweredBy.MACHINE, greeting_ended=True, beep=beep, occurred_at=WHEN
    )


def test_gathered_digits(double):
    call = dialled(double, state("call.gather.ended", target="x"))
    [needed] = parsed(double, call, "call.gather.ended", digits="42#", status="valid").events
    assert needed == InstructionsNeeded(call, "gathered", digits="42#")


def test_a_gather_without_digits_goes_on_with_the_script(double):
    call = dialled(double, state("call.gather.ended", target="v3:me"))
    [needed] = parsed(double, call, "call.gather.ended", digits="", status="timeout").events
    assert needed == InstructionsNeeded("v3:me", "continue", instructions=as_json(*REST))


def test_a_gather_last_in_its_script_reports_silence(double):
    """Nothing after the gather to go on with: the platform hears the silence (an IVR asks
    again) instead of the call waiting without instructions."""
    last = encode(CallState("c-1", "call.gather.ended", (), "v3:me"), max_length=4096)
    call = dialled(double, last)
    [needed] = parsed(double, call, "call.gather.ended", digits="", status="timeout").events
    assert needed == InstructionsNeeded(call, "gathered", digits="")


def test_a_gather_not_started_by_a_script_reports_empty_digits(double):
    call = dialled(double)
    [needed] = parsed(double, call, "call.gather.ended", status="timeout").events
    assert needed == InstructionsNeeded(call, "gathered", digits="")


@pytest.mark.parametrize("status", ["call_hangup", "cancelled", "cancelled_amd"])
def test_an_interrupted_gather_says_nothing(double, status):
    call = dialled(double, state("call.gather.ended"))
    assert parsed(double, call, "call.gather.ended", digits="1", status=status).events == ()


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("call.speak.ended", "completed"),
        ("call.playback.ended", "completed"),
        ("call.playback.ended", "file_not_found"),
        ("call.playback.ended", "failed"),
        ("call.payment.completed", None),  # steps after the payment: the script goes on
    ],
)
def test_the_end_of_a_step_continues_the_script(double, event_type, status):
    call = dialled(double)
    double.call(call).client_state = state(event_type, target=call)
    [needed] = parsed(double, call, event_type, status=status).events
    assert needed == InstructionsNeeded(call, "continue", instructions=as_json(*REST))


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ("success", "succeeded"),
        ("too-many-failed-attempts", "failed"),
        ("payment-connector-error", "failed"),
        ("cancelled", "cancelled"),
    ],
)
def test_the_end_of_a_payment_is_input_with_its_outcome(double, result, status):
    """Like a gather's digits, the pay command's result is for the platform to act on (an
    IVR's pay node, the payment its last step); card fields are never read."""
    last = encode(CallState("c", "call.payment.completed", (), None), max_length=4096)
    call = dialled(double, last)
    fields = {"result": result, "payment_card_number": "4111111111111111"}
    if result == "success":
        fields["payment_confirmation_code"] = "ch_3PqLk2"
    else:
        fields["payment_error"] = "card_declined"
    [needed] = parsed(double, call, "call.payment.completed", **fields).events
    assert needed.reason == "gathered"
    capture = needed.payment
    assert (capture.status, capture.result) == (status, result)
    assert capture.confirmation == ("ch_3PqLk2" if result == "success" else None)
    assert capture.error == (None if result == "success" else "card_declined")
    assert "4111111111111111" not in repr(needed)


def test_the_last_step_ending_continues_with_nothing(double):
    call = dialled(double)
    double.call(call).client_state = encode(
        CallState("c", "call.speak.ended", (), call), max_length=4096
    )
    [needed] = parsed(double, call, "call.speak.ended").events
    assert needed == InstructionsNeeded(call, "continue", instructions=())


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("call.speak.ended", "call_hangup"),
        ("call.playback.ended", "cancelled"),
        ("call.playback.ended", "call_hangup"),
    ],
)
def test_an_interrupted_step_does_not_continue(double, event_type, status):
    call = dialled(double, state(event_type))
    assert parsed(double, call, event_type, status=status).events == ()


def test_a_state_waiting_for_another_event_does_not_continue(double):
    """Telnyx echoes the call's state in every webhook: only the awaited one continues."""
    call = dialled(double, state("call.playback.ended"))
    for event_type in ("call.speak.ended", "call.dtmf.received", "call.hangup"):
        events = parsed(double, call, event_type).events
        assert not any(isinstance(event, InstructionsNeeded) for event in events)


def test_a_transfer_callee_hanging_up_continues_the_caller(double):
    caller = dialled(double)
    callee = double.outgoing_call(CALLER, "+420777000111").call_control_id
    double.call(callee).client_state = state("call.hangup", target=caller)
    progress, needed = parsed(double, callee, "call.hangup", hangup_cause="timeout").events
    assert progress == CallProgress(
        callee,
        CallStatus.NO_ANSWER,
        occurred_at=WHEN,
        hangup_cause="timeout",
        from_number=CALLER,
        to_number="+420777000111",
    )
    assert needed == InstructionsNeeded(caller, "continue", instructions=as_json(*REST))


def test_a_saved_recording(double):
    call = dialled(double)
    recording = double.add_recording(
        call,
        b"mp3",
        channels="dual",
        started_at=WHEN - timedelta(seconds=61),
        ended_at=WHEN,
    )
    [saved] = parsed(double, call, "call.recording.saved", recording=recording).events
    assert saved == RecordingProgress(
        call,
        recording.id,
        "completed",
        occurred_at=WHEN,
        duration_seconds=61,
        channels=2,
        media_ref=saved.media_ref,
        content_type="audio/mpeg",
    )
    assert saved.media_ref is not None
    assert f"/media/{recording.id}.mp3?expires=" in saved.media_ref


def test_a_voicemail_saved_continues_the_script(double):
    call = dialled(double)
    double.call(call).client_state = state("call.recording.saved", target=call)
    recording = double.add_recording(call, b"wav", format="wav")
    saved, needed = parsed(double, call, "call.recording.saved", recording=recording).events
    assert isinstance(saved, RecordingProgress)
    assert saved.content_type == "audio/wav"
    assert needed == InstructionsNeeded(call, "continue", instructions=as_json(*REST))


def test_an_older_recording_payload_without_ids(double):
    """The documented example names neither the call nor the recording: the state does."""
    call = dialled(double)
    double.call(call).client_state = state(target=call)
    document = double.build_event(call, "call.recording.saved", occurred_at=WHEN)
    payload = document["data"]["payload"]
    del payload["call_control_id"]
    payload.update(
        recording_started_at="2026-11-03T10:14:00Z",
        recording_ended_at="2026-11-03T10:15:00Z",
        recording_urls={"mp3": "https://media.example.test/r.mp3"},
    )
    [saved] = parse_body(json.dumps(document).encode()).events
    assert saved.provider_call_id == call
    assert saved.provider_recording_id == (f"leg:{payload['call_leg_id']}:2026-11-03T10:14:00Z")
    assert saved.duration_seconds == 60
    assert saved.media_ref == "https://media.example.test/r.mp3"
    del payload["client_state"]
    assert parse_body(json.dumps(document).encode()).events == ()  # no call to attach it to


def test_a_recording_error(double):
    call = dialled(double)
    [failed] = parsed(
        double, call, "call.recording.error", reason="Internal server error", recording_id="r1"
    ).events
    assert failed == RecordingProgress(call, "r1", "failed", occurred_at=WHEN)


def test_a_live_transcription(double):
    call = dialled(double)
    [segment] = parsed(
        double,
        call,
        "call.transcription",
        transcription_data={
            "transcript": " I would like to pay my bill ",
            "confidence": 0.93,
            "is_final": False,
            "transcription_track": "inbound",
        },
    ).events
    assert segment == TranscriptSegment(
        call,
        "I would like to pay my bill",
        speaker="customer",
        confidence=0.93,
        final=False,
        occurred_at=WHEN,
    )
    empty = {"transcript": "", "is_final": True}
    assert parsed(double, call, "call.transcription", transcription_data=empty).events == ()


def test_a_recording_transcribed(double):
    call = dialled(double)
    [segment] = parsed(
        double, call, "call.recording.transcription.saved", transcription_text="Call me back."
    ).events
    assert segment == TranscriptSegment(call, "Call me back.", occurred_at=WHEN)


@pytest.mark.parametrize(
    "event_type", ["call.dtmf.received", "call.bridged", "call.speak.started", "call.cost"]
)
def test_other_event_types_are_accepted_with_no_events(double, event_type):
    call = dialled(double, state())
    result = parsed(double, call, event_type, event_id="ev-9")
    assert (result.dedupe_key, result.events) == ("ev-9", ())
    assert result.payload["data"]["event_type"] == event_type


def test_card_data_and_media_links_are_not_kept(double):
    call = dialled(double, state("call.payment.completed"))
    result = parsed(
        double,
        call,
        "call.payment.completed",
        payment_card_number="4111111111111111",
        security_code="987",
        expiration_date="12/30",
        payment_card_postal_code="90210",
        recording_urls={"mp3": "https://media.example.test/r.mp3?signature=abc"},
    )
    kept = json.dumps(result.payload)
    # Quoted: a short value such as "987" may well be part of a random call leg id.
    for secret in ("4111111111111111", "987", "12/30", "90210"):
        assert json.dumps(secret) not in kept
    assert "signature=abc" not in kept
    assert result.payload["data"]["payload"]["payment_card_number"] == "[redacted]"
    assert result.payload["data"]["payload"]["to"] == CALLEE


def test_the_same_event_twice_has_one_dedupe_key(double):
    call = dialled(double, state())
    document = double.build_event(call, "call.answered")
    first = parse_body(json.dumps(document).encode())
    again = parse_body(json.dumps(document, indent=2).encode())
    assert first.dedupe_key == again.dedupe_key == document["data"]["id"]
    assert first.events == again.events


@pytest.mark.parametrize(
    "client_state",
    ["not base64!", base64.b64encode(b"hello").decode(), base64.b64encode(b"[1,2]").decode()],
)
def test_a_state_that_is_not_ours_is_ignored(double, client_state):
    call = dialled(double, client_state)
    [progress] = parsed(double, call, "call.answered").events
    assert progress.status is CallStatus.IN_PROGRESS


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event_type": "call.answered"}',
        b'{"data": {"event_type": "call.answered", "payload": {}}}',
        b'{"data": {"id": "e", "payload": {}}}',
        b'{"data": {"id": "e", "event_type": "call.answered", "payload": []}}',
        b'{"data": {"id": "e", "event_type": "call.answered", "payload": {}}}',
        b'{"data": {"id": "e", "event_type": "call.answered", "occurred_at": "yesterday",'
        b' "payload": {"call_control_id": "v3:x"}}}',
    ],
)
def test_malformed_bodies(body):
    with pytest.raises(WebhookMalformed):
        parse_body(body)


def test_steps_the_state_cannot_hold_are_malformed(double):
    call = dialled(double)
    bad = CallState("c", "call.speak.ended", ({"kind": "say"},), call)
    double.call(call).client_state = encode(bad, max_length=4096)
    with pytest.raises(WebhookMalformed, match="steps"):
        parsed(double, call, "call.speak.ended")
