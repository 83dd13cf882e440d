"""Redirects and conference rooms on the loopback carrier: a redirect replaces what the
platform's side of a call runs (an open gather then answers nothing); a ``Conference`` step
puts the call in a room of the tenant's, where it stays; a member that ends the conference on
exit takes every other member with it."""

from __future__ import annotations

import uuid

import pytest
from loopback_helpers import final, provider_for

from kernel.testing import wait_until
from plugins.calls import (
    CallRef,
    CallStatus,
    Conference,
    Direction,
    Gather,
    Hangup,
    Pause,
    PlaceCall,
    Play,
    ProviderRefused,
    Say,
)
from plugins.loopback.testing import (
    call_log,
    conference_members,
    conference_started,
    live_call,
)

ON_THE_LINE = ["answer", {"step": "wait", "seconds": 3000}, "hangup"]
HOLD_LOOP = Gather(
    prompt=[Play(url="https://music.example.test/hold.mp3", loop=100)],
    num_digits=1,
    timeout_seconds=60,
)


def place(script) -> PlaceCall:
    return PlaceCall(
        call_id=uuid.uuid4(),
        from_number="+15005550100",
        to_number="+15005550199",
        timeout_seconds=6000,
        options={"script": script},
    )


def ref(call_id: str | None) -> CallRef:
    return CallRef(
        id=uuid.uuid4(),
        provider_call_id=call_id,
        direction=Direction.OUTBOUND,
        status=CallStatus.IN_PROGRESS,
        from_number="+15005550100",
        to_number="+15005550199",
    )


async def running(carrier, receiver, instructions, script=ON_THE_LINE) -> str:
    """A placed call whose callee answered and which runs ``instructions``."""
    placed = await carrier.place_call(place(script))
    call_id = placed.provider_call_id
    receiver.answer(instructions)
    await wait_until(lambda: any(r.event.provider_call_id == call_id for r in receiver.of("voice")))
    return call_id


async def test_a_redirect_replaces_an_open_gather_which_then_answers_nothing(
    carrier, receiver, platform
):
    script = ["answer", {"step": "wait", "seconds": 30}, {"step": "press", "digits": "1"}]
    call_id = await running(carrier, receiver, [HOLD_LOOP], [*script, "hangup"])
    await wait_until(lambda: live_call(platform, call_id).gather is not None)
    await carrier.redirect(ref(call_id), [Say(text="An agent is free."), Hangup()])
    await wait_until(lambda: receiver.ended(call_id))
    assert receiver.of("gather") == []  # the gather was dropped: no webhook
    assert final(receiver, call_id)["hangup_cause"] == "caller_hangup"
    assert ("redirected", "say,hangup") in call_log(platform, call_id)
    assert ("pressed", "1") not in call_log(platform, call_id)


async def test_instructions_may_come_as_json(carrier, receiver, platform):
    call_id = await running(carrier, receiver, [Pause(seconds=3000)])
    await carrier.redirect(ref(call_id), [{"kind": "hangup"}])
    await wait_until(lambda: receiver.ended(call_id))
    assert ("redirected", "hangup") in call_log(platform, call_id)


async def test_calls_it_does_not_run_are_refused(carrier, receiver, platform, other_tenant):
    with pytest.raises(ProviderRefused) as refused:
        await carrier.redirect(ref("LB" + "0" * 32), [Hangup()])
    assert refused.value.code == "call-unknown"
    ringing = await carrier.place_call(place([{"step": "ring", "seconds": 600}, "answer"]))
    await wait_until(lambda: "ringing" in receiver.statuses(ringing.provider_call_id))
    with pytest.raises(ProviderRefused) as refused:
        await carrier.redirect(ref(ringing.provider_call_id), [Hangup()])
    assert refused.value.code == "call-not-answered"
    with pytest.raises(ProviderRefused) as refused:
        await provider_for(platform, other_tenant).redirect(
            ref(ringing.provider_call_id), [Hangup()]
        )
    assert refused.value.code == "call-unknown"
    await carrier.control(_hangup(ringing.provider_call_id))
    await wait_until(lambda: live_call(platform, ringing.provider_call_id) is None)
    with pytest.raises(ProviderRefused) as refused:
        await carrier.redirect(ref(ringing.provider_call_id), [Hangup()])
    assert refused.value.code == "call-ended"


def _hangup(call_id: str):
    from plugins.calls import Action, ControlCall

    return ControlCall(call=ref(call_id), action=Action.HANGUP, command_id=uuid.uuid4().hex)


