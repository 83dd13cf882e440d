"""Loopback webhooks become the contract's normalized events; instructions go back as JSON;
recordings' media is a generated WAV."""

from __future__ import annotations

import io
import uuid
import wave
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from plugins.calls import (
    AnsweredBy,
    CallProgress,
    CallRef,
    CallStatus,
    Capability,
    CaptureField,
    Conference,
    Dial,
    Direction,
    Gather,
    Hangup,
    InstructionList,
    InstructionsNeeded,
    Pause,
    Pay,
    PaymentCapture,
    PaymentProgress,
    Play,
    ProviderContext,
    ProviderRefused,
    Record,
    RecordingProgress,
    RecordingRef,
    Say,
    TranscriptSegment,
    WebhookMalformed,
    WebhookRequest,
)
from plugins.loopback.carrier.media import Media
from plugins.loopback.payloads import (
    GatherBody,
    PaymentBody,
    RecordingBody,
    StatusBody,
    TranscriptionBody,
    VoiceBody,
    body_bytes,
)
from plugins.loopback.provider import CAPABILITIES, LoopbackProvider

CALL = "LB" + "a" * 32
SESSION = "LC" + "c" * 32
REC = "RE" + "b" * 32
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
COMMON = {"call_id": CALL, "sequence": 7, "occurred_at": AT}


@pytest.fixture
def provider() -> LoopbackProvider:
    """Parsing, answering and media need no platform: no app is built for these tests."""
    context = ProviderContext(
        platform=None,  # type: ignore[arg-type]
        tenant_id=uuid.uuid4(),
        provider="loopback",
        plugin="loopback",
        public_base_url="http://platform.test",
        webhook_prefix="loopback",
    )
    return LoopbackProvider(context)


def webhook(kind: str, body: bytes, event_id: str = "EV42") -> WebhookRequest:
    return WebhookRequest(
        kind=kind,
        method="POST",
        url=f"http://platform.test/webhooks/loopback/t/{kind}",
        headers={"loopback-event-id": event_id, "content-type": "application/json"},
        body=body,
    )


def parse(provider, body) -> tuple[str, list, dict]:
    parsed = provider.parse_webhook(webhook(body.kind, body_bytes(body)))
    return parsed.dedupe_key, list(parsed.events), dict(parsed.payload)


def test_status(provider):
    body = StatusBody(
        **COMMON,
        status=CallStatus.COMPLETED,
        direction=Direction.OUTBOUND,
        from_number="+15005550100",
        to_number="+15005550199",
        answered_by=AnsweredBy.MACHINE,
        hangup_cause="callee_hangup",
        duration_seconds=12,
    )
    key, events, payload = parse(provider, body)
    assert key == "EV42"
    assert events == [
        CallProgress(
            provider_call_id=CALL,
            status=CallStatus.COMPLETED,
            occurred_at=AT,
            sequence=7,
            direction=Direction.OUTBOUND,
            from_number="+15005550100",
            to_number="+15005550199",
            answered_by=AnsweredBy.MACHINE,
            hangup_cause="callee_hangup",
            duration_seconds=12,
        )
    ]
    assert payload["status"] == "completed"
    assert payload["occurred_at"] == "2026-01-02T03:04:05Z"


def test_voice(provider):
    body = VoiceBody(
        **COMMON,
        reason="answered",
        direction=Direction.OUTBOUND,
        from_number="+15005550100",
        to_number="+15005550199",
    )
    _, events, _ = parse(provider, body)
    assert events == [
        InstructionsNeeded(
            provider_call_id=CALL,
            reason="answered",
            direction=Direction.OUTBOUND,
            from_number="+15005550100",
            to_number="+15005550199",
        )
    ]


@pytest.mark.parametrize(
    ("result", "digits", "expected"), [("digits", "42", "42"), ("no-input", "", None)]
)
def test_gather(provider, result, digits, expected):
    _, events, _ = parse(provider, GatherBody(**COMMON, result=result, digits=digits))
    assert events == [InstructionsNeeded(provider_call_id=CALL, reason="gathered", digits=expected)]


def test_gathered_speech(provider):
    body = GatherBody(**COMMON, result="speech", speech="Billing please", confidence=1.0)
    _, events, _ = parse(provider, body)
    assert events == [
        InstructionsNeeded(
            provider_call_id=CALL, reason="gathered", speech="Billing please", confidence=1.0
        )
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"result": "speech", "speech": ""},
        {"result": "speech", "speech": "hi", "confidence": 1.5},
        {"result": "words", "speech": "hi"},
    ],
)
def test_a_malformed_speech_result(fields):
    with pytest.raises(ValidationError):
        GatherBody(**COMMON, **fields)


