"""Placing and controlling calls against the Telnyx double: the requests Telnyx receives,
and how its failures reach the platform (retries, timeouts, the breaker, refusals)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from telnyx_helpers import (
    CALLEE,
    CALLER,
    PUBLIC_BASE_URL,
    call_ref,
    provider_for,
    store_secrets,
    with_telnyx,
)

from kernel import CircuitOpenError, TransientError
from kernel.testing import create_tenant, vault_access_events
from plugins.calls import (
    Action,
    Capability,
    ControlCall,
    PlaceCall,
    ProviderRefused,
    UnsupportedAction,
    installed_providers,
)


async def place(provider, **options) -> str:
    request = PlaceCall(call_id=uuid.uuid4(), from_number=CALLER, to_number=CALLEE, **options)
    placed = await provider.place_call(request)
    return placed.provider_call_id


def test_the_provider_is_registered_with_its_capabilities_and_secrets(platform):
    spec = installed_providers(platform).get("telnyx")
    assert spec.secrets == ("telnyx.api_key", "telnyx.public_key", "telnyx.connection_id")
    assert Capability.MUTE not in spec.capabilities
    assert Capability.SPEECH_RECOGNITION not in spec.capabilities  # gathers collect DTMF only
    assert {Capability.TRANSFER, Capability.RECORDING, Capability.SECURE_PAYMENTS} <= (
        spec.capabilities
    )
    assert platform.plugins.get("telnyx").info.requires == ("calls",)


async def test_place_call_sends_the_dial_telnyx_expects(provider, telnyx, tenant):
    call_id = uuid.uuid4()
    placed = await provider.place_call(
        PlaceCall(
            call_id=call_id,
            from_number=CALLER,
            to_number=CALLEE,
            timeout_seconds=25,
            record=True,
            machine_detection=True,
        )
    )
    [dial] = telnyx.requests
    assert (dial.method, dial.path, dial.status) == ("POST", "/v2/calls", 200)
    assert dial.headers["authorization"] == f"Bearer {telnyx.api_key}"
    state = dial.body.pop("client_state")
    assert json.loads(base64.b64decode(state)) == {"call_id": str(call_id)}
    assert dial.body == {
        "connection_id": telnyx.connection_id,
        "to": CALLEE,
        "from": CALLER,
        "webhook_url": f"{PUBLIC_BASE_URL}/webhooks/telnyx/{tenant}/events",
        "timeout_secs": 25,
        "answering_machine_detection": "detect",
        "record": "record-from-answer",
        "command_id": f"dial-{call_id}",
    }
    assert placed.provider_call_id in telnyx.calls
    assert placed.status == "initiated"


async def test_a_retried_dial_is_one_call_at_telnyx(provider, telnyx):
    """The dial's command_id is derived from the call: a repeat within 60 s is ignored."""
    request = PlaceCall(call_id=uuid.uuid4(), from_number=CALLER, to_number=CALLEE)
    first = await provider.place_call(request)
    again = await provider.place_call(request)
    assert first == again
    assert [r.duplicate for r in telnyx.requests] == [False, True]
    assert len(telnyx.calls) == 1


@pytest.mark.parametrize(
    ("action", "extra", "telnyx_action", "body"),
    [
        (Action.HANGUP, {}, "hangup", {}),
        (Action.TRANSFER, {"target": "+420777000111"}, "transfer", {"to": "+420777000111"}),
        (
            Action.TRANSFER,
            {"target": "+420777000111", "caller_id": CALLER},
            "transfer",
            {"to": "+420777000111", "from": CALLER},
        ),
        (Action.UNHOLD, {}, "playback_stop", {"stop": "all"}),
        (Action.SEND_DTMF, {"digits": "12w#"}, "send_dtmf", {"digits": "12w#"}),
        (Action.START_RECORDING, {}, "record_start", {"channels": "dual", "format": "mp3"}),
        (Action.PAUSE_RECORDING, {}, "record_pause", {}),
        (Action.RESUME_RECORDING, {}, "record_resume", {}),
        (Action.STOP_RECORDING, {}, "record_stop", {}),
    ],
)
async def test_control_sends_the_action_with_the_command_id(
    provider, telnyx, action, extra, telnyx_action, body
):
    call_control_id = await place(provider)
    command_id = str(uuid.uuid4())
    await provider.control(
        ControlCall(call=call_ref(call_control_id), action=action, command_id=command_id, **extra)
    )
    [command] = telnyx.commands(call_control_id)
    assert command.action == telnyx_action
    assert command.headers["authorization"] == f"Bearer {telnyx.api_key}"
    assert command.body == {**body, "command_id": command_id}


