"""Instructions as Call Control commands: the first step is issued, the rest rides in
client_state and comes back with the webhook that ends the step."""

from __future__ import annotations

import base64
import json
import secrets
import uuid

import pytest
from telnyx_helpers import CALLEE, CALLER, as_json, call_ref

from plugins.calls import (
    CallStatus,
    Conference,
    Dial,
    Direction,
    Gather,
    Hangup,
    InstructionsNeeded,
    Pause,
    Pay,
    Play,
    ProviderRefused,
    Record,
    Say,
    WebhookAnswer,
)
from plugins.telnyx.steps import compact
from plugins.telnyx.webhooks import parse_body

MUSIC = "https://audio.example.test/music.mp3"


async def dialled(provider) -> str:
    from plugins.calls import PlaceCall

    placed = await provider.place_call(
        PlaceCall(call_id=uuid.uuid4(), from_number=CALLER, to_number=CALLEE)
    )
    return placed.provider_call_id


def decoded(client_state: str) -> dict:
    return json.loads(base64.b64decode(client_state))


def arrives(telnyx, call_control_id: str, event_type: str, **fields) -> list:
    """The webhook Telnyx sends next, parsed as the calls plugin would see it."""
    document = telnyx.build_event(call_control_id, event_type, **fields)
    return list(parse_body(json.dumps(document).encode()).events)


async def test_the_first_step_is_a_command_and_the_rest_rides_along(provider, telnyx):
    call_control_id = await dialled(provider)
    call = call_ref(call_control_id)
    steps = [Say(text="Hello"), Play(url=MUSIC, loop=2), Hangup()]
    answer = await provider.execute(call, steps)
    assert answer == WebhookAnswer()
    [speak] = telnyx.commands(call_control_id)
    state = decoded(speak.body.pop("client_state"))
    assert speak.action == "speak"
    assert speak.body == {
        "payload": "Hello",
        "payload_type": "text",
        "voice": "female",
        "language": "en-US",
        "stop": "all",
        "command_id": speak.command_id,
    }
    assert state == {
        "call_id": str(call.id),
        "on": "call.speak.ended",
        "rest": [{"kind": "play", "url": MUSIC, "loop": 2}, {"kind": "hangup"}],
        "call_control_id": call_control_id,
    }


async def test_a_script_runs_to_its_end_through_webhooks(provider, telnyx):
    call_control_id = await dialled(provider)
    call = call_ref(call_control_id)
    await provider.execute(call, [Say(text="Hello"), Play(url=MUSIC), Hangup()])
    [needed] = arrives(telnyx, call_control_id, "call.speak.ended")
    assert needed == InstructionsNeeded(
        call_control_id, "continue", instructions=as_json(Play(url=MUSIC), Hangup())
    )
    await provider.execute(call, needed.instructions)
    arrives(telnyx, call_control_id, "call.playback.started")
    [needed] = arrives(telnyx, call_control_id, "call.playback.ended")
    assert needed.instructions == as_json(Hangup())
    await provider.execute(call, needed.instructions)
    commands = telnyx.commands(call_control_id)
    assert [c.action for c in commands] == ["speak", "playback_start", "hangup"]
    assert len({c.command_id for c in commands}) == 3  # a fresh command id per command


async def test_an_inbound_call_is_answered_first(provider, telnyx):
    incoming = telnyx.incoming_call(CALLEE, CALLER)
    ringing = call_ref(
        incoming.call_control_id, direction=Direction.INBOUND, status=CallStatus.RINGING
    )
    steps = [Say(text="Welcome"), Hangup()]
    await provider.execute(ringing, steps)
    [answer] = telnyx.commands(incoming.call_control_id)
    assert answer.action == "answer"
    assert decoded(answer.body["client_state"])["on"] == "call.answered"
    progress, needed = arrives(telnyx, incoming.call_control_id, "call.answered")
    assert progress.status is CallStatus.IN_PROGRESS
    assert needed.reason == "continue"
    assert needed.instructions == as_json(*steps)
    answered = call_ref(incoming.call_control_id, direction=Direction.INBOUND)
    await provider.execute(answered, needed.instructions)
    assert [c.action for c in telnyx.commands(incoming.call_control_id)] == ["answer", "speak"]


async def test_an_inbound_call_hung_up_at_once_is_not_answered(provider, telnyx):
    incoming = telnyx.incoming_call(CALLEE, CALLER)
    ringing = call_ref(
        incoming.call_control_id, direction=Direction.INBOUND, status=CallStatus.INITIATED
    )
    await provider.execute(ringing, [Hangup()])
    assert [c.action for c in telnyx.commands(incoming.call_control_id)] == ["hangup"]


