"""The carrier end to end over HTTP: what a scripted callee makes the platform's webhook
receive, in order, signed, retried; and how the platform's instructions drive the call."""

from __future__ import annotations

import asyncio
import io
import wave

import pytest
from loopback_helpers import call, final, place

from kernel.testing import wait_until
from plugins.calls import (
    Conference,
    Dial,
    Gather,
    Hangup,
    Pause,
    Record,
    RecordingRef,
    Say,
)
from plugins.loopback.testing import call_log, ended_status, live_call

LONG = [Pause(seconds=600)]
"""Instructions that keep the platform's side on the line: the callee ends the call."""


async def test_answer_talk_hangup(carrier, receiver, platform):
    receiver.default = LONG
    request = place()
    placed = await carrier.place_call(request)
    assert placed.provider_call_id.startswith("LB")
    assert placed.status == "initiated"
    call_id = placed.provider_call_id
    await wait_until(lambda: receiver.ended(call_id))
    assert receiver.kinds() == ["status", "status", "status", "voice", "status"]
    assert receiver.statuses() == ["initiated", "ringing", "in-progress", "completed"]
    sequences = [r.body["sequence"] for r in receiver.received]
    assert sequences == [1, 2, 3, 4, 5]
    assert len({r.headers["loopback-event-id"] for r in receiver.received}) == 5
    assert receiver.rejected == []
    assert all(r.query == {"call": str(request.call_id)} for r in receiver.received)
    assert all(r.tenant_id == carrier.context.tenant_id for r in receiver.received)
    end = final(receiver, call_id)
    assert end["hangup_cause"] == "callee_hangup"
    assert end["duration_seconds"] == 10  # the default talk time, simulated
    assert end["answered_by"] is None  # nobody asked for machine detection
    [voice] = receiver.of("voice")
    assert voice.event.reason == "answered"
    assert voice.event.to_number == "+15005550199"
    await wait_until(lambda: ended_status(platform, call_id) == "completed")
    assert live_call(platform, call_id) is None


async def test_the_platform_hangs_up_when_its_instructions_run_out(carrier, receiver):
    receiver.default = [Say(text="Hello, this is a reminder of your appointment tomorrow.")]
    call_id = await call(carrier, receiver, place())
    end = final(receiver, call_id)
    assert end["hangup_cause"] == "caller_hangup"
    assert end["duration_seconds"] == 4  # nine words at 2.5 a second


async def test_an_empty_answer_hangs_up_at_once(carrier, receiver):
    receiver.default = []
    call_id = await call(carrier, receiver, place())
    assert final(receiver, call_id)["hangup_cause"] == "caller_hangup"
    assert final(receiver, call_id)["duration_seconds"] == 0


@pytest.mark.parametrize(
    ("number", "statuses", "cause"),
    [
        ("+15005550001", ["initiated", "busy"], "user_busy"),
        ("+15005550002", ["initiated", "ringing", "no-answer"], "no_answer"),
        ("+15005550003", ["initiated", "failed"], "unallocated_number"),
    ],
    ids=["busy", "no-answer", "failed"],
)
async def test_unanswered(carrier, receiver, number, statuses, cause):
    started = asyncio.get_running_loop().time()
    call_id = await call(carrier, receiver, place(number, timeout_seconds=20))
    assert receiver.statuses() == statuses
    assert receiver.of("voice") == []
    assert final(receiver, call_id)["hangup_cause"] == cause
    assert final(receiver, call_id)["duration_seconds"] == 0
    if number.endswith("0002"):  # rang until the caller's timeout: 20 s at 1/100
        assert asyncio.get_running_loop().time() - started >= 0.2


async def test_a_ring_longer_than_the_timeout_is_no_answer(carrier, receiver):
    script = [{"step": "ring", "seconds": 60}, "answer"]
    call_id = await call(carrier, receiver, place(timeout_seconds=5, options={"script": script}))
    assert receiver.statuses() == ["initiated", "ringing", "no-answer"]
    assert final(receiver, call_id)["hangup_cause"] == "no_answer"


async def test_answering_machine(carrier, receiver):
    receiver.default = LONG
    call_id = await call(carrier, receiver, place("+15005550004", machine_detection=True))
    answered = [b for b in receiver.bodies("status") if b["status"] == "in-progress"]
    assert answered[0]["answered_by"] == "machine"
    assert receiver.bodies("voice")[0]["answered_by"] == "machine"
    [greeting] = receiver.of("transcription")
    assert greeting.event.speaker == "callee"
    assert "leave a message" in greeting.event.text
    assert final(receiver, call_id)["answered_by"] is None