def test_speech_is_read_only_from_a_speech_result(provider):
    body = GatherBody(**COMMON, result="no-input", speech="ignored", confidence=0.5)
    _, events, _ = parse(provider, body)
    assert events == [InstructionsNeeded(provider_call_id=CALL, reason="gathered")]


def test_recording(provider):
    media = Media(REC, 9, 2)
    body = RecordingBody(
        **COMMON,
        recording_id=REC,
        status="completed",
        duration_seconds=9,
        channels=2,
        media_ref=media.ref,
        content_type="audio/wav",
    )
    _, events, _ = parse(provider, body)
    assert events == [
        RecordingProgress(
            provider_call_id=CALL,
            provider_recording_id=REC,
            status="completed",
            occurred_at=AT,
            duration_seconds=9,
            channels=2,
            media_ref=media.ref,
            content_type="audio/wav",
        )
    ]


def test_transcription(provider):
    body = TranscriptionBody(
        **COMMON, text="Hi there", speaker="callee", confidence=0.9, start_seconds=1.5
    )
    _, events, _ = parse(provider, body)
    assert events == [
        TranscriptSegment(
            provider_call_id=CALL,
            text="Hi there",
            speaker="callee",
            confidence=0.9,
            start_seconds=1.5,
            final=True,
            sequence=7,
            occurred_at=AT,
        )
    ]


def test_payment_progress(provider):
    body = PaymentBody(
        **COMMON,
        session_id=SESSION,
        field="payment-card-number",
        digits=16,
        masked="xxxxxxxxxxxx4242",
        card_type="visa",
        required=["expiration-date", "security-code"],
    )
    key, events, payload = parse(provider, body)
    assert key == "EV42"
    assert events == [
        PaymentProgress(
            provider_call_id=CALL,
            session_id=SESSION,
            field=CaptureField.CARD_NUMBER,
            digits=16,
            masked="xxxxxxxxxxxx4242",
            card_type="visa",
            required=("expiration-date", "security-code"),
            occurred_at=AT,
        )
    ]
    assert payload["masked"] == "xxxxxxxxxxxx4242"


def test_a_payment_outcome(provider):
    body = PaymentBody(
        **COMMON,
        session_id=SESSION,
        payment_result="payment-connector-error",
        payment_error="card_declined",
    )
    [event] = parse(provider, body)[1]
    assert event.capture == PaymentCapture(
        status="failed", result="payment-connector-error", error="card_declined"
    )
    assert (event.field, event.partial, event.digits, event.masked) == (None, False, 0, None)


@pytest.mark.parametrize(
    ("field", "keyed", "masked"),
    [
        ("payment-card-number", "4242424242424242", "xxxxxxxxxxxx4242"),
        ("payment-card-number", "424242424242", "xxxxxxxx4242"),
        ("payment-card-number", "42424242424", "x" * 11),  # fewer than twelve: all hidden
        ("payment-card-number", "xxxxxxxxxxxx42x2", "x" * 16),
        ("expiration-date", "1230", "xxxx"),
        ("security-code", "123", "xxx"),
        ("postal-code", "94107", "xxxxx"),
    ],
)
def test_what_was_keyed_is_read_masked(provider, field, keyed, masked):
    """A delivery carrying digits (crafted by hand: the carrier sends masks) is read, kept
    and reported with at most a card number's last four."""
    raw = (
        b'{"kind":"payment","call_id":"%s","sequence":1,"occurred_at":"2026-01-02T03:04:05Z",'
        b'"session_id":"%s","field":"%s","digits":%d,"masked":"%s"}'
        % (CALL.encode(), SESSION.encode(), field.encode(), len(keyed), keyed.encode())
    )
    parsed = provider.parse_webhook(webhook("payment", raw))
    [event] = parsed.events
    assert (event.masked, event.digits) == (masked, len(keyed))
    assert parsed.payload["masked"] == masked


@pytest.mark.parametrize(
    "fields",
    [
        {"session_id": "PK" + "c" * 32},
        {"session_id": SESSION, "field": "pin"},
        {"session_id": SESSION, "field": "security-code", "digits": 2, "masked": "xxx"},
        {"session_id": SESSION, "payment_result": "paid"},
        {"session_id": SESSION, "payment_confirmation": "pi_123"},
    ],
    ids=["session-id", "field", "count", "result", "confirmation"],
)
def test_a_malformed_payment_report(fields):
    with pytest.raises(ValidationError):
        PaymentBody(**COMMON, **fields)