async def test_nothing_to_do_sends_nothing(provider, telnyx):
    assert await provider.execute(call_ref("v3:x"), []) == WebhookAnswer()
    assert telnyx.requests == []


async def test_instructions_may_come_as_json(provider, telnyx):
    call_control_id = await dialled(provider)
    await provider.execute(call_ref(call_control_id), [{"kind": "say", "text": "Hi"}])
    assert [c.action for c in telnyx.commands(call_control_id)] == ["speak"]


async def test_a_call_without_a_call_control_id(provider):
    with pytest.raises(ProviderRefused, match="call control id"):
        await provider.execute(call_ref(None), [Say(text="Hi")])


async def test_a_failing_command_is_retried_with_its_command_id(provider, telnyx):
    call_control_id = await dialled(provider)
    telnyx.fail_next(1, status=502)
    await provider.execute(call_ref(call_control_id), [Say(text="Hi")])
    speaks = [r for r in telnyx.requests if r.action == "speak"]
    assert [r.status for r in speaks] == [502, 200]
    assert speaks[0].command_id == speaks[1].command_id


# --- gathering -----------------------------------------------------------------------------


async def test_a_gather_with_a_spoken_prompt(provider, telnyx):
    call_control_id = await dialled(provider)
    gather = Gather(prompt=[Say(text="Press 1")], num_digits=1, timeout_seconds=7)
    await provider.execute(call_ref(call_control_id), [gather, Say(text="Bye")])
    [command] = telnyx.commands(call_control_id, "gather_using_speak")
    state = decoded(command.body.pop("client_state"))
    assert command.body == {
        "payload": "Press 1",
        "payload_type": "text",
        "voice": "female",
        "language": "en-US",
        "minimum_digits": 1,
        "maximum_digits": 1,
        "terminating_digit": "#",
        "timeout_millis": 7000,
        "inter_digit_timeout_millis": 7000,
        "maximum_tries": 1,
        "command_id": command.command_id,
    }
    assert state["on"] == "call.gather.ended"
    assert state["rest"] == [{"kind": "say", "text": "Bye"}]
    [needed] = arrives(telnyx, call_control_id, "call.gather.ended", digits="1")
    assert needed == InstructionsNeeded(call_control_id, "gathered", digits="1")


async def test_a_prompt_of_sentences_and_short_pauses_is_one_ssml_gather(provider, telnyx):
    call_control_id = await dialled(provider)
    prompt = [Say(text="Sales: press 1 & wait."), Pause(seconds=2), Say(text="Support: 2.")]
    await provider.execute(call_ref(call_control_id), [Gather(prompt=prompt)])
    [command] = telnyx.commands(call_control_id, "gather_using_speak")
    assert command.body["payload_type"] == "ssml"
    assert command.body["payload"] == (
        '<speak>Sales: press 1 &amp; wait. <break time="2s"/> Support: 2.</speak>'
    )
    assert command.body["maximum_digits"] == 128


async def test_a_gather_with_an_audio_prompt(provider, telnyx):
    call_control_id = await dialled(provider)
    await provider.execute(
        call_ref(call_control_id), [Gather(prompt=[Play(url=MUSIC, loop=3)], finish_on_key="")]
    )
    [command] = telnyx.commands(call_control_id, "gather_using_audio")
    assert command.body["audio_url"] == MUSIC
    assert command.body["maximum_tries"] == 3
    assert command.body["terminating_digit"] == ""


async def test_a_gather_without_a_prompt(provider, telnyx):
    call_control_id = await dialled(provider)
    await provider.execute(call_ref(call_control_id), [Gather(timeout_seconds=3)])
    [command] = telnyx.commands(call_control_id, "gather")
    assert command.body["initial_timeout_millis"] == 3000
    assert command.body["inter_digit_timeout_millis"] == 3000


async def test_a_gather_for_keys_and_speech_gathers_keys(provider, telnyx):
    call_control_id = await dialled(provider)
    gather = Gather(prompt=[Say(text="Say or press 1")], num_digits=1, speech=True, hints=["one"])
    await provider.execute(call_ref(call_control_id), [gather])
    [command] = telnyx.commands(call_control_id, "gather_using_speak")
    assert (command.body["payload"], command.body["maximum_digits"]) == ("Say or press 1", 1)
    assert not {"hints", "language_code", "speech"} & set(command.body)
    assert command.body["language"] == "en-US"  # the prompt's voice, not a recognizer's
    [needed] = arrives(telnyx, call_control_id, "call.gather.ended", digits="1")
    assert needed == InstructionsNeeded(call_control_id, "gathered", digits="1")