async def test_machine_detection_off_says_nothing_about_who_answered(carrier, receiver):
    receiver.default = LONG
    await call(carrier, receiver, place("+15005550004"))
    assert all(b["answered_by"] is None for b in receiver.bodies("status"))


async def test_gather_takes_the_callee_presses(carrier, receiver):
    menu = [Gather(prompt=[Say(text="Press 1 for sales, 2 for support")], num_digits=None)]
    receiver.answer(menu, [Say(text="Connecting"), Gather(num_digits=2)], [Hangup()])
    script = [
        "answer",
        {"step": "press", "digits": "42#9"},
        {"step": "press", "digits": "7"},
        {"step": "wait", "seconds": 100},
        "hangup",
    ]
    call_id = await call(carrier, receiver, place(options={"script": script}))
    gathers = receiver.of("gather")
    assert [g.event.digits for g in gathers] == ["42", "7"]
    assert [g.event.reason for g in gathers] == ["gathered", "gathered"]
    assert final(receiver, call_id)["hangup_cause"] == "caller_hangup"
    assert ("pressed", "42#9") in call_log(carrier.context.platform, call_id)


async def test_gather_keeps_at_most_num_digits(carrier, receiver):
    receiver.answer([Gather(num_digits=3)], [])
    script = ["answer", {"step": "press", "digits": "123456"}]
    await call(carrier, receiver, place(options={"script": script}))
    assert receiver.of("gather")[0].event.digits == "123"


async def test_gather_without_input_times_out(carrier, receiver):
    receiver.answer([Gather(timeout_seconds=3), Say(text="not reached")], [Say(text="Bye")])
    script = ["answer", {"step": "wait", "seconds": 500}, "hangup"]
    call_id = await call(carrier, receiver, place(options={"script": script}))
    [gather] = receiver.of("gather")
    assert gather.body["result"] == "no-input"
    assert gather.event.digits is None
    assert final(receiver, call_id)["hangup_cause"] == "caller_hangup"
    assert final(receiver, call_id)["duration_seconds"] == 4  # 3 s of silence, 1 s of "Bye"


async def test_the_callee_of_0005_presses_1(carrier, receiver):
    receiver.answer([Gather(num_digits=1)], LONG)
    await call(carrier, receiver, place("+15005550005"))
    assert receiver.of("gather")[0].event.digits == "1"


SPEECH_MENU = Gather(dtmf=False, speech=True, prompt=[Say(text="How can we help?")])


async def test_a_speech_gather_is_answered_by_what_the_callee_says(carrier, receiver):
    receiver.answer([SPEECH_MENU, Say(text="not reached")], [Hangup()])
    script = [
        "answer",
        {"step": "wait", "seconds": 1},
        {"step": "say", "text": "I have a billing question"},
        {"step": "wait", "seconds": 100},
        "hangup",
    ]
    call_id = await call(carrier, receiver, place(options={"script": script}))
    [gather] = receiver.of("gather")
    assert (gather.body["result"], gather.body["speech"], gather.body["confidence"]) == (
        "speech",
        "I have a billing question",
        1.0,
    )
    assert (gather.event.speech, gather.event.confidence, gather.event.digits) == (
        "I have a billing question",
        1.0,
        None,
    )
    [segment] = receiver.of("transcription")  # still part of the transcript, sent first
    assert segment.event.text == "I have a billing question"
    assert segment.body["sequence"] < gather.body["sequence"]
    assert final(receiver, call_id)["hangup_cause"] == "caller_hangup"
    assert final(receiver, call_id)["duration_seconds"] == 3  # 1 s waited, 2 s spoken
    assert ("said", "I have a billing question") in call_log(carrier.context.platform, call_id)


async def test_a_speech_gather_hears_the_callee_out(carrier, receiver):
    receiver.answer([Gather(speech=True, timeout_seconds=2)], [Hangup()])
    sentence = " ".join(["word"] * 20)  # 8 s: longer than the gather's window
    script = ["answer", {"step": "wait", "seconds": 1}, {"step": "say", "text": sentence}]
    call_id = await call(carrier, receiver, place(options={"script": script}))
    [gather] = receiver.of("gather")
    assert gather.event.speech == sentence
    assert final(receiver, call_id)["duration_seconds"] == 9