def test_unknown_fields_are_ignored(provider):
    raw = (
        b'{"kind":"gather","call_id":"%s","sequence":1,"occurred_at":"2026-01-02T03:04:05Z",'
        % (CALL.encode())
        + b'"result":"digits","digits":"1","new_in_v2":true}'
    )
    [event] = provider.parse_webhook(webhook("gather", raw)).events
    assert event.digits == "1"


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("status", b"not json", "not a loopback status webhook"),
        ("status", b"{}", "not a loopback status webhook"),
        ("dance", b"{}", "loopback sends no 'dance' webhooks"),
        (
            "gather",
            body_bytes(
                StatusBody(
                    **COMMON,
                    status="ringing",
                    direction="outbound",
                    from_number="+1",
                    to_number="+2",
                )
            ),
            "a status body sent to the gather webhook",
        ),
        (
            "status",
            b'{"kind":"status","call_id":"CA1","sequence":1,"occurred_at":"2026-01-02T03:04:05Z",'
            b'"status":"ringing","direction":"outbound","from_number":"+1","to_number":"+2"}',
            "call_id",
        ),
        (
            "status",
            b'{"kind":"status","call_id":"%s","sequence":1,"occurred_at":"2026-01-02T03:04:05",'
            b'"status":"ringing","direction":"outbound","from_number":"+1","to_number":"+2"}'
            % CALL.encode(),
            "occurred_at",
        ),
    ],
    ids=["not-json", "empty", "unknown-kind", "kind-mismatch", "bad-call-id", "naive-time"],
)
def test_malformed(provider, kind, raw, message):
    with pytest.raises(WebhookMalformed, match=message):
        provider.parse_webhook(webhook(kind, raw))


def test_no_event_id_is_malformed(provider):
    bare = WebhookRequest(kind="status", method="POST", url="http://x", headers={}, body=b"{}")
    with pytest.raises(WebhookMalformed, match="Loopback-Event-Id"):
        provider.parse_webhook(bare)


CALL_REF = CallRef(
    id=uuid.uuid4(),
    provider_call_id=CALL,
    direction=Direction.OUTBOUND,
    status=CallStatus.IN_PROGRESS,
    from_number="+15005550100",
    to_number="+15005550199",
)


async def test_execute_answers_with_the_instructions_as_json(provider):
    steps = [
        Say(text="Press 1 for sales"),
        Gather(prompt=[Say(text="Choose"), Pause(seconds=2)], num_digits=1),
        Play(url="https://example.com/a.wav", loop=2),
        Record(max_seconds=30),
        Conference(name="room-1", muted=True),
        Dial(number="+15005550123"),
        Hangup(),
    ]
    answer = await provider.execute(CALL_REF, steps)
    assert answer.content_type == "application/json"
    assert answer.status_code == 200
    assert InstructionList.model_validate_json(answer.body).steps == steps
    as_dicts = [step.model_dump() for step in steps]
    assert (await provider.execute(CALL_REF, as_dicts)).body == answer.body
    empty = await provider.execute(CALL_REF, [])
    assert InstructionList.model_validate_json(empty.body).steps == []


async def test_execute_takes_payments(provider):
    steps = [Say(text="Card please"), Pay(amount="10.00")]
    answer = await provider.execute(CALL_REF, steps)
    assert InstructionList.model_validate_json(answer.body).steps == steps


async def test_recording_audio_is_a_wav_of_the_recording_length(provider):
    media = Media(REC, 3, 2)
    audio = await provider.recording_audio(
        RecordingRef(provider_recording_id=REC, provider_call_id=CALL, media_ref=media.ref)
    )
    data = b"".join([chunk async for chunk in audio.chunks])
    assert audio.content_type == "audio/wav"
    assert audio.size == len(data) == 44 + 3 * 8000 * 2 * 2
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        assert wav.getnframes() == 3 * 8000
        assert any(wav.readframes(100))  # a tone, not silence


@pytest.mark.parametrize(
    ("ref", "code"),
    [
        (None, "recording-not-ready"),
        ("https://example.com/a.wav", "recording-unknown"),
        (f"loopback://recordings/{REC}.wav", "recording-unknown"),
        (f"loopback://recordings/{REC}.wav?seconds=99999", "recording-unknown"),
        (f"loopback://recordings/{'RE' + 'c' * 32}.wav?seconds=3", "recording-unknown"),
    ],
)
async def test_recording_audio_refuses_what_it_did_not_make(provider, ref, code):
    with pytest.raises(ProviderRefused) as refused:
        await provider.recording_audio(
            RecordingRef(provider_recording_id=REC, provider_call_id=CALL, media_ref=ref)
        )
    assert refused.value.code == code


def test_capabilities_are_all_of_them():
    assert Capability.SPEECH_RECOGNITION in CAPABILITIES  # the callee's say answers gathers
    assert Capability.SECURE_PAYMENTS in CAPABILITIES  # a simulated connector, test cards
    assert Capability.AGENT_PAYMENTS in CAPABILITIES  # the card in the callee's hand
    assert set(Capability) == CAPABILITIES