@pytest.mark.parametrize(
    "steps",
    [
        [Gather(dtmf=False, speech=True)],
        [Say(text="Hello"), Gather(dtmf=False, speech=True, prompt=[Say(text="Speak")])],
    ],
)
async def test_a_gather_for_speech_only_is_refused(provider, telnyx, steps):
    call_control_id = await dialled(provider)
    sent = len(telnyx.requests)
    with pytest.raises(ProviderRefused, match="digits only") as caught:
        await provider.execute(call_ref(call_control_id), steps)
    assert caught.value.code == "speech-not-supported"
    assert len(telnyx.requests) == sent  # nothing of the script was started


async def test_a_mixed_prompt_plays_its_first_parts_as_steps(provider, telnyx):
    call_control_id = await dialled(provider)
    gather = Gather(prompt=[Say(text="Listen:"), Play(url=MUSIC)], num_digits=2)
    await provider.execute(call_ref(call_control_id), [gather])
    [speak] = telnyx.commands(call_control_id, "speak")
    [then] = decoded(speak.body["client_state"])["rest"]
    assert then == {"kind": "gather", "prompt": [{"kind": "play", "url": MUSIC}], "num_digits": 2}


# --- other steps ---------------------------------------------------------------------------


async def test_a_pause_is_looped_silence(provider, telnyx):
    call_control_id = await dialled(provider)
    await provider.execute(call_ref(call_control_id), [Pause(seconds=250), Hangup()])
    [pause] = telnyx.commands(call_control_id, "playback_start")
    silence = base64.b64decode(pause.body["playback_content"])
    assert silence[:4] == b"RIFF"
    assert (pause.body["audio_type"], pause.body["loop"]) == ("wav", 100)
    [needed] = arrives(telnyx, call_control_id, "call.playback.ended")
    assert needed.instructions == as_json(Pause(seconds=150), Hangup())


async def test_a_last_pause_keeps_the_line_open_in_one_command(provider, telnyx):
    call_control_id = await dialled(provider)
    await provider.execute(call_ref(call_control_id), [Say(text="Hi"), Pause(seconds=14400)])
    [needed] = arrives(telnyx, call_control_id, "call.speak.ended")
    await provider.execute(call_ref(call_control_id), needed.instructions)
    [pause] = telnyx.commands(call_control_id, "playback_start")
    assert pause.body["loop"] == "infinity"
    assert decoded(pause.body["client_state"])["rest"] == []


async def test_a_long_text_is_spoken_in_parts(provider, telnyx):
    call_control_id = await dialled(provider)
    text = " ".join(["This sentence is spoken to the caller."] * 120)
    await provider.execute(call_ref(call_control_id), [Say(text=text[:4000])])
    [speak] = telnyx.commands(call_control_id, "speak")
    assert len(speak.body["payload"]) <= 3000
    assert speak.body["payload"].endswith("caller.")
    [rest] = decoded(speak.body["client_state"])["rest"]
    assert speak.body["payload"] + " " + rest["text"] == text[:4000].strip()


async def test_a_dial_is_a_transfer_that_comes_back(provider, telnyx):
    call_control_id = await dialled(provider)
    dial = Dial(number="+420777000111", caller_id=CALLER, timeout_seconds=20)
    await provider.execute(call_ref(call_control_id), [dial, Say(text="They hung up.")])
    [transfer] = telnyx.commands(call_control_id, "transfer")
    target_state = decoded(transfer.body.pop("target_leg_client_state"))
    assert transfer.body == {
        "to": "+420777000111",
        "from": CALLER,
        "timeout_secs": 20,
        "webhook_url": transfer.body["webhook_url"],
        "park_after_unbridge": "self",
        "command_id": transfer.command_id,
    }
    assert transfer.body["webhook_url"].endswith("/events")
    assert target_state["on"] == "call.hangup"
    assert target_state["call_control_id"] == call_control_id
    [callee] = [c for c in telnyx.calls.values() if c.to == "+420777000111"]
    events = arrives(telnyx, callee.call_control_id, "call.hangup", hangup_cause="timeout")
    assert events[-1] == InstructionsNeeded(
        call_control_id, "continue", instructions=as_json(Say(text="They hung up."))
    )