async def test_members_meet_in_a_room_and_the_one_ending_it_takes_the_others(
    carrier, receiver, platform, tenant
):
    agent_script = ["answer", {"step": "wait", "seconds": 200}, "hangup"]
    waiting = await running(
        carrier, receiver, [Conference(name="queue-42", start_on_enter=False, muted=True)]
    )
    await wait_until(lambda: len(conference_members(platform, tenant, "queue-42")) == 1)
    assert not conference_started(platform, tenant, "queue-42")
    agent = await running(
        carrier,
        receiver,
        [Conference(name="queue-42", start_on_enter=True, end_on_exit=True, coach_call_id="x")],
        agent_script,
    )
    await wait_until(lambda: len(conference_members(platform, tenant, "queue-42")) == 2)
    assert conference_started(platform, tenant, "queue-42")
    first, second = conference_members(platform, tenant, "queue-42")
    assert (first.provider_call_id, first.muted, first.end_on_exit) == (waiting, True, False)
    assert (second.provider_call_id, second.coach, second.end_on_exit) == (agent, "x", True)
    # The agent's script hangs up: the conference ends, and the waiting caller with it.
    await wait_until(lambda: receiver.ended(agent) and receiver.ended(waiting), within=15)
    assert final(receiver, agent)["hangup_cause"] == "callee_hangup"
    assert final(receiver, waiting)["status"] == "completed"
    assert final(receiver, waiting)["hangup_cause"] == "conference_ended"
    assert conference_members(platform, tenant, "queue-42") == []
    assert ("left-conference", "queue-42") in call_log(platform, waiting)


async def test_a_member_without_end_on_exit_leaves_the_others_in(
    carrier, receiver, platform, tenant
):
    staying = await running(carrier, receiver, [Conference(name="room")])
    leaving = await running(
        carrier, receiver, [Conference(name="room")], ["answer", {"step": "wait", "seconds": 5}]
    )
    await wait_until(lambda: len(conference_members(platform, tenant, "room")) == 2)
    await carrier.control(_hangup(leaving))
    await wait_until(lambda: receiver.ended(leaving))
    await wait_until(lambda: len(conference_members(platform, tenant, "room")) == 1)
    assert not receiver.ended(staying)
    await carrier.control(_hangup(staying))
    await wait_until(lambda: receiver.ended(staying))
    assert conference_members(platform, tenant, "room") == []


async def test_rooms_are_per_tenant(carrier, receiver, platform, tenant, other_tenant):
    ours = await running(carrier, receiver, [Conference(name="room", end_on_exit=True)])
    theirs_provider = provider_for(platform, other_tenant)
    receiver.answer([Conference(name="room")])
    theirs = (await theirs_provider.place_call(place(ON_THE_LINE))).provider_call_id
    await wait_until(lambda: len(conference_members(platform, other_tenant, "room")) == 1)
    assert [m.provider_call_id for m in conference_members(platform, tenant, "room")] == [ours]
    await carrier.control(_hangup(ours))
    await wait_until(lambda: receiver.ended(ours))
    assert not receiver.ended(theirs)  # another tenant's room of the same name goes on
    await theirs_provider.control(_hangup(theirs))
    await wait_until(lambda: receiver.ended(theirs))


async def test_a_redirect_moves_a_caller_from_hold_music_into_the_room(
    carrier, receiver, platform, tenant
):
    caller = await running(carrier, receiver, [HOLD_LOOP])
    agent = await running(
        carrier, receiver, [Conference(name="queue-7", start_on_enter=True, end_on_exit=True)]
    )
    await wait_until(lambda: live_call(platform, caller).gather is not None)
    await carrier.redirect(ref(caller), [Conference(name="queue-7", start_on_enter=True)])
    await wait_until(lambda: len(conference_members(platform, tenant, "queue-7")) == 2)
    assert receiver.of("gather") == []
    # Redirected out again: it leaves the room (the agent stays).
    await carrier.redirect(ref(caller), [Pause(seconds=3000)])
    await wait_until(lambda: len(conference_members(platform, tenant, "queue-7")) == 1)
    assert not receiver.ended(agent)
    await carrier.control(_hangup(agent))
    await wait_until(lambda: receiver.ended(agent) and receiver.ended(caller) is False)
    await carrier.control(_hangup(caller))
    await wait_until(lambda: receiver.ended(caller))


async def test_a_sip_uri_gets_a_callee_like_a_number(carrier, receiver, platform):
    busy = PlaceCall(
        call_id=uuid.uuid4(), from_number="+15005550100", to_number="sip:agent-0001@pbx.test"
    )
    placed = await carrier.place_call(busy)  # the user part's last digits choose the callee
    await wait_until(lambda: receiver.ended(placed.provider_call_id))
    assert final(receiver, placed.provider_call_id)["status"] == "busy"
    assert final(receiver, placed.provider_call_id)["to_number"] == "sip:agent-0001@pbx.test"
    scripted = PlaceCall(
        call_id=uuid.uuid4(),
        from_number="+15005550100",
        to_number="sip:agent-7@pbx.test:5060",
        options={"script": ["answer", "hangup"]},
    )
    placed = await carrier.place_call(scripted)
    await wait_until(lambda: receiver.ended(placed.provider_call_id))
    assert final(receiver, placed.provider_call_id)["hangup_cause"] == "callee_hangup"
    for bad in ("sip:agent@", "agent@pbx.test", "+1"):
        request = PlaceCall(call_id=uuid.uuid4(), from_number="+15005550100", to_number=bad)
        with pytest.raises(ProviderRefused) as refused:
            await carrier.place_call(request)
        assert refused.value.code == "invalid-number"
