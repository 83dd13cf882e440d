"""Twilio's webhooks as normalized events (parsing only; signatures are checked elsewhere)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio_helpers import ACME_NUMBER, CALLEE, offline_provider, offline_url

from plugins.calls import (
    AnsweredBy,
    CallProgress,
    CallStatus,
    CaptureField,
    Direction,
    InstructionsNeeded,
    ParsedWebhook,
    PaymentProgress,
    RecordingProgress,
    TranscriptSegment,
    WebhookMalformed,
    WebhookRequest,
)

SID = "CA" + "a" * 32
ACCOUNT = "AC" + "b" * 32
RECORDING = "RE" + "c" * 32


def webhook(
    kind: str, form: dict[str, str], *, token: str | None = "tok-1", method: str = "POST"
) -> WebhookRequest:
    headers = {"x-twilio-signature": "checked-elsewhere"}
    if token:
        headers["i-twilio-idempotency-token"] = token
    post = method == "POST"
    return WebhookRequest(
        kind=kind,
        method=method,
        url=offline_url(kind),
        headers=headers,
        body=b"",
        form=form if post else None,
        query={} if post else form,
    )


def parse(kind: str, form: dict[str, str], **options: Any) -> ParsedWebhook:
    return offline_provider().parse_webhook(webhook(kind, form, **options))


def call_form(**fields: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "CallSid": SID,
        "Direction": "outbound-api",
        "From": ACME_NUMBER,
        "To": CALLEE,
    } | fields


# --- status --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("twilio", "status"),
    [
        ("queued", CallStatus.QUEUED),
        ("initiated", CallStatus.INITIATED),
        ("ringing", CallStatus.RINGING),
        ("in-progress", CallStatus.IN_PROGRESS),
        ("completed", CallStatus.COMPLETED),
        ("busy", CallStatus.BUSY),
        ("no-answer", CallStatus.NO_ANSWER),
        ("failed", CallStatus.FAILED),
        ("canceled", CallStatus.CANCELED),
    ],
)
def test_every_call_status(twilio, status):
    [progress] = parse("status", call_form(CallStatus=twilio)).events
    assert isinstance(progress, CallProgress)
    assert progress.status is status


def test_a_status_callback_in_full():
    parsed = parse(
        "status",
        call_form(
            CallStatus="completed",
            SequenceNumber="3",
            Timestamp="Sun, 22 Nov 2026 10:15:30 +0000",
            CallDuration="42",
            Duration="1",
            AnsweredBy="human",
            SipResponseCode="200",
            ParentCallSid="CA" + "9" * 32,
            CallbackSource="call-progress-events",
        ),
    )
    assert parsed.events == (
        CallProgress(
            provider_call_id=SID,
            status=CallStatus.COMPLETED,
            occurred_at=datetime(2026, 11, 22, 10, 15, 30, tzinfo=UTC),
            sequence=3,
            direction=Direction.OUTBOUND,
            from_number=ACME_NUMBER,
            to_number=CALLEE,
            answered_by=AnsweredBy.HUMAN,
            hangup_cause=None,  # a normal ending
            duration_seconds=42,
            parent_provider_call_id="CA" + "9" * 32,
        ),
    )


@pytest.mark.parametrize(
    ("fields", "cause"),
    [
        ({"CallStatus": "busy", "SipResponseCode": "486"}, "sip:486"),
        ({"CallStatus": "no-answer", "SipResponseCode": "487"}, "sip:487"),
        ({"CallStatus": "failed", "SipResponseCode": "404", "ErrorCode": "32009"}, "twilio:32009"),
        ({"CallStatus": "ringing", "SipResponseCode": "180"}, None),  # not over yet
    ],
)
def test_hangup_cause(fields, cause):
    [progress] = parse("status", call_form(**fields)).events
    assert progress.hangup_cause == cause


@pytest.mark.parametrize(
    ("twilio", "answered_by"),
    [
        ("human", AnsweredBy.HUMAN),
        ("machine_start", AnsweredBy.MACHINE),
        ("machine_end_beep", AnsweredBy.MACHINE),
        ("machine_end_silence", AnsweredBy.MACHINE),
        ("machine_end_other", AnsweredBy.MACHINE),
        ("fax", AnsweredBy.MACHINE),
        ("unknown", AnsweredBy.UNKNOWN),
    ],
)
def test_answered_by(twilio, answered_by):
    [progress] = parse("status", call_form(CallStatus="in-progress", AnsweredBy=twilio)).events
    assert progress.answered_by is answered_by


@pytest.mark.parametrize(
    "fields",
    [
        {"CallStatus": "ringing", "SequenceNumber": "two"},
        {"CallStatus": "completed", "CallDuration": "4.5"},
        {"CallStatus": "answered"},  # an event name, not a status
        {},
    ],
)
def test_a_malformed_status_callback(fields):
    with pytest.raises(WebhookMalformed):
        parse("status", call_form(**fields))


def test_an_unreadable_timestamp_is_left_out():
    [progress] = parse("status", call_form(CallStatus="ringing", Timestamp="yesterday")).events
    assert progress.occurred_at is None


# --- voice and gather ----------------------------------------------------------------------


def test_an_answered_outbound_call_asks_for_instructions():
    parsed = parse("voice", call_form(CallStatus="in-progress", AnsweredBy="machine_start"))
    progress, needed = parsed.events
    assert isinstance(progress, CallProgress)
    assert progress.status is CallStatus.IN_PROGRESS
    assert progress.answered_by is AnsweredBy.MACHINE
    assert needed == InstructionsNeeded(
        provider_call_id=SID,
        reason="answered",
        direction=Direction.OUTBOUND,
        from_number=ACME_NUMBER,
        to_number=CALLEE,
    )


def test_an_inbound_call_asks_for_instructions():
    form = call_form(CallStatus="ringing", Direction="inbound", From=CALLEE, To=ACME_NUMBER)
    progress, answering, needed = parse("voice", form).events
    assert progress.status is CallStatus.RINGING
    assert progress.direction is Direction.INBOUND
    # Twilio answers it to run the TwiML this request gets; no status callback will say so.
    assert (answering.status, answering.direction) == (CallStatus.IN_PROGRESS, Direction.INBOUND)
    assert isinstance(needed, InstructionsNeeded)
    assert (needed.reason, needed.from_number, needed.to_number) == ("inbound", CALLEE, ACME_NUMBER)


@pytest.mark.parametrize(
    ("digits", "expected"), [("12#", "12#"), ("", None), ("hangup", None), (None, None)]
)
def test_gathered_digits(digits, expected):
    fields = {"CallStatus": "in-progress"} | ({"Digits": digits} if digits is not None else {})
    [needed] = parse("gather", call_form(**fields)).events
    assert needed == InstructionsNeeded(provider_call_id=SID, reason="gathered", digits=expected)


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [("0.9138919", 0.9138919), ("1", 1.0), ("", None), ("high", None), ("1.5", None)],
)
def test_gathered_speech(confidence, expected):
    form = call_form(CallStatus="in-progress", SpeechResult="Billing, please.")
    [needed] = parse("gather", form | {"Confidence": confidence}).events
    assert needed == InstructionsNeeded(
        provider_call_id=SID, reason="gathered", speech="Billing, please.", confidence=expected
    )


@pytest.mark.parametrize("fields", [{"SpeechResult": ""}, {"SpeechResult": "  "}, {}])
def test_no_speech_is_no_input(fields):
    form = call_form(CallStatus="in-progress", Digits="", Confidence="0.5", **fields)
    [needed] = parse("gather", form).events
    assert needed == InstructionsNeeded(provider_call_id=SID, reason="gathered")


def test_keys_and_speech_are_both_passed_on():
    form = call_form(Digits="2", SpeechResult="two", Confidence="0.8")
    [needed] = parse("gather", form).events
    assert (needed.digits, needed.speech, needed.confidence) == ("2", "two", 0.8)


# --- recordings ----------------------------------------------------------------------------


def recording_form(**fields: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT,
        "CallSid": SID,
        "RecordingSid": RECORDING,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING}",
        "RecordingStatus": "completed",
        "RecordingDuration": "17",
        "RecordingChannels": "2",
        "RecordingSource": "StartCallRecordingAPI",
    } | fields


def test_a_completed_recording():
    [progress] = parse("recording", recording_form()).events
    assert progress == RecordingProgress(
        provider_call_id=SID,
        provider_recording_id=RECORDING,
        status="completed",
        duration_seconds=17,
        channels=2,
        media_ref=recording_form()["RecordingUrl"],
        content_type="audio/mpeg",
    )


def test_the_media_type_follows_the_configured_format():
    provider = offline_provider(recording_format="wav")
    [progress] = provider.parse_webhook(webhook("recording", recording_form())).events
    assert progress.content_type == "audio/x-wav"


@pytest.mark.parametrize(
    ("twilio", "status"),
    [("in-progress", "in-progress"), ("paused", "paused"), ("absent", "failed")],
)
def test_recording_statuses(twilio, status):
    form = recording_form(RecordingStatus=twilio, RecordingDuration="-1")
    [progress] = parse("recording", form).events
    assert progress.status == status
    assert progress.duration_seconds is None


@pytest.mark.parametrize(
    "fields", [{"RecordingStatus": "exploded"}, {"RecordingSid": ""}, {"RecordingChannels": "x"}]
)
def test_a_malformed_recording_callback(fields):
    with pytest.raises(WebhookMalformed):
        parse("recording", recording_form(**fields))


# --- transcription -------------------------------------------------------------------------


def transcription_form(**fields: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT,
        "CallSid": SID,
        "TranscriptionSid": "GT" + "d" * 32,
        "Timestamp": "2026-11-22T10:15:30.250000Z",
        "SequenceId": "4",
        "TranscriptionEvent": "transcription-content",
        "LanguageCode": "en-US",
        "Track": "inbound_track",
        "TranscriptionData": json.dumps({"transcript": "I want a refund", "confidence": 0.91}),
        "Final": "true",
    } | fields


def test_a_transcript_segment():
    [segment] = parse("transcription", transcription_form()).events
    assert segment == TranscriptSegment(
        provider_call_id=SID,
        text="I want a refund",
        speaker="customer",
        confidence=0.91,
        final=True,
        sequence=4,
        occurred_at=datetime(2026, 11, 22, 10, 15, 30, 250000, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("track", "speaker"),
    [("inbound_track", "customer"), ("outbound_track", "agent"), ("", "unknown")],
)
def test_the_track_says_who_spoke(track, speaker):
    [segment] = parse("transcription", transcription_form(Track=track)).events
    assert segment.speaker == speaker


def test_a_partial_segment():
    [segment] = parse("transcription", transcription_form(Final="false")).events
    assert not segment.final


@pytest.mark.parametrize(
    "fields",
    [
        {"TranscriptionEvent": "transcription-started"},
        {"TranscriptionEvent": "transcription-stopped"},
        {"TranscriptionData": json.dumps({"transcript": "  "})},
    ],
)
def test_transcription_callbacks_without_text(fields):
    parsed = parse("transcription", transcription_form(**fields))
    assert parsed.events == ()
    assert parsed.payload["TranscriptionEvent"] == fields.get(
        "TranscriptionEvent", "transcription-content"
    )


@pytest.mark.parametrize("data", ["not json", "[]", json.dumps({"text": "hi"})])
def test_malformed_transcription_data(data):
    with pytest.raises(WebhookMalformed):
        parse("transcription", transcription_form(TranscriptionData=data))


# --- payments and redaction ----------------------------------------------------------------

CARD = {
    "PaymentCardNumber": "xxxxxxxxxxxx1111",
    "ExpirationDate": "1230",
    "SecurityCode": "xxx",
    "PaymentCardPostalCode": "94105",
    "PaymentToken": "tok_abc",
}


@pytest.mark.parametrize("kind", ["payment", "gather"])
def test_card_data_is_never_kept(kind):
    form = call_form(CallStatus="in-progress", Capture="payment-card-number", Result="success")
    parsed = parse(kind, form | CARD)
    assert not set(CARD) & set(parsed.payload)
    assert parsed.payload["Result"] == "success"


def test_a_payment_callback_is_progress_without_card_data():
    [progress] = parse("payment", call_form(Capture="expiration-date") | CARD).events
    assert isinstance(progress, PaymentProgress)
    assert (progress.field, progress.digits, progress.masked) == (
        CaptureField.EXPIRATION_DATE,
        4,
        "xxxx",
    )


def test_the_payload_is_the_form():
    form = call_form(CallStatus="ringing", SequenceNumber="1")
    assert parse("status", form).payload == form  # AccountSid is an id, not a credential


# --- what every kind needs -----------------------------------------------------------------


def test_an_unknown_kind_is_malformed():
    with pytest.raises(WebhookMalformed):
        parse("sms", call_form(CallStatus="ringing"))


@pytest.mark.parametrize("kind", ["voice", "status", "gather", "recording", "transcription"])
def test_a_callback_without_a_call_is_malformed(kind):
    with pytest.raises(WebhookMalformed):
        parse(kind, {"AccountSid": ACCOUNT, "CallStatus": "ringing"})


def test_a_get_callback_is_read_from_the_query():
    [progress] = parse("status", call_form(CallStatus="busy"), method="GET").events
    assert progress.status is CallStatus.BUSY


# --- de-duplication ------------------------------------------------------------------------


def key(kind: str, form: dict[str, str], token: str | None = "tok-1") -> str:
    return parse(kind, form, token=token).dedupe_key


def test_a_status_callback_is_named_by_its_signed_sequence():
    first = call_form(CallStatus="ringing", SequenceNumber="1")
    assert key("status", first, "tok-1") == key("status", first, "tok-2")  # replay, new token
    second = call_form(CallStatus="ringing", SequenceNumber="2")
    assert key("status", first) != key("status", second)
    assert key("status", first) != key(
        "status", call_form(CallStatus="in-progress", SequenceNumber="1")
    )
    other_call = call_form(CallStatus="ringing", SequenceNumber="1", CallSid="CA" + "e" * 32)
    assert key("status", first) != key("status", other_call)


def test_recording_and_transcription_callbacks_are_named_by_their_sids():
    assert key("recording", recording_form(), "a") == key("recording", recording_form(), "b")
    assert key("recording", recording_form()) != key(
        "recording", recording_form(RecordingStatus="in-progress")
    )
    assert key("transcription", transcription_form(), "a") == key(
        "transcription", transcription_form(), "b"
    )
    assert key("transcription", transcription_form()) != key(
        "transcription", transcription_form(SequenceId="5")
    )


def test_other_callbacks_are_named_by_twilios_idempotency_token():
    form = call_form(CallStatus="in-progress")
    assert key("voice", form, "tok-1") == key("voice", form, "tok-1")  # a redelivery
    assert key("voice", form, "tok-1") != key("voice", form, "tok-2")  # a redirect, asked again
    assert key("voice", form, "tok-1") != key("gather", form, "tok-1")


def test_without_a_token_the_whole_form_names_the_callback():
    form = call_form(CallStatus="in-progress", Digits="1")
    assert key("gather", form, None) == key("gather", dict(reversed(form.items())), None)
    assert key("gather", form, None) != key("gather", form | {"Digits": "2"}, None)