async def test_hold_loops_a_soft_tone_or_the_configured_music(provider, telnyx):
    call_control_id = await place(provider)
    call = call_ref(call_control_id)
    await provider.control(ControlCall(call=call, action=Action.HOLD, command_id="h1"))
    [hold] = telnyx.commands(call_control_id, "playback_start")
    assert hold.body["loop"] == "infinity"
    assert hold.body["audio_type"] == "wav"
    assert base64.b64decode(hold.body["playback_content"])[:4] == b"RIFF"


async def test_hold_plays_the_operators_hold_music(
    kraliki_make_app, kraliki_installed_plugins, telnyx_env, telnyx, monkeypatch
):
    monkeypatch.setenv("KRALIKI_TELNYX_HOLD_AUDIO_URL", "https://music.example.test/hold.mp3")
    app = await kraliki_make_app(
        plugins=with_telnyx(kraliki_installed_plugins), background_workers=False
    )
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    await store_secrets(platform, tenant_id, telnyx)
    provider = provider_for(platform, tenant_id)
    call_control_id = await place(provider)
    await provider.control(
        ControlCall(call=call_ref(call_control_id), action=Action.HOLD, command_id="h1")
    )
    [hold] = telnyx.commands(call_control_id, "playback_start")
    assert hold.body == {
        "audio_url": "https://music.example.test/hold.mp3",
        "loop": "infinity",
        "command_id": "h1",
    }


async def test_a_repeated_command_is_ignored_by_telnyx(provider, telnyx):
    call_control_id = await place(provider)
    request = ControlCall(call=call_ref(call_control_id), action=Action.HANGUP, command_id="c1")
    await provider.control(request)
    await provider.control(request)
    hangups = [r for r in telnyx.requests if r.action == "hangup"]
    assert [r.duplicate for r in hangups] == [False, True]


@pytest.mark.parametrize("action", [Action.MUTE, Action.UNMUTE])
async def test_mute_is_not_offered(provider, telnyx, action):
    call_control_id = await place(provider)
    with pytest.raises(UnsupportedAction):
        await provider.control(
            ControlCall(call=call_ref(call_control_id), action=action, command_id="m1")
        )
    assert telnyx.commands(call_control_id) == []


@pytest.mark.parametrize(
    ("action", "why"), [(Action.TRANSFER, "number"), (Action.SEND_DTMF, "digits")]
)
async def test_control_without_its_argument_is_refused_before_calling(
    provider, telnyx, action, why
):
    with pytest.raises(ProviderRefused, match=why):
        await provider.control(ControlCall(call=call_ref("v3:x"), action=action, command_id="c"))
    assert telnyx.requests == []


async def test_a_call_without_a_call_control_id_cannot_be_controlled(provider):
    with pytest.raises(ProviderRefused, match="no Telnyx call control id"):
        await provider.control(
            ControlCall(call=call_ref(None), action=Action.HANGUP, command_id="c")
        )


# --- failures ------------------------------------------------------------------------------


async def test_server_errors_are_retried(provider, telnyx):
    telnyx.fail_next(2, status=503)
    call_control_id = await place(provider)
    assert [r.status for r in telnyx.requests] == [503, 503, 200]
    assert len({r.command_id for r in telnyx.requests}) == 1  # one command, tried three times
    assert call_control_id in telnyx.calls


