"""Redirecting a live call on Telnyx: stop what runs (``gather_stop``, ``playback_stop``),
then the instructions as commands, as ``execute`` issues them; the stopped gather reports
nothing (its ``call.gather.ended`` comes ``cancelled`` with a state that waits for nothing)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from telnyx_helpers import CALLEE, CALLER, call_ref

from plugins.calls import (
    Conference,
    Gather,
    PlaceCall,
    Play,
    ProviderRefused,
    Say,
)
from plugins.telnyx.webhooks import parse_body

MUSIC = "https://audio.example.test/hold.mp3"


async def dialled(provider) -> str:
    placed = await provider.place_call(
        PlaceCall(call_id=uuid.uuid4(), from_number=CALLER, to_number=CALLEE)
    )
    return placed.provider_call_id


def decoded(client_state: str) -> dict:
    return json.loads(base64.b64decode(client_state))


def arrives(telnyx, call_control_id: str, event_type: str, **fields) -> list:
    document = telnyx.build_event(call_control_id, event_type, **fields)
    return list(parse_body(json.dumps(document).encode()).events)


async def test_a_caller_on_hold_music_joins_the_agents_conference(provider, telnyx):
    caller = await dialled(provider)
    agent = await dialled(provider)
    call = call_ref(caller)
    await provider.execute(call, [Gather(prompt=[Play(url=MUSIC, loop=10)], num_digits=1)])
    await provider.execute(
        call_ref(agent), [Conference(name="queue-42", start_on_enter=True, end_on_exit=True)]
    )
    [room] = telnyx.api.conferences.values()
    telnyx.requests.clear()

    await provider.redirect(call, [Conference(name="queue-42", start_on_enter=True)])

    sent = [(r.method, r.path, r.status) for r in telnyx.requests]
    assert sent == [
        ("POST", f"/v2/calls/{caller}/actions/gather_stop", 200),
        ("POST", f"/v2/calls/{caller}/actions/playback_stop", 200),
        ("GET", "/v2/conferences", 200),
        ("POST", f"/v2/conferences/{room['id']}/actions/join", 200),
    ]
    gather_stop, playback_stop, listed, join = telnyx.requests
    quiet = {"call_id": str(call.id)}
    assert decoded(gather_stop.body.pop("client_state")) == quiet
    assert gather_stop.body == {"command_id": gather_stop.command_id}
    assert decoded(playback_stop.body.pop("client_state")) == quiet
    assert playback_stop.body == {"stop": "all", "command_id": playback_stop.command_id}
    assert gather_stop.command_id != playback_stop.command_id
    assert listed.query == {"filter[name]": "queue-42", "page[size]": "20"}
    assert join.body == {
        "call_control_id": caller,
        "mute": False,
        "beep_enabled": "never",
        "start_conference_on_enter": True,
        "end_conference_on_exit": False,
        "command_id": join.body["command_id"],
    }
    assert room["participants"] == [agent, caller]
    # The stopped gather's end reports nothing: no digits, no continuation.
    assert arrives(telnyx, caller, "call.gather.ended", status="cancelled", digits="") == []
    assert arrives(telnyx, caller, "call.playback.ended", status="cancelled") == []


async def test_into_a_room_nobody_is_in_yet_creates_it(provider, telnyx):
    caller = await dialled(provider)
    telnyx.requests.clear()
    await provider.redirect(call_ref(caller), [Conference(name="queue-9", end_on_exit=True)])
    actions = [r.path.rsplit("/", 1)[-1] for r in telnyx.requests]
    assert actions == ["gather_stop", "playback_stop", "conferences", "conferences"]
    created = telnyx.requests[-1].body
    assert created["call_control_id"] == caller
    assert created["name"] == "queue-9"
    [room] = telnyx.api.conferences.values()
    assert room["participants"] == [caller]


async def test_other_steps_run_as_execute_runs_them(provider, telnyx):
    caller = await dialled(provider)
    call = call_ref(caller)
    telnyx.requests.clear()
    await provider.redirect(call, [Say(text="An agent is free."), Play(url=MUSIC)])
    stop_gather, stop_playback, speak = telnyx.commands(caller)
    assert (stop_gather.action, stop_playback.action, speak.action) == (
        "gather_stop",
        "playback_stop",
        "speak",
    )
    assert decoded(speak.body["client_state"])["rest"] == [{"kind": "play", "url": MUSIC}]


async def test_nothing_to_stop_is_no_failure(provider, telnyx):
    caller = await dialled(provider)
    telnyx.fail_next(1, 422, code="90046", title="No gather in progress")
    await provider.redirect(call_ref(caller), [Say(text="Hello")])
    assert [c.action for c in telnyx.commands(caller)] == ["playback_stop", "speak"]


async def test_a_call_that_ended_is_refused(provider, telnyx):
    caller = await dialled(provider)
    telnyx.end_unreported(caller)
    with pytest.raises(ProviderRefused) as caught:
        await provider.redirect(call_ref(caller), [Conference(name="queue-1")])
    assert caught.value.code == "90018"
    assert telnyx.commands(caller) == []


async def test_a_speech_only_gather_is_refused_before_anything_is_sent(provider, telnyx):
    caller = await dialled(provider)
    telnyx.requests.clear()
    with pytest.raises(ProviderRefused, match="speech"):
        await provider.redirect(call_ref(caller), [Gather(dtmf=False, speech=True)])
    assert telnyx.requests == []


async def test_an_agent_leg_is_dialled_to_a_sip_uri(provider, telnyx):
    request = PlaceCall(
        call_id=uuid.uuid4(), from_number=CALLER, to_number="sip:agent-7@pbx.example.test"
    )
    placed = await provider.place_call(request)
    [dial] = telnyx.commands(action="dial")
    assert dial.body["to"] == "sip:agent-7@pbx.example.test"
    assert dial.body["from"] == CALLER
    assert telnyx.call(placed.provider_call_id).to == "sip:agent-7@pbx.example.test"
