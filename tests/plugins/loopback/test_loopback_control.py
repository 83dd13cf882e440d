"""Control actions on running loopback calls, and what the platform hears of them."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from loopback_helpers import provider_for

from kernel.testing import wait_until
from plugins.calls import (
    Action,
    CallRef,
    CallStatus,
    ControlCall,
    Direction,
    Pause,
    PlaceCall,
    ProviderRefused,
    RecordingRef,
)
from plugins.loopback.carrier.state import loopback_state
from plugins.loopback.testing import call_log, live_call

ON_THE_LINE = ["answer", {"step": "wait", "seconds": 3000}, "hangup"]
RINGING = [{"step": "ring", "seconds": 600}, "answer"]


def place(script) -> PlaceCall:
    return PlaceCall(
        call_id=uuid.uuid4(),
        from_number="+15005550100",
        to_number="+15005550199",
        timeout_seconds=6000,
        options={"script": script},
    )


def command(call_id: str | None, action: Action, **kwargs) -> ControlCall:
    ref = CallRef(
        id=uuid.uuid4(),
        provider_call_id=call_id,
        direction=Direction.OUTBOUND,
        status=CallStatus.IN_PROGRESS,
        from_number="+15005550100",
        to_number="+15005550199",
    )
    return ControlCall(call=ref, action=action, command_id=uuid.uuid4().hex, **kwargs)


async def answered(carrier, receiver, script=ON_THE_LINE, instructions=None) -> str:
    """A call whose callee answered and whose instructions are running."""
    receiver.default = instructions if instructions is not None else [Pause(seconds=3000)]
    placed = await carrier.place_call(place(script))
    await wait_until(
        lambda: any(
            r.event.provider_call_id == placed.provider_call_id for r in receiver.of("voice")
        )
    )
    return placed.provider_call_id


def final(receiver, call_id: str) -> dict:
    return [r.body for r in receiver.of("status") if r.body["call_id"] == call_id][-1]


async def test_hangup_while_ringing_cancels(carrier, receiver):
    placed = await carrier.place_call(place(RINGING))
    call_id = placed.provider_call_id
    await wait_until(lambda: "ringing" in receiver.statuses(call_id))
    await carrier.control(command(call_id, Action.HANGUP))
    await wait_until(lambda: receiver.ended(call_id))
    assert receiver.statuses(call_id) == ["initiated", "ringing", "canceled"]
    assert final(receiver, call_id)["hangup_cause"] == "originator_cancel"


async def test_hangup_of_an_answered_call_completes_it(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    await carrier.control(command(call_id, Action.HANGUP))
    await wait_until(lambda: receiver.ended(call_id))
    assert final(receiver, call_id)["status"] == "completed"
    assert final(receiver, call_id)["hangup_cause"] == "caller_hangup"
    # Hanging up again changes nothing; anything else is refused.
    await wait_until(lambda: live_call(platform, call_id) is None)
    await carrier.control(command(call_id, Action.HANGUP))
    with pytest.raises(ProviderRefused) as refused:
        await carrier.control(command(call_id, Action.HOLD))
    assert refused.value.code == "call-ended"


async def test_unknown_calls_and_other_tenants_calls_are_refused(
    carrier, receiver, platform, other_tenant
):
    for call_id in ("LB" + "0" * 32, None):
        with pytest.raises(ProviderRefused) as refused:
            await carrier.control(command(call_id, Action.HANGUP))
        assert refused.value.code == "call-unknown"
        assert "process that placed them" in refused.value.detail
    call_id = await answered(carrier, receiver)
    theirs = provider_for(platform, other_tenant)
    with pytest.raises(ProviderRefused) as refused:
        await theirs.control(command(call_id, Action.HANGUP))
    assert refused.value.code == "call-unknown"
    assert not receiver.ended(call_id)
    await carrier.control(command(call_id, Action.HANGUP))
    await wait_until(lambda: live_call(platform, call_id) is None)
    with pytest.raises(ProviderRefused) as refused:  # ended, but not theirs either
        await theirs.control(command(call_id, Action.HOLD))
    assert refused.value.code == "call-unknown"


@pytest.mark.parametrize(
    "action", [Action.HOLD, Action.MUTE, Action.TRANSFER, Action.START_RECORDING]
)
async def test_actions_on_a_call_not_answered_yet_are_refused(carrier, receiver, action):
    placed = await carrier.place_call(place(RINGING))
    await wait_until(lambda: "ringing" in receiver.statuses(placed.provider_call_id))
    with pytest.raises(ProviderRefused) as refused:
        await carrier.control(command(placed.provider_call_id, action, target="+15005550123"))
    assert refused.value.code == "call-not-answered"
    await carrier.control(command(placed.provider_call_id, Action.HANGUP))


async def test_hold_pauses_the_instructions(carrier, receiver, platform):
    call_id = await answered(carrier, receiver, instructions=[Pause(seconds=20)])
    await carrier.control(command(call_id, Action.HOLD))
    assert live_call(platform, call_id).on_hold
    await asyncio.sleep(0.4)  # 40 simulated seconds: the 20 s pause would be over
    assert not receiver.ended(call_id)
    await carrier.control(command(call_id, Action.UNHOLD))
    await wait_until(lambda: receiver.ended(call_id))
    assert final(receiver, call_id)["hangup_cause"] == "caller_hangup"
    assert [e for e in call_log(platform, call_id) if e[0] in ("hold", "unhold")] == [
        ("hold", ""),
        ("unhold", ""),
    ]


async def test_a_muted_callee_is_not_heard(carrier, receiver, platform):
    script = [
        "answer",
        {"step": "wait", "seconds": 10},
        {"step": "say", "text": "my secret"},
        {"step": "wait", "seconds": 20},
        {"step": "say", "text": "can you hear me now"},
        "hangup",
    ]
    call_id = await answered(carrier, receiver, script)
    await carrier.control(command(call_id, Action.MUTE))
    await wait_until(lambda: ("unheard", "my secret") in call_log(platform, call_id))
    await carrier.control(command(call_id, Action.UNMUTE))
    await wait_until(lambda: receiver.ended(call_id))
    assert [r.event.text for r in receiver.of("transcription")] == ["can you hear me now"]


async def test_send_dtmf(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    await carrier.control(command(call_id, Action.SEND_DTMF, digits="12w#"))
    assert ("dtmf", "12w#") in call_log(platform, call_id)
    for digits in (None, "12x"):
        with pytest.raises(ProviderRefused) as refused:
            await carrier.control(command(call_id, Action.SEND_DTMF, digits=digits))
        assert refused.value.code == "invalid-digits"


async def test_transfer_ends_the_leg(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    with pytest.raises(ProviderRefused) as refused:
        await carrier.control(command(call_id, Action.TRANSFER, target="sales"))
    assert refused.value.code == "invalid-number"
    await carrier.control(command(call_id, Action.TRANSFER, target="+15005550123"))
    await wait_until(lambda: receiver.ended(call_id))
    assert final(receiver, call_id)["hangup_cause"] == "transferred"
    assert ("transfer", "+15005550123") in call_log(platform, call_id)


async def test_recording_start_pause_resume_stop(carrier, receiver, platform):
    call_id = await answered(carrier, receiver)
    clock = live_call(platform, call_id).clock
    moments = {}

    async def act(action: Action) -> None:
        moment = clock.now()  # the simulated time the action takes effect
        await carrier.control(command(call_id, action))
        moments.setdefault(action, moment)

    for action, code in [
        (Action.PAUSE_RECORDING, "no-recording"),
        (Action.RESUME_RECORDING, "no-recording"),
        (Action.STOP_RECORDING, "no-recording"),
    ]:
        with pytest.raises(ProviderRefused) as refused:
            await act(action)
        assert refused.value.code == code
    await act(Action.START_RECORDING)
    with pytest.raises(ProviderRefused) as refused:
        await act(Action.START_RECORDING)
    assert refused.value.code == "recording-active"
    with pytest.raises(ProviderRefused) as refused:
        await act(Action.RESUME_RECORDING)
    assert refused.value.code == "recording-active"
    await asyncio.sleep(0.05)
    await act(Action.PAUSE_RECORDING)
    with pytest.raises(ProviderRefused) as refused:
        await act(Action.PAUSE_RECORDING)
    assert refused.value.code == "recording-paused"
    await asyncio.sleep(0.1)  # paused: not recorded
    await act(Action.RESUME_RECORDING)
    await asyncio.sleep(0.05)
    await act(Action.STOP_RECORDING)
    await wait_until(lambda: len(receiver.of("recording")) == 4)
    statuses = [r.event.status for r in receiver.of("recording")]
    assert statuses == ["in-progress", "paused", "in-progress", "completed"]
    assert len({r.event.provider_recording_id for r in receiver.of("recording")}) == 1
    done = receiver.of("recording")[-1].event
    recorded = (moments[Action.PAUSE_RECORDING] - moments[Action.START_RECORDING]) + (
        moments[Action.STOP_RECORDING] - moments[Action.RESUME_RECORDING]
    )
    assert done.duration_seconds == pytest.approx(recorded, abs=1)  # not the paused stretch
    audio = await carrier.recording_audio(
        RecordingRef(done.provider_recording_id, call_id, done.media_ref)
    )
    assert audio.size == 44 + done.duration_seconds * 8000 * 2 * 2
    # A second recording can follow; the call's end completes it.
    await act(Action.START_RECORDING)
    await act(Action.HANGUP)
    await wait_until(lambda: receiver.ended(call_id))
    assert [r.event.status for r in receiver.of("recording")][4:] == ["in-progress", "completed"]
    assert receiver.kinds()[-1] == "status"


async def test_a_repeated_command_is_done_once(carrier, receiver):
    call_id = await answered(carrier, receiver)
    start = command(call_id, Action.START_RECORDING)
    await carrier.control(start)
    await carrier.control(start)  # the same command id: not "already recording"
    await wait_until(lambda: len(receiver.of("recording")) == 1)


async def test_shutdown_stops_every_call(carrier, receiver, platform):
    receiver.default = [Pause(seconds=3000)]
    placed = [await carrier.place_call(place(ON_THE_LINE)) for _ in range(3)]
    state = loopback_state(platform)
    await wait_until(lambda: len(state.calls) == 3)
    await state.close()
    assert state.calls == {}
    assert state.tasks == set()
    with pytest.raises(ProviderRefused) as refused:
        await carrier.place_call(place(ON_THE_LINE))
    assert refused.value.code == "carrier-closed"
    assert not any(receiver.ended(p.provider_call_id) for p in placed)
