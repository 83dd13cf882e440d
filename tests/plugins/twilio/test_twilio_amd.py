"""Asynchronous answering-machine detection on Twilio, end to end: the call is placed with
``MachineDetection``, ``AsyncAmd`` and ``AsyncAmdStatusCallback``; the voice webhook runs
the call's instructions at once, and the double posts the verdict later to the ``amd``
webhook in Twilio's wire format, signed like every other callback."""

from __future__ import annotations

from typing import Any

import pytest
import test_twilio_e2e as e2e
from test_twilio_e2e import detail, place
from twilio_helpers import CALLEE

from kernel.testing import outbox_events
from plugins.twilio.testing import TwilioDouble

app, acme, client = e2e.app, e2e.acme, e2e.client  # the end-to-end tests' fixtures


def verdicts(rows: list[Any], call_id: str) -> list[dict[str, Any]]:
    return [
        r.payload
        for r in rows
        if r.name == "calls.call.machine_detected" and r.payload["call_id"] == call_id
    ]


@pytest.mark.parametrize(
    ("detection", "twilio"), [("detect", "Enable"), ("detect-message-end", "DetectMessageEnd")]
)
async def test_the_call_asks_twilio_for_async_detection(
    client, acme, double, app, detection, twilio
):
    call = await place(client, detection=detection)

    [request] = double.to("POST", "/Calls.json")
    base = f"{app.state.public_url}/webhooks/twilio/{acme.id}"
    assert request.form["To"] == CALLEE
    assert request.form["MachineDetection"] == twilio
    assert request.form["AsyncAmd"] == "true"
    assert request.form["AsyncAmdStatusCallback"] == f"{base}/amd?call={call['id']}"
    assert request.form["AsyncAmdStatusCallbackMethod"] == "POST"


async def test_synchronous_detection_stays_as_it_was(client, acme, double):
    await place(client, machine_detection=True)

    [request] = double.to("POST", "/Calls.json")
    assert request.form["MachineDetection"] == "Enable"
    assert "AsyncAmd" not in request.form


@pytest.mark.parametrize(
    ("answered_by", "verdict", "greeting_ended", "beep"),
    [
        ("human", "human", False, None),
        ("machine_start", "machine", False, None),
        ("machine_end_beep", "machine", True, True),
        ("machine_end_silence", "machine", True, False),
        ("machine_end_other", "machine", True, None),
        ("fax", "machine", False, None),
        ("unknown", "unknown", False, None),
    ],
)
async def test_the_verdict_arrives_after_the_answer(
    client, acme, double: TwilioDouble, app, answered_by, verdict, greeting_ended, beep
):
    call = await place(
        client,
        detection="detect-message-end",
        instructions=[{"kind": "say", "text": "Your order shipped"}],
    )
    sid = call["provider_call_id"]
    answer = await double.answer(sid)
    assert "AnsweredBy" not in double.callbacks[-1].form  # connected at once
    assert answer.status_code == 200
    [say] = double.last_twiml(sid)
    assert say.text == "Your order shipped"
    await double.send_status(sid, "in-progress")
    answered = await detail(client, call)
    assert (answered["status"], answered["answered_by"]) == ("in-progress", None)

    response = await double.send_amd(sid, answered_by, duration_ms=4100)

    assert response.status_code == 200
    sent = double.callbacks[-1]
    assert sent.form == {
        "CallSid": sid,
        "AccountSid": acme.account_sid,
        "AnsweredBy": answered_by,
        "MachineDetectionDuration": "4100",
    }
    done = await detail(client, call)
    assert done["answered_by"] == verdict
    [entry] = [e for e in done["timeline"] if e["kind"] == "machine-detected"]
    assert entry["detail"]["answered_by"] == verdict
    [published] = verdicts(await outbox_events(app.state.platform, acme.id), call["id"])
    assert (published["answered_by"], published["greeting_ended"], published["beep"]) == (
        verdict,
        greeting_ended,
        beep,
    )
    assert published["detection_ms"] == 4100


async def test_a_redelivered_verdict_is_applied_once(client, acme, double, app):
    call = await place(client, detection="detect")
    sid = call["provider_call_id"]
    await double.answer(sid)
    await double.send_amd(sid, "machine_start")
    first = double.callbacks[-1]

    redelivered = await double.send_raw(
        first.url,
        first.form,
        auth_token=acme.auth_token,
        idempotency_token=first.headers["I-Twilio-Idempotency-Token"],
    )
    replayed = await double.send_raw(first.url, first.form, auth_token=acme.auth_token)

    assert (redelivered.status_code, replayed.status_code) == (200, 200)
    done = await detail(client, call)
    assert [e["kind"] for e in done["timeline"]].count("machine-detected") == 1
    assert len(verdicts(await outbox_events(app.state.platform, acme.id), call["id"])) == 1


async def test_forged_and_unsigned_verdicts_change_nothing(client, acme, double, app):
    call = await place(client, detection="detect")
    sid = call["provider_call_id"]
    await double.answer(sid)
    target = double.calls[sid].async_amd_status_callback
    assert target is not None
    form = {
        "CallSid": sid,
        "AccountSid": acme.account_sid,
        "AnsweredBy": "machine_start",
        "MachineDetectionDuration": "2000",
    }

    forged = await double.send_raw(target, form, signature="Zm9yZ2Vk")
    unsigned = await double.send_raw(target, form, signature=None)
    tampered = await double.send_raw(
        target, form, signature=double.sign(target, form | {"AnsweredBy": "human"})
    )

    assert [r.status_code for r in (forged, unsigned, tampered)] == [403, 403, 403]
    done = await detail(client, call)
    assert done["answered_by"] is None
    assert not [e for e in done["timeline"] if e["kind"] == "machine-detected"]
    assert verdicts(await outbox_events(app.state.platform, acme.id), call["id"]) == []


async def test_an_unknown_verdict_is_malformed(client, acme, double):
    call = await place(client, detection="detect")
    sid = call["provider_call_id"]
    await double.answer(sid)
    target = double.calls[sid].async_amd_status_callback
    assert target is not None
    form = {"CallSid": sid, "AccountSid": acme.account_sid, "AnsweredBy": "robot"}

    response = await double.send_raw(target, form, auth_token=acme.auth_token)

    assert response.status_code == 400
    assert (await detail(client, call))["answered_by"] is None
