"""Provider-neutral instructions rendered as TwiML (parsed back and checked)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from twilio_helpers import call_ref, offline_provider, offline_url

from plugins.calls import (
    Conference,
    Dial,
    Gather,
    Hangup,
    Pause,
    Pay,
    Play,
    Record,
    Say,
)


async def render(*instructions: object) -> list[ET.Element]:
    answer = await offline_provider().execute(call_ref(), list(instructions))
    assert answer.content_type == "application/xml"
    assert answer.status_code == 200
    assert answer.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(answer.body)
    assert root.tag == "Response"
    return list(root)


async def test_say_play_pause_hangup_in_order():
    say, play, pause, hangup = await render(
        Say(text="Hello <there> & welcome", voice="Polly.Amy", language="en-GB"),
        Play(url="https://cdn.example.com/jingle.mp3", loop=2),
        Pause(seconds=3),
        Hangup(),
    )
    assert (say.tag, say.text, say.attrib) == (
        "Say",
        "Hello <there> & welcome",  # escaped in the XML, intact once parsed
        {"voice": "Polly.Amy", "language": "en-GB"},
    )
    assert (play.tag, play.text, play.attrib) == (
        "Play",
        "https://cdn.example.com/jingle.mp3",
        {"loop": "2"},
    )
    assert (pause.tag, pause.attrib) == ("Pause", {"length": "3"})
    assert (hangup.tag, hangup.attrib, list(hangup)) == ("Hangup", {}, [])


async def test_say_without_a_voice_leaves_it_to_twilio():
    [say] = await render(Say(text="Hi"))
    assert say.attrib == {"language": "en-US"}


async def test_gather_posts_digits_to_the_gather_webhook():
    [gather] = await render(
        Gather(
            prompt=[Say(text="Press 1"), Play(url="https://cdn.example.com/beep.mp3"), Pause()],
            num_digits=1,
            finish_on_key="*",
            timeout_seconds=7,
        )
    )
    assert gather.tag == "Gather"
    assert gather.attrib == {
        "action": offline_url("gather"),
        "method": "POST",
        "input": "dtmf",
        "numDigits": "1",
        "finishOnKey": "*",
        "timeout": "7",
        "actionOnEmptyResult": "true",
    }
    assert [child.tag for child in gather] == ["Say", "Play", "Pause"]


async def test_gather_defaults():
    [gather] = await render(Gather())
    assert "numDigits" not in gather.attrib
    assert gather.attrib["finishOnKey"] == "#"
    assert list(gather) == []


@pytest.mark.parametrize(
    ("dtmf", "speech", "expected"),
    [(True, False, "dtmf"), (False, True, "speech"), (True, True, "dtmf speech")],
)
async def test_gather_listens_for_keys_speech_or_both(dtmf, speech, expected):
    [gather] = await render(Gather(dtmf=dtmf, speech=speech, num_digits=2))
    assert gather.attrib["input"] == expected
    assert ("numDigits" in gather.attrib) is dtmf  # key settings only when keys count
    assert ("finishOnKey" in gather.attrib) is dtmf
    assert ("speechTimeout" in gather.attrib) is speech
    assert ("language" in gather.attrib) is speech


async def test_a_speech_gather_with_language_and_hints():
    [gather] = await render(
        Gather(
            dtmf=False,
            speech=True,
            language="cs-CZ",
            hints=["billing", "technical support", "sales"],
            timeout_seconds=4,
            prompt=[Say(text="How can we help?")],
        )
    )
    assert gather.attrib == {
        "action": offline_url("gather"),
        "method": "POST",
        "input": "speech",
        "timeout": "4",
        "actionOnEmptyResult": "true",
        "language": "cs-CZ",
        "speechTimeout": "auto",
        "hints": "billing, technical support, sales",
    }
    assert [child.tag for child in gather] == ["Say"]


def test_a_hint_with_a_comma_stays_one_phrase():
    from plugins.twilio.instructions import hints

    assert hints(["yes, please", "no", " , ", "no", "new  order"]) == "yes please, no, new order"


async def test_a_speech_gather_without_hints_sends_none():
    [gather] = await render(Gather(speech=True))
    assert gather.attrib["input"] == "dtmf speech"
    assert gather.attrib["language"] == "en-US"
    assert "hints" not in gather.attrib


async def test_dial():
    dial_step = Dial(number="+420777000111", caller_id="+14155550100", timeout_seconds=20)
    [dial] = await render(dial_step)
    assert (dial.tag, dial.text) == ("Dial", "+420777000111")
    assert dial.attrib == {"callerId": "+14155550100", "timeout": "20"}


async def test_dial_without_caller_id():
    [dial] = await render(Dial(number="+420777000111"))
    assert dial.attrib == {"timeout": "30"}


async def test_conference_with_coaching():
    [dial] = await render(
        Conference(
            name="queue-7",
            muted=True,
            coach_call_id="CA" + "2" * 32,
            start_on_enter=False,
            end_on_exit=True,
            beep=True,
        )
    )
    [conference] = dial
    assert (dial.tag, conference.tag, conference.text) == ("Dial", "Conference", "queue-7")
    assert conference.attrib == {
        "muted": "true",
        "beep": "true",
        "startConferenceOnEnter": "false",
        "endConferenceOnExit": "true",
        "coach": "CA" + "2" * 32,
    }


async def test_conference_defaults():
    [dial] = await render(Conference(name="room"))
    assert dial[0].attrib == {
        "muted": "false",
        "beep": "false",
        "startConferenceOnEnter": "true",
        "endConferenceOnExit": "false",
    }


async def test_record_reports_to_the_recording_webhook():
    [record] = await render(Record(max_seconds=120, play_beep=False))
    assert record.tag == "Record"
    assert record.attrib == {
        "action": offline_url("gather"),
        "method": "POST",
        "maxLength": "120",
        "playBeep": "false",
        "recordingStatusCallback": offline_url("recording"),
        "recordingStatusCallbackMethod": "POST",
        "recordingStatusCallbackEvent": "in-progress completed absent",
    }


async def test_record_with_transcription_starts_real_time_transcription():
    start, record = await render(Record(transcribe=True))
    [transcription] = start
    assert (start.tag, transcription.tag, record.tag) == ("Start", "Transcription", "Record")
    assert transcription.attrib == {
        "track": "both_tracks",
        "statusCallbackUrl": offline_url("transcription"),
        "statusCallbackMethod": "POST",
    }


async def test_pay_charges_through_the_connector():
    [pay] = await render(
        Pay(amount="12.50", currency="eur", connector="Stripe", description="Invoice 42")
    )
    assert pay.tag == "Pay"
    assert pay.attrib == {
        "input": "dtmf",
        "action": offline_url("gather"),
        "statusCallback": offline_url("payment"),
        "statusCallbackMethod": "POST",
        "paymentConnector": "Stripe",
        "chargeAmount": "12.50",
        "currency": "eur",
        "description": "Invoice 42",
        "timeout": "10",
        "maxAttempts": "3",
    }


async def test_pay_without_an_amount_tokenizes_the_card():
    [pay] = await render(Pay())
    assert pay.attrib["tokenType"] == "one-time"
    assert "chargeAmount" not in pay.attrib


async def test_instructions_in_their_json_form():
    say, hangup = await render({"kind": "say", "text": "Bye"}, {"kind": "hangup"})
    assert (say.tag, say.text, hangup.tag) == ("Say", "Bye", "Hangup")


async def test_an_invalid_instruction_is_an_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        await render({"kind": "teleport"})


def test_the_empty_answer_is_an_empty_response():
    answer = offline_provider().empty_answer()
    assert answer.content_type == "application/xml"
    root = ET.fromstring(answer.body)
    assert (root.tag, list(root), root.attrib) == ("Response", [], {})