async def test_server_errors_through_every_attempt_are_transient(provider, telnyx):
    telnyx.fail_next(3, status=500)
    with pytest.raises(TransientError) as caught:
        await place(provider)
    assert caught.value.status == 500
    assert len(telnyx.requests) == 3


async def test_throttling_is_retried_honouring_retry_after(provider, telnyx):
    telnyx.fail_next(1, status=429, retry_after="1")
    await place(provider)
    assert [r.status for r in telnyx.requests] == [429, 200]


async def test_a_hanging_telnyx_times_out_and_is_tried_again(provider, telnyx):
    telnyx.hang_next(1, seconds=5)
    call_control_id = await place(provider)
    assert call_control_id in telnyx.calls


async def test_a_telnyx_that_never_answers_is_a_timeout(provider, telnyx):
    telnyx.hang_next(3, seconds=5)
    with pytest.raises(TransientError) as caught:
        await place(provider)
    assert caught.value.timed_out


async def test_the_breaker_opens_for_this_tenant_only(provider, telnyx, platform):
    telnyx.fail_next(5, status=500)
    with pytest.raises(TransientError):
        await place(provider)
    with pytest.raises(CircuitOpenError):  # the 5th failure opens it; no 6th request is made
        await place(provider)
    with pytest.raises(CircuitOpenError):
        await place(provider)
    assert len(telnyx.requests) == 5
    other = await create_tenant(platform, "globex")
    await store_secrets(platform, other, telnyx)
    assert await place(provider_for(platform, other))


@pytest.mark.parametrize(
    ("number", "code"), [("00420 601", "10015"), ("+42060112345678901", "10015")]
)
async def test_a_refusal_is_not_retried_and_names_telnyx_error(provider, telnyx, number, code):
    with pytest.raises(ProviderRefused) as caught:
        await provider.place_call(
            PlaceCall(call_id=uuid.uuid4(), from_number=CALLER, to_number=number)
        )
    assert caught.value.code == code
    assert "Telnyx refused the request (422): Invalid parameter" in caught.value.detail
    assert len(telnyx.requests) == 1


async def test_a_bad_api_key_is_a_refusal(provider, telnyx, platform, tenant):
    await store_secrets(platform, tenant, telnyx, **{"telnyx.api_key": "KEY_not_the_right_key0"})
    with pytest.raises(ProviderRefused) as caught:
        await place(provider)
    assert caught.value.code == "10009"
    assert "(401)" in caught.value.detail


async def test_commands_on_an_ended_call_are_refused(provider, telnyx):
    call_control_id = await place(provider)
    await telnyx.send_event(call_control_id, "call.hangup", url=telnyx.url + "/sink")
    with pytest.raises(ProviderRefused) as caught:
        await provider.control(
            ControlCall(call=call_ref(call_control_id), action=Action.HANGUP, command_id="c")
        )
    assert caught.value.code == "90018"


async def test_an_unconfigured_tenant_is_told_what_to_store(platform, telnyx):
    tenant_id = await create_tenant(platform, "empty")
    provider = provider_for(platform, tenant_id)
    with pytest.raises(ProviderRefused, match=r"telnyx\.connection_id") as caught:
        await place(provider)
    assert caught.value.code == "not-configured"
    with pytest.raises(ProviderRefused, match=r"telnyx\.api_key"):
        await provider.control(
            ControlCall(call=call_ref("v3:x"), action=Action.HANGUP, command_id="c")
        )
    assert telnyx.requests == []


async def test_the_secrets_are_read_per_use_and_audited(provider, platform, tenant):
    await place(provider)
    rows = await vault_access_events(platform, tenant)
    assert {(r.secret_name, r.plugin, r.purpose) for r in rows} == {
        ("telnyx.connection_id", "telnyx", "place a call"),
        ("telnyx.api_key", "telnyx", "place a call"),
    }
