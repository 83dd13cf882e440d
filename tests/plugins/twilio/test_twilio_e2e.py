"""End to end over HTTP: calls placed with ``POST /api/v1/calls`` go to the Twilio double, and
the double, playing the carrier, drives them with signed callbacks to the served platform."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from twilio_helpers import ACME_NUMBER, CALLEE, store_credentials

from kernel import Platform, tenant_scope
from kernel.testing import app_client, create_tenant, serve_app
from plugins.calls import PERMISSIONS, CallSettingsRow, PhoneNumber
from plugins.calls.testing import use_public_base_url
from plugins.twilio.testing import TwilioDouble

ALL = tuple(p.key for p in PERMISSIONS)


class Org:
    """A tenant whose primary provider is Twilio (one of the double's accounts)."""

    def __init__(self, tenant_id: uuid.UUID, account_sid: str, auth_token: str) -> None:
        self.id, self.account_sid, self.auth_token = tenant_id, account_sid, auth_token


async def provision(platform: Platform, double: TwilioDouble, slug: str, *, first: bool) -> Org:
    account = double.state.accounts[double.account_sid] if first else double.add_account()
    tenant_id = await create_tenant(platform, slug)
    await store_credentials(platform, tenant_id, account.sid, account.auth_token)
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            session.add(
                CallSettingsRow(
                    primary_provider="twilio",
                    max_concurrent_calls=10,
                    calls_per_second={"twilio": 100.0},
                )
            )
            await session.commit()
    return Org(tenant_id, account.sid, account.auth_token)


@pytest.fixture
async def app(make_app) -> AsyncIterator[FastAPI]:
    """The platform served on loopback; Twilio is told to call it there."""
    app = await make_app()
    async with serve_app(app) as url:
        use_public_base_url(app.state.platform, url)
        app.state.public_url = url
        yield app


@pytest.fixture
async def acme(app, double, kraliki_authenticate) -> Org:
    org = await provision(app.state.platform, double, "acme", first=True)
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=org.id)
    return org


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as http:
        yield http