async def test_a_speech_only_gather_ignores_presses(carrier, receiver):
    speech_only = Gather(dtmf=False, speech=True, timeout_seconds=3)
    receiver.answer([speech_only], [Gather(num_digits=1)], [Hangup()])
    script = ["answer", {"step": "press", "digits": "5"}, {"step": "wait", "seconds": 100}]
    await call(carrier, receiver, place(options={"script": script}))
    first, second = receiver.of("gather")
    assert (first.body["result"], first.event.digits, first.event.speech) == (
        "no-input",
        None,
        None,
    )
    assert (second.body["result"], second.event.digits) == ("digits", "5")  # the next menu's


@pytest.mark.parametrize(
    ("step", "result", "digits", "speech"),
    [
        ({"step": "press", "digits": "2"}, "digits", "2", None),
        ({"step": "say", "text": "Support"}, "speech", None, "Support"),
    ],
)
async def test_a_gather_for_keys_and_speech_takes_either(
    carrier, receiver, step, result, digits, speech
):
    receiver.answer([Gather(speech=True, num_digits=1, timeout_seconds=5)], [Hangup()])
    script = ["answer", {"step": "wait", "seconds": 1}, step, {"step": "wait", "seconds": 100}]
    await call(carrier, receiver, place(options={"script": script}))
    [gather] = receiver.of("gather")
    assert (gather.body["result"], gather.event.digits, gather.event.speech) == (
        result,
        digits,
        speech,
    )


async def test_a_gather_for_keys_only_does_not_take_speech(carrier, receiver):
    receiver.answer([Gather(timeout_seconds=5)], [Hangup()])
    script = ["answer", {"step": "wait", "seconds": 1}, {"step": "say", "text": "Operator"}]
    await call(carrier, receiver, place(options={"script": script}))
    [gather] = receiver.of("gather")
    assert (gather.body["result"], gather.event.speech) == ("no-input", None)
    [segment] = receiver.of("transcription")
    assert segment.event.text == "Operator"


async def test_speech_before_the_gather_opens_answers_nothing(carrier, receiver):
    receiver.answer([Pause(seconds=3), SPEECH_MENU], [Hangup()])
    script = ["answer", {"step": "say", "text": "Hello?"}, {"step": "wait", "seconds": 100}]
    await call(carrier, receiver, place(options={"script": script}))
    [gather] = receiver.of("gather")
    assert gather.body["result"] == "no-input"


async def test_callee_speech_becomes_transcript_segments(carrier, receiver):
    receiver.default = LONG
    script = [
        "answer",
        {"step": "wait", "seconds": 2},
        {"step": "say", "text": "Hello I am calling about my order"},
        {"step": "say", "text": "Thanks"},
        "hangup",
    ]
    await call(carrier, receiver, place(options={"script": script}))
    first, second = (r.event for r in receiver.of("transcription"))
    assert (first.text, first.speaker, first.final) == (
        "Hello I am calling about my order",
        "callee",
        True,
    )
    assert first.start_seconds == 2
    assert first.end_seconds == 4.8  # seven words at 2.5 a second
    assert (second.start_seconds, second.end_seconds) == (4.8, 5.8)
    assert second.sequence > first.sequence
    assert receiver.of("transcription")[0].body["confidence"] > 0.9


async def test_the_0006_callee_speaks(carrier, receiver):
    receiver.default = LONG
    await call(carrier, receiver, place("+15005550006"))
    [segment] = receiver.of("transcription")
    assert "talk to someone" in segment.event.text


async def test_a_recorded_call_has_a_recording_with_audio(carrier, receiver):
    receiver.default = LONG
    call_id = await call(carrier, receiver, place(record=True))
    assert receiver.kinds() == [
        "status",
        "status",
        "status",
        "recording",
        "voice",
        "recording",
        "status",
    ]
    started, done = receiver.of("recording")
    assert started.event.status == "in-progress"
    assert done.event.status == "completed"
    assert done.event.provider_recording_id == started.event.provider_recording_id
    assert done.event.channels == 2
    assert done.event.duration_seconds == 10
    assert done.event.content_type == "audio/wav"
    audio = await carrier.recording_audio(
        RecordingRef(
            provider_recording_id=done.event.provider_recording_id,
            provider_call_id=call_id,
            media_ref=done.event.media_ref,
        )
    )
    data = b"".join([chunk async for chunk in audio.chunks])
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getnframes() / wav.getframerate() == 10
        assert wav.getnchannels() == 2


