"""Webhooks over real HTTP: the double signs as Twilio does, the provider verifies with the
tenant's auth token; anything not signed for this URL, body and tenant is rejected."""

from __future__ import annotations

import uuid

import pytest
from twilio_helpers import ACME_NUMBER, CALLEE, provider_for, store_credentials

from kernel import Platform, tenant_scope
from kernel.testing import create_tenant
from plugins.calls import (
    CallProgress,
    CallStatus,
    Gather,
    InstructionsNeeded,
    PlaceCall,
    Say,
)
from plugins.twilio.testing import TwilioDouble


@pytest.fixture
async def sid(platform: Platform, tenant: uuid.UUID) -> str:
    with tenant_scope(tenant):
        request = PlaceCall(call_id=uuid.uuid4(), from_number=ACME_NUMBER, to_number=CALLEE)
        return (await provider_for(platform, tenant).place_call(request)).provider_call_id


def url(receiver, tenant: uuid.UUID, kind: str) -> str:
    return f"{receiver.url}/webhooks/twilio/{tenant}/{kind}"


async def test_a_call_from_start_to_end(double: TwilioDouble, receiver, sid):
    receiver.instructions = [Say(text="Hello"), Gather(prompt=[Say(text="Press 1")])]

    for status in ("initiated", "ringing"):
        assert (await double.send_status(sid, status)).status_code == 200
    answered = await double.answer(sid)
    assert answered.status_code == 200
    assert answered.headers["content-type"] == "application/xml"
    assert [e.tag for e in double.last_twiml(sid)] == ["Say", "Gather"]
    pressed = await double.press(sid, "1")
    assert pressed.status_code == 200
    ended = await double.send_status(sid, "completed", duration=31)
    assert ended.status_code == 200

    kinds = [kind for kind, _ in receiver.parsed]
    assert kinds == ["status", "status", "voice", "gather", "status"]
    statuses = [
        event.status
        for _, parsed in receiver.parsed
        for event in parsed.events
        if isinstance(event, CallProgress)
    ]
    assert statuses == [
        CallStatus.INITIATED,
        CallStatus.RINGING,
        CallStatus.IN_PROGRESS,
        CallStatus.COMPLETED,
    ]
    [gathered] = receiver.parsed[3][1].events
    assert gathered == InstructionsNeeded(provider_call_id=sid, reason="gathered", digits="1")
    assert [e.sequence for e in receiver.parsed[-1][1].events] == [2]


async def test_speech_answers_a_gather_that_listens_for_it(double: TwilioDouble, receiver, sid):
    receiver.instructions = [
        Gather(dtmf=False, speech=True, hints=["billing"], prompt=[Say(text="How can we help?")])
    ]
    await double.answer(sid)
    [gather] = double.last_twiml(sid)
    assert (gather.tag, gather.attrib["input"]) == ("Gather", "speech")
    with pytest.raises(AssertionError, match="listens for"):
        await double.press(sid, "1")  # Twilio ignores keys a speech-only gather is not after

    spoken = await double.speak(sid, "Billing, please", confidence=0.87)

    assert spoken.status_code == 200
    assert "Digits" not in double.callbacks[-1].form
    assert double.callbacks[-1].headers["X-Twilio-Signature"]
    kind, parsed = receiver.parsed[-1]
    assert kind == "gather"
    [needed] = parsed.events
    assert needed == InstructionsNeeded(
        provider_call_id=sid, reason="gathered", speech="Billing, please", confidence=0.87
    )


async def test_an_inbound_call(double, receiver, tenant):
    receiver.instructions = [Say(text="Thanks for calling")]
    call, answer = await double.inbound_call(
        url(receiver, tenant, "voice"), from_=CALLEE, to=ACME_NUMBER
    )
    assert answer.status_code == 200
    [(kind, parsed)] = receiver.parsed
    assert kind == "voice"
    ringing, answering, needed = parsed.events
    assert (ringing.status, answering.status) == (CallStatus.RINGING, CallStatus.IN_PROGRESS)
    assert needed == InstructionsNeeded(
        provider_call_id=call.sid,
        reason="inbound",
        direction=ringing.direction,
        from_number=CALLEE,
        to_number=ACME_NUMBER,
    )