async def place(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body = {"to": CALLEE, "from": ACME_NUMBER} | body
    response = await client.post("/api/v1/calls", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def detail(client: httpx.AsyncClient, call: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/api/v1/calls/{call['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def statuses(call: dict[str, Any]) -> list[str]:
    return [e["status"] for e in call["timeline"] if e["kind"] == "status"]


async def test_a_call_from_placing_to_hanging_up(client, acme, double, app):
    call = await place(client, instructions=[{"kind": "say", "text": "Your order shipped"}])
    assert (call["provider"], call["status"]) == ("twilio", "initiated")
    sid = call["provider_call_id"]
    twilio_call = double.calls[sid]
    base = f"{app.state.public_url}/webhooks/twilio/{acme.id}"
    assert twilio_call.url == f"{base}/voice?call={call['id']}"
    assert twilio_call.status_callback == f"{base}/status?call={call['id']}"

    assert (await double.send_status(sid, "initiated")).status_code == 200
    assert (await double.send_status(sid, "ringing")).status_code == 200
    answer = await double.answer(sid)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    [say] = double.last_twiml(sid)
    assert (say.tag, say.text) == ("Say", "Your order shipped")
    assert (await double.send_status(sid, "in-progress")).status_code == 200
    assert (await double.send_status(sid, "completed", duration=42)).status_code == 200

    done = await detail(client, call)
    assert done["status"] == "completed"
    assert done["duration_seconds"] == 42
    assert done["answered_at"]
    assert done["ended_at"]
    assert statuses(done) == ["initiated", "ringing", "in-progress", "completed"]


@pytest.mark.parametrize(
    ("status", "extra", "cause"),
    [
        ("busy", {"sip_response_code": 486}, "sip:486"),
        ("no-answer", {"sip_response_code": 487}, "sip:487"),
        ("failed", {"error_code": 32009}, "twilio:32009"),
        ("canceled", {}, None),
    ],
)
async def test_calls_that_never_connect(client, acme, double, status, extra, cause):
    call = await place(client)
    sid = call["provider_call_id"]
    await double.send_status(sid, "ringing")

    assert (await double.send_status(sid, status, **extra)).status_code == 200

    done = await detail(client, call)
    assert (done["status"], done["hangup_cause"], done["answered_at"]) == (status, cause, None)


async def test_duplicates_and_out_of_order_callbacks(client, acme, double):
    call = await place(client)
    sid = call["provider_call_id"]
    await double.send_status(sid, "completed", sequence=3, duration=9)
    await double.send_status(sid, "ringing", sequence=1)  # late
    first = double.callbacks[0]
    redelivered = await double.send_raw(
        first.url,
        first.form,
        auth_token=acme.auth_token,
        idempotency_token=first.headers["I-Twilio-Idempotency-Token"],
    )
    replayed = await double.send_raw(first.url, first.form, auth_token=acme.auth_token)
    assert (redelivered.status_code, replayed.status_code) == (200, 200)

    done = await detail(client, call)
    assert done["status"] == "completed"
    assert statuses(done).count("completed") == 1
    assert done["ringing_at"] is not None


async def test_a_redelivered_voice_request_gets_the_same_twiml(client, acme, double):
    call = await place(client, instructions=[{"kind": "say", "text": "Hi"}])
    sid = call["provider_call_id"]
    first = await double.answer(sid)
    original = double.callbacks[-1]
    again = await double.send_raw(
        original.url,
        original.form,
        auth_token=acme.auth_token,
        idempotency_token=original.headers["I-Twilio-Idempotency-Token"],
    )
    assert again.status_code == 200
    assert again.content == first.content


async def test_forged_unsigned_and_tampered_callbacks_change_nothing(client, acme, double):
    call = await place(client)
    sid = call["provider_call_id"]
    target = double.calls[sid].status_callback
    assert target is not None
    form = double.calls[sid].base_form() | {"CallStatus": "completed", "SequenceNumber": "5"}

    forged = await double.send_raw(target, form, signature="Zm9yZ2Vk")
    unsigned = await double.send_raw(target, form, signature=None)
    tampered = await double.send_raw(
        target, form, signature=double.sign(target, form | {"CallStatus": "busy"})
    )

    assert [r.status_code for r in (forged, unsigned, tampered)] == [403, 403, 403]
    assert forged.headers["content-type"] == "application/problem+json"
    assert (await detail(client, call))["status"] == "initiated"


async def test_tenant_a_url_with_tenant_b_signature_is_refused(client, acme, double, app):
    beta = await provision(app.state.platform, double, "beta", first=False)
    call = await place(client)
    sid = call["provider_call_id"]
    target = double.calls[sid].status_callback
    assert target is not None
    form = double.calls[sid].base_form() | {
        "CallStatus": "completed",
        "AccountSid": beta.account_sid,
    }

    response = await double.send_raw(target, form, auth_token=beta.auth_token)

    assert response.status_code == 403
    assert (await detail(client, call))["status"] == "initiated"


async def test_control_reaches_twilio(client, acme, double):
    call = await place(client)
    sid = call["provider_call_id"]
    await double.answer(sid)
    await double.send_status(sid, "in-progress")

    response = await client.post(
        f"/api/v1/calls/{call['id']}/transfer", json={"to": "+420777000111"}
    )
    assert response.status_code == 200, response.text
    dial = ET.fromstring(double.calls[sid].updates[-1]["Twiml"])[0]
    assert (dial.tag, dial.text) == ("Dial", "+420777000111")

    response = await client.post(f"/api/v1/calls/{call['id']}/hangup")
    assert response.status_code == 200, response.text
    assert double.calls[sid].updates[-1] == {"Status": "completed"}


async def test_mute_is_not_offered(client, acme, double):
    call = await place(client)
    await double.answer(call["provider_call_id"])
    await double.send_status(call["provider_call_id"], "in-progress")

    response = await client.post(f"/api/v1/calls/{call['id']}/mute")

    assert response.status_code == 409
    assert not double.to("POST", f"/Calls/{call['provider_call_id']}.json")


async def test_a_refused_number_is_a_422(client, acme, double):
    double.fail_next(1, 400, code=21215)  # "not authorized to call this number"
    response = await client.post("/api/v1/calls", json={"to": CALLEE, "from": ACME_NUMBER})
    assert response.status_code == 422, response.text
    assert len(double.requests) == 1


async def test_twilio_down_is_a_503(client, acme, double):
    double.fail_next(10, 503)
    response = await client.post("/api/v1/calls", json={"to": CALLEE, "from": ACME_NUMBER})
    assert response.status_code == 503, response.text


async def test_a_recording_and_its_audio(client, acme, double):
    call = await place(client, record=True)
    sid = call["provider_call_id"]
    await double.answer(sid)
    await double.send_status(sid, "in-progress")
    media = bytes(range(256)) * 400
    assert (await double.send_recording(sid, "completed", duration=12, media=media)).is_success

    [recording] = (await client.get(f"/api/v1/calls/{call['id']}/recordings")).json()
    assert (recording["status"], recording["duration_seconds"]) == ("completed", 12)
    audio = await client.get(f"/api/v1/calls/{call['id']}/recordings/{recording['id']}/audio")
    assert audio.status_code == 200, audio.text
    assert audio.content == media
    assert audio.headers["content-type"].startswith("audio/mpeg")


async def test_a_live_transcript(client, acme, double):
    call = await place(client, instructions=[{"kind": "record", "transcribe": True}])
    sid = call["provider_call_id"]
    await double.answer(sid)
    await double.send_status(sid, "in-progress")

    response = await double.send_transcription(sid, "Where is my parcel", confidence=0.88)
    assert response.status_code == 200

    [segment] = (await detail(client, call))["transcript"]
    assert (segment["text"], segment["speaker"], segment["confidence"]) == (
        "Where is my parcel",
        "customer",
        0.88,
    )


async def test_speech_reaches_the_platform(client, acme, double):
    gather = {"kind": "gather", "speech": True, "hints": ["parcel", "invoice"]}
    call = await place(client, instructions=[gather])
    sid = call["provider_call_id"]
    await double.answer(sid)
    await double.send_status(sid, "in-progress")
    [rendered] = double.last_twiml(sid)
    assert (rendered.attrib["input"], rendered.attrib["hints"]) == (
        "dtmf speech",
        "parcel, invoice",
    )

    response = await double.speak(sid, "Where is my parcel", confidence=0.9)

    assert response.status_code == 200
    [entry] = [e for e in (await detail(client, call))["timeline"] if e["kind"] == "input"]
    assert entry["detail"] == {"digits_count": 0, "speech": True}  # what was said is not kept


async def test_an_inbound_call_is_forwarded(client, acme, double, app):
    platform = app.state.platform
    with tenant_scope(acme.id):
        async with platform.database.session() as session:
            session.add(
                PhoneNumber(
                    number=ACME_NUMBER,
                    provider="twilio",
                    route="forward",
                    forward_to="+420777000222",
                )
            )
            await session.commit()
    voice = f"{app.state.public_url}/webhooks/twilio/{acme.id}/voice"

    twilio_call, answer = await double.inbound_call(voice, from_=CALLEE, to=ACME_NUMBER)

    assert answer.status_code == 200
    [dial, hangup] = ET.fromstring(answer.content)
    assert (dial.tag, dial.text, hangup.tag) == ("Dial", "+420777000222", "Hangup")
    assert "action" not in dial.attrib  # the call is the callee's from here on
    calls = (await client.get("/api/v1/calls")).json()["items"]
    assert [(c["direction"], c["provider_call_id"]) for c in calls] == [
        ("inbound", twilio_call.sid)
    ]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("completed", "completed"), ("busy", "busy"), ("no-answer", "no-answer")],
)
async def test_a_dial_that_reports_its_outcome(client, acme, double, outcome, status):
    target = "+420777000333"
    dial = {"kind": "dial", "number": target, "report_outcome": True, "timeout_seconds": 15}
    call = await place(client, instructions=[{"kind": "say", "text": "Connecting"}, dial])
    sid = call["provider_call_id"]
    double.dial_outcomes[target] = outcome

    answer = await double.answer(sid)

    said, rendered = ET.fromstring(answer.content)
    assert (said.tag, rendered.tag, rendered.text) == ("Say", "Dial", target)
    assert rendered.attrib["action"].endswith(f"/webhooks/twilio/{acme.id}/gather")
    assert double.calls[sid].dialled == [(target, outcome)]
    sent = double.last_dial_callback(sid)
    assert (sent.status_code, sent.form["DialCallStatus"]) == (200, outcome)
    assert list(ET.fromstring(sent.body)) == []  # no handler on the call: nothing to add
    [entry] = [e for e in (await detail(client, call))["timeline"] if e["kind"] == "dialed"]
    assert (entry["status"], entry["source"]) == (status, "provider")

    again = await double.send_raw(
        sent.url,
        sent.form,
        auth_token=acme.auth_token,
        idempotency_token=sent.headers["I-Twilio-Idempotency-Token"],
    )
    assert again.status_code == 200
    timeline = (await detail(client, call))["timeline"]
    assert [e["kind"] for e in timeline].count("dialed") == 1  # a redelivery is a duplicate