async def test_a_last_dial_ends_the_call_with_the_callee(provider, telnyx):
    call_control_id = await dialled(provider)
    await provider.execute(call_ref(call_control_id), [Dial(number="+420777000111")])
    [transfer] = telnyx.commands(call_control_id, "transfer")
    assert "park_after_unbridge" not in transfer.body
    assert "target_leg_client_state" not in transfer.body


async def test_a_conference_is_created_then_joined(provider, telnyx):
    first = await dialled(provider)
    second = await dialled(provider)
    await provider.execute(call_ref(first), [Conference(name="room-1", muted=True, beep=True)])
    await provider.execute(
        call_ref(second), [Conference(name="room-1", coach_call_id=first, end_on_exit=True)]
    )
    [room] = telnyx.api.conferences.values()
    assert room["name"] == "room-1"
    assert room["participants"] == [first, second]
    paths = [r.path.removeprefix("/v2") for r in telnyx.requests if "conferences" in r.path]
    assert paths == [
        "/conferences",
        "/conferences",
        f"/conferences/{room['id']}/actions/mute",
        "/conferences",
        f"/conferences/{room['id']}/actions/join",
    ]
    [mute] = [r for r in telnyx.requests if r.path.endswith("/actions/mute")]
    assert mute.body == {"call_control_ids": [first]}
    [created] = [
        r.body for r in telnyx.requests if r.method == "POST" and r.path == "/v2/conferences"
    ]
    assert created["name"] == "room-1"
    assert created["beep_enabled"] == "always"
    join = telnyx.requests[-1].body
    assert join == {
        "call_control_id": second,
        "mute": False,
        "beep_enabled": "never",
        "start_conference_on_enter": True,
        "end_conference_on_exit": True,
        "supervisor_role": "whisper",
        "whisper_call_control_ids": [first],
        "command_id": join["command_id"],
    }


async def test_a_record_step_is_a_voicemail(provider, telnyx):
    call_control_id = await dialled(provider)
    record = Record(max_seconds=120, play_beep=False, transcribe=True)
    await provider.execute(call_ref(call_control_id), [record, Say(text="Thanks")])
    [command] = telnyx.commands(call_control_id, "record_start")
    assert decoded(command.body.pop("client_state"))["on"] == "call.recording.saved"
    assert command.body == {
        "channels": "single",
        "format": "mp3",
        "recording_track": "inbound",
        "max_length": 120,
        "play_beep": False,
        "timeout_secs": 5,
        "transcription": True,
        "command_id": command.command_id,
    }


async def test_a_payment(provider, telnyx):
    call_control_id = await dialled(provider)
    pay = Pay(amount="12.50", description="Invoice 7", timeout_seconds=20, max_attempts=2)
    await provider.execute(call_ref(call_control_id), [pay, Say(text="Thank you")])
    [command] = telnyx.commands(call_control_id, "pay")
    assert decoded(command.body.pop("client_state"))["on"] == "call.payment.completed"
    assert command.body == {
        "amount": 12.5,
        "currency": "USD",
        "connector_name": "Default",
        "description": "Invoice 7",
        "payment_method": "credit-card",
        "timeout_millis": 20000,
        "max_attempts": 2,
        "command_id": command.command_id,
    }


async def test_a_payment_in_another_currency_is_refused(provider, telnyx):
    with pytest.raises(ProviderRefused, match="US dollars") as caught:
        await provider.execute(call_ref("v3:x"), [Pay(amount="5", currency="eur")])
    assert caught.value.code == "currency-not-supported"
    assert telnyx.requests == []


# --- how much fits in client_state --------------------------------------------------------


async def test_a_long_script_is_compressed_into_the_state(provider, telnyx):
    call_control_id = await dialled(provider)
    steps = [Say(text=f"Menu option number {n} is for our customers.") for n in range(60)]
    assert len(json.dumps([compact(s) for s in steps])) > 3072  # over 4096 as base64
    await provider.execute(call_ref(call_control_id), steps)
    [speak] = telnyx.commands(call_control_id, "speak")
    assert len(speak.body["client_state"]) <= 4096
    [needed] = arrives(telnyx, call_control_id, "call.speak.ended")
    assert needed.instructions == as_json(*steps[1:])


async def test_a_script_too_long_for_the_state_is_refused_clearly(provider, telnyx):
    steps = [Say(text=secrets.token_hex(200)) for _ in range(30)]
    with pytest.raises(ProviderRefused, match="client_state") as caught:
        await provider.execute(call_ref("v3:x"), steps)
    assert caught.value.code == "client-state-too-large"
    assert telnyx.requests == []