async def test_a_redelivery_has_the_same_key_and_distinct_callbacks_do_not(
    double, receiver, sid, tenant
):
    await double.send_status(sid, "ringing")
    first = double.callbacks[-1]
    again = await double.send_raw(
        first.url,
        first.form,
        auth_token=double.auth_token,
        idempotency_token=first.headers["I-Twilio-Idempotency-Token"],
    )
    assert again.status_code == 200
    await double.send_status(sid, "in-progress")
    keys = [parsed.dedupe_key for _, parsed in receiver.parsed]
    assert keys[0] == keys[1] != keys[2]


async def test_callbacks_out_of_order_keep_their_sequence(double, receiver, sid):
    await double.send_status(sid, "completed", sequence=3)
    await double.send_status(sid, "ringing", sequence=1)
    assert [parsed.events[0].sequence for _, parsed in receiver.parsed] == [3, 1]


async def test_urls_of_a_call_carry_its_id_and_are_signed_with_it(
    platform, tenant, double, receiver
):
    call_id = uuid.uuid4()
    with tenant_scope(tenant):
        request = PlaceCall(call_id=call_id, from_number=ACME_NUMBER, to_number=CALLEE)
        sid = (await provider_for(platform, tenant, call_id).place_call(request)).provider_call_id
    call = double.calls[sid]
    assert call.status_callback == f"{url(receiver, tenant, 'status')}?call={call_id}"
    assert call.url == f"{url(receiver, tenant, 'voice')}?call={call_id}"

    assert (await double.send_status(sid, "ringing")).status_code == 200
    form = double.callbacks[-1].form
    other_call = f"{url(receiver, tenant, 'status')}?call={uuid.uuid4()}"
    signed_for_this_call = double.sign(call.status_callback, form)
    moved = await double.send_raw(other_call, form, signature=signed_for_this_call)
    assert moved.status_code == 403


# --- rejected ------------------------------------------------------------------------------


async def test_a_forged_signature_is_rejected(double, receiver, sid, tenant):
    form = {"CallSid": sid, "CallStatus": "completed", "AccountSid": double.account_sid}
    response = await double.send_raw(
        url(receiver, tenant, "status"), form, signature="bm90IGEgc2lnbmF0dXJl"
    )
    assert response.status_code == 403
    assert receiver.parsed == []


async def test_an_unsigned_callback_is_rejected(double, receiver, sid, tenant):
    form = {"CallSid": sid, "CallStatus": "completed"}
    response = await double.send_raw(url(receiver, tenant, "status"), form, signature=None)
    assert response.status_code == 403


async def test_a_tampered_body_is_rejected(double, receiver, sid, tenant):
    target = url(receiver, tenant, "status")
    signed = {"CallSid": sid, "CallStatus": "busy", "SequenceNumber": "1"}
    sent = signed | {"CallStatus": "completed"}
    response = await double.send_raw(target, sent, signature=double.sign(target, signed))
    assert response.status_code == 403


async def test_a_signature_for_another_url_is_rejected(double, receiver, sid, tenant):
    form = {"CallSid": sid, "CallStatus": "completed"}
    signature = double.sign(url(receiver, tenant, "voice"), form)
    response = await double.send_raw(url(receiver, tenant, "status"), form, signature=signature)
    assert response.status_code == 403


async def test_tenant_a_url_with_tenant_b_signature_is_rejected(
    double, receiver, sid, tenant, platform
):
    other = await create_tenant(platform, "other")
    account = double.add_account()
    await store_credentials(platform, other, account.sid, account.auth_token)
    form = {"CallSid": sid, "CallStatus": "completed", "AccountSid": account.sid}

    token = account.auth_token
    into_a = await double.send_raw(url(receiver, tenant, "status"), form, auth_token=token)
    own = await double.send_raw(url(receiver, other, "status"), form, auth_token=token)

    assert (into_a.status_code, own.status_code) == (403, 200)


async def test_a_tenant_without_a_token_rejects_everything(double, receiver, platform):
    bare = await create_tenant(platform, "bare")
    form = {"CallSid": "CA" + "0" * 32, "CallStatus": "completed"}
    response = await double.send_raw(url(receiver, bare, "status"), form)
    assert response.status_code == 403


async def test_signed_but_not_understood_is_malformed(double, receiver, sid, tenant):
    response = await double.send_raw(url(receiver, tenant, "sms"), {"CallSid": sid})
    assert response.status_code == 400
    response = await double.send_raw(url(receiver, tenant, "status"), {"CallStatus": "busy"})
    assert response.status_code == 400
