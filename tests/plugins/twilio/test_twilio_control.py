"""Controlling live calls: what the provider asks of Twilio's REST API for each action."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
from twilio_helpers import ACME_NUMBER, CALLEE, call_ref, provider_for, store_credentials

from kernel import Platform, tenant_scope
from kernel.testing import create_tenant
from plugins.calls import (
    Action,
    CallStatus,
    ControlCall,
    PlaceCall,
    ProviderRefused,
    UnsupportedAction,
)
from plugins.twilio.config import DEFAULT_HOLD_MUSIC
from plugins.twilio.testing import TwilioDouble


@pytest.fixture
async def live_call(platform: Platform, tenant: uuid.UUID, double: TwilioDouble) -> str:
    """A call Twilio has placed and the callee answered."""
    with tenant_scope(tenant):
        request = PlaceCall(call_id=uuid.uuid4(), from_number=ACME_NUMBER, to_number=CALLEE)
        placed = await provider_for(platform, tenant).place_call(request)
    double.calls[placed.provider_call_id].status = "in-progress"
    double.state.requests.clear()
    return placed.provider_call_id


async def control(
    platform: Platform,
    tenant: uuid.UUID,
    action: Action,
    sid: str | None,
    *,
    status: CallStatus = CallStatus.IN_PROGRESS,
    **details: str,
) -> None:
    request = ControlCall(
        call=call_ref(sid, status), action=action, command_id=uuid.uuid4().hex, **details
    )
    with tenant_scope(tenant):
        await provider_for(platform, tenant).control(request)


def update_of(double: TwilioDouble, sid: str) -> dict[str, str]:
    [request] = double.to("POST", f"/Calls/{sid}.json")
    assert request.auth == (double.account_sid, double.auth_token)
    return request.form


def twiml(document: str) -> ET.Element:
    root = ET.fromstring(document)
    assert root.tag == "Response"
    return root


async def test_hangup_after_the_answer_completes_the_call(platform, tenant, double, live_call):
    await control(platform, tenant, Action.HANGUP, live_call)

    assert update_of(double, live_call) == {"Status": "completed"}
    assert double.calls[live_call].status == "completed"


@pytest.mark.parametrize("status", [CallStatus.INITIATED, CallStatus.RINGING])
async def test_hangup_before_the_answer_cancels_it(platform, tenant, double, live_call, status):
    double.calls[live_call].status = "ringing"

    await control(platform, tenant, Action.HANGUP, live_call, status=status)

    assert update_of(double, live_call) == {"Status": "canceled"}
    assert double.calls[live_call].status == "canceled"


async def test_transfer_dials_the_target(platform, tenant, double, live_call):
    await control(
        platform, tenant, Action.TRANSFER, live_call, target="+420777000111", caller_id=ACME_NUMBER
    )

    [dial] = twiml(update_of(double, live_call)["Twiml"])
    assert dial.tag == "Dial"
    assert dial.text == "+420777000111"
    assert dial.attrib == {"callerId": ACME_NUMBER}


async def test_transfer_needs_a_target(platform, tenant, double, live_call):
    with pytest.raises(ProviderRefused):
        await control(platform, tenant, Action.TRANSFER, live_call)
    assert double.requests == []


async def test_hold_loops_music_and_unhold_asks_the_platform_again(
    platform, tenant, double, live_call, receiver
):
    await control(platform, tenant, Action.HOLD, live_call)
    [play] = twiml(update_of(double, live_call)["Twiml"])
    assert (play.tag, play.text, play.attrib) == ("Play", DEFAULT_HOLD_MUSIC, {"loop": "0"})

    double.state.requests.clear()
    await control(platform, tenant, Action.UNHOLD, live_call)
    assert update_of(double, live_call) == {
        "Url": f"{receiver.url}/webhooks/twilio/{tenant}/voice",
        "Method": "POST",
    }


async def test_hold_music_is_the_operators_choice(make_platform, double, monkeypatch):
    monkeypatch.setenv("KRALIKI_TWILIO_HOLD_MUSIC_URL", "https://music.example.com/hold.mp3")
    platform = await make_platform()
    tenant = await create_tenant(platform, "acme")
    await store_credentials(platform, tenant, double.account_sid, double.auth_token)
    with tenant_scope(tenant):
        request = PlaceCall(call_id=uuid.uuid4(), from_number=ACME_NUMBER, to_number=CALLEE)
        sid = (await provider_for(platform, tenant).place_call(request)).provider_call_id
    double.calls[sid].status = "in-progress"

    await control(platform, tenant, Action.HOLD, sid)

    assert "https://music.example.com/hold.mp3" in double.calls[sid].twiml[-1]


async def test_dtmf_is_played_then_the_platform_is_asked_again(
    platform, tenant, double, live_call, receiver
):
    await control(platform, tenant, Action.SEND_DTMF, live_call, digits="12w34#")

    play, redirect = twiml(update_of(double, live_call)["Twiml"])
    assert (play.tag, play.attrib) == ("Play", {"digits": "12w34#"})
    assert (redirect.tag, redirect.attrib) == ("Redirect", {"method": "POST"})
    assert redirect.text == f"{receiver.url}/webhooks/twilio/{tenant}/voice"


@pytest.mark.parametrize("digits", [None, "", "12a", "1" * 65])
async def test_dtmf_digits_are_checked(platform, tenant, double, live_call, digits):
    details = {"digits": digits} if digits is not None else {}
    with pytest.raises(ProviderRefused):
        await control(platform, tenant, Action.SEND_DTMF, live_call, **details)
    assert double.requests == []


@pytest.mark.parametrize("action", [Action.MUTE, Action.UNMUTE])
async def test_a_single_call_cannot_be_muted(platform, tenant, double, live_call, action):
    with pytest.raises(UnsupportedAction):
        await control(platform, tenant, action, live_call)
    assert double.requests == []


async def test_recording_start_pause_resume_stop(platform, tenant, double, live_call, receiver):
    await control(platform, tenant, Action.START_RECORDING, live_call)
    [start] = double.to("POST", f"/Calls/{live_call}/Recordings.json")
    assert start.form["RecordingStatusCallback"] == (
        f"{receiver.url}/webhooks/twilio/{tenant}/recording"
    )
    assert start.form["RecordingStatusCallbackMethod"] == "POST"
    assert start.form["RecordingChannels"] == "dual"
    assert start.values("RecordingStatusCallbackEvent") == ["in-progress", "completed", "absent"]
    [recording] = double.recordings.values()

    for action, status in [
        (Action.PAUSE_RECORDING, "paused"),
        (Action.RESUME_RECORDING, "in-progress"),
        (Action.STOP_RECORDING, "stopped"),
    ]:
        double.state.requests.clear()
        await control(platform, tenant, action, live_call)
        [update] = double.to("POST", f"/Calls/{live_call}/Recordings/Twilio.CURRENT.json")
        assert update.form == {"Status": status}
        assert recording.status == status


async def test_pausing_without_a_recording_is_refused(platform, tenant, live_call):
    with pytest.raises(ProviderRefused) as refused:
        await control(platform, tenant, Action.PAUSE_RECORDING, live_call)
    assert refused.value.code == "20404"


async def test_a_call_that_ended_cannot_be_redirected(platform, tenant, double, live_call):
    double.calls[live_call].status = "completed"
    with pytest.raises(ProviderRefused) as refused:
        await control(platform, tenant, Action.HOLD, live_call)
    assert refused.value.code == "21220"


async def test_a_call_twilio_does_not_have_yet(platform, tenant, double):
    with pytest.raises(ProviderRefused):
        await control(platform, tenant, Action.HANGUP, None, status=CallStatus.QUEUED)
    assert double.requests == []


async def test_control_is_retried_like_everything_else(platform, tenant, double, live_call):
    double.fail_next(2, 500)
    await control(platform, tenant, Action.HANGUP, live_call)
    assert len(double.to("POST", f"/Calls/{live_call}.json")) == 3
    assert double.calls[live_call].status == "completed"
