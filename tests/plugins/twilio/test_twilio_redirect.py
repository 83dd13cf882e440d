"""Redirecting a live call: one Call resource update carrying the new TwiML, exactly as
Twilio's REST API takes it (``POST Calls/{sid}.json`` with ``Twiml``)."""

from __future__ import annotations

import uuid

import pytest
from twilio_helpers import ACME_NUMBER, CALLEE, call_ref, provider_for

from kernel import Platform, tenant_scope
from plugins.calls import (
    CallStatus,
    Conference,
    Gather,
    PlaceCall,
    Play,
    ProviderRefused,
    Say,
)
from plugins.twilio.testing import TwilioDouble

QUEUE_ROOM = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Conference beep="false" '
    'endConferenceOnExit="true" muted="false" startConferenceOnEnter="true">queue-42'
    "</Conference></Dial></Response>"
)


@pytest.fixture
async def live_call(platform: Platform, tenant: uuid.UUID, double: TwilioDouble) -> str:
    with tenant_scope(tenant):
        request = PlaceCall(call_id=uuid.uuid4(), from_number=ACME_NUMBER, to_number=CALLEE)
        placed = await provider_for(platform, tenant).place_call(request)
    double.calls[placed.provider_call_id].status = "in-progress"
    double.state.requests.clear()
    return placed.provider_call_id


async def redirect(platform, tenant, sid, steps, status=CallStatus.IN_PROGRESS) -> None:
    with tenant_scope(tenant):
        await provider_for(platform, tenant).redirect(call_ref(sid, status), steps)


async def test_a_caller_on_hold_music_is_moved_into_a_conference(
    platform, tenant, double, live_call
):
    holding = Gather(prompt=[Play(url="https://music.example.test/hold.mp3", loop=10)])
    await redirect(platform, tenant, live_call, [holding])
    room = Conference(name="queue-42", start_on_enter=True, end_on_exit=True)
    await redirect(platform, tenant, live_call, [room])

    first, second = double.to("POST", f"/Calls/{live_call}.json")
    assert second.path == f"/2010-04-01/Accounts/{double.account_sid}/Calls/{live_call}.json"
    assert second.auth == (double.account_sid, double.auth_token)
    assert second.fields == [("Twiml", QUEUE_ROOM)]
    assert "<Gather" in first.form["Twiml"]
    assert '<Play loop="10">' in first.form["Twiml"]
    call = double.calls[live_call]
    assert call.twiml[-1] == QUEUE_ROOM  # what Twilio now runs on the call
    assert [update.get("Twiml") for update in call.updates] == [first.form["Twiml"], QUEUE_ROOM]


async def test_the_document_is_the_one_a_webhook_would_be_answered_with(
    platform, tenant, double, live_call
):
    steps = [Say(text="An agent is free."), Conference(name="queue-7", beep=True)]
    await redirect(platform, tenant, live_call, steps)
    with tenant_scope(tenant):
        answer = await provider_for(platform, tenant).execute(call_ref(live_call), steps)
    [update] = double.to("POST", f"/Calls/{live_call}.json")
    assert update.form["Twiml"].encode() == answer.body


async def test_a_call_no_longer_in_progress_is_refused_by_twilio(
    platform, tenant, double, live_call
):
    double.calls[live_call].status = "completed"
    with pytest.raises(ProviderRefused, match="21220") as caught:
        await redirect(platform, tenant, live_call, [Say(text="Too late")])
    assert caught.value.code == "21220"


async def test_a_call_without_a_sid_never_reaches_twilio(platform, tenant, double):
    with pytest.raises(ProviderRefused, match="not reached Twilio"):
        await redirect(platform, tenant, None, [Say(text="Hi")])
    assert double.requests == []


async def test_a_transient_failure_is_retried(platform, tenant, double, live_call):
    double.fail_next(1, status=503)
    await redirect(platform, tenant, live_call, [Conference(name="queue-1")])
    assert len(double.to("POST", f"/Calls/{live_call}.json")) == 2


async def test_an_agent_leg_is_placed_to_a_sip_uri(platform, tenant, double):
    with tenant_scope(tenant):
        request = PlaceCall(
            call_id=uuid.uuid4(), from_number=ACME_NUMBER, to_number="sip:agent-7@pbx.example.test"
        )
        placed = await provider_for(platform, tenant).place_call(request)
    [create] = double.to("POST", "/Calls.json")
    assert create.form["To"] == "sip:agent-7@pbx.example.test"
    assert create.form["From"] == ACME_NUMBER
    assert double.calls[placed.provider_call_id].to == "sip:agent-7@pbx.example.test"