async def test_record_instruction_records_until_the_callee_hangs_up(carrier, receiver):
    receiver.default = [Say(text="Leave a message"), Record(max_seconds=120), Say(text="Bye")]
    script = [
        "answer",
        {"step": "wait", "seconds": 2},
        {"step": "say", "text": "It is Bob, call me back"},
        "hangup",
    ]
    call_id = await call(carrier, receiver, place(options={"script": script}))
    started, done = receiver.of("recording")
    assert (started.event.status, done.event.status) == ("in-progress", "completed")
    assert done.event.channels == 1
    assert done.event.duration_seconds == 3  # from 1.2 s (after the prompt) to 4.4 s
    assert receiver.kinds()[-5:] == ["voice", "recording", "transcription", "recording", "status"]
    assert final(receiver, call_id)["hangup_cause"] == "callee_hangup"


async def test_record_instruction_stops_after_silence_then_goes_on(carrier, receiver):
    receiver.default = [Record(max_seconds=120), Say(text="Thank you")]
    script = ["answer", {"step": "say", "text": "Hi"}]  # then silence, on the line
    call_id = await call(carrier, receiver, place(options={"script": script}))
    _, done = receiver.of("recording")
    assert done.event.duration_seconds == 6  # one second of speech, five of silence
    assert final(receiver, call_id)["hangup_cause"] == "caller_hangup"


async def test_record_instruction_stops_at_max_seconds(carrier, receiver):
    receiver.default = [Record(max_seconds=3)]
    script = ["answer", {"step": "wait", "seconds": 100}, "hangup"]
    await call(carrier, receiver, place(options={"script": script}))
    _, done = receiver.of("recording")
    assert done.event.duration_seconds == 3


async def test_dial_ends_the_leg_as_transferred(carrier, receiver, platform):
    receiver.default = [Say(text="Transferring you"), Dial(number="+15005550123")]
    call_id = await call(carrier, receiver, place())
    assert final(receiver, call_id)["hangup_cause"] == "transferred"
    assert ("dial", "+15005550123") in call_log(platform, call_id)


async def test_a_conference_holds_the_leg_until_the_callee_leaves(carrier, receiver, platform):
    receiver.default = [Conference(name="team-room"), Say(text="never reached")]
    call_id = await call(carrier, receiver, place())
    assert final(receiver, call_id)["hangup_cause"] == "callee_hangup"
    assert final(receiver, call_id)["duration_seconds"] == 10
    assert ("conference", "team-room") in call_log(platform, call_id)


async def test_failed_deliveries_are_retried_with_the_same_event_id(carrier, receiver):
    receiver.default = []
    receiver.fail.extend([500, 503])
    await call(carrier, receiver, place())
    first_id = receiver.received[0].headers["loopback-event-id"]
    assert [a for a in receiver.attempts if a[1] == first_id] == [("status", first_id)] * 3
    assert receiver.statuses() == ["initiated", "ringing", "in-progress", "completed"]


async def test_a_voice_webhook_that_keeps_failing_ends_the_call(carrier, receiver, caplog):
    receiver.refuse["voice"] = 500
    call_id = await call(carrier, receiver, place())
    assert sum(1 for kind, _ in receiver.attempts if kind == "voice") == 4
    assert final(receiver, call_id)["hangup_cause"] == "application_error"
    assert "gave up on the voice webhook" in caplog.text


async def test_an_answer_that_is_not_instructions_ends_the_call(carrier, receiver):
    receiver.answer(b'{"steps": [{"kind": "sing"}]}')
    call_id = await call(carrier, receiver, place())
    assert final(receiver, call_id)["hangup_cause"] == "application_error"


async def test_status_reports_the_platform_refuses_are_given_up(carrier, receiver):
    receiver.refuse["status"] = 403
    receiver.default = []
    placed = await carrier.place_call(place())
    platform = carrier.context.platform
    await wait_until(lambda: ended_status(platform, placed.provider_call_id) is not None)
    assert receiver.of("status") == []
    assert len(receiver.of("voice")) == 1  # the call went on regardless


async def test_calls_run_side_by_side(carrier, receiver):
    receiver.default = [Say(text="Hello")]
    placed = [await carrier.place_call(place()) for _ in range(5)]
    await wait_until(lambda: all(receiver.ended(p.provider_call_id) for p in placed))
    for p in placed:
        assert receiver.statuses(p.provider_call_id) == [
            "initiated",
            "ringing",
            "in-progress",
            "completed",
        ]
