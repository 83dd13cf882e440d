"""A flow built through the API answering Twilio's real-format webhooks (the Twilio double
signs them like Twilio; the platform answers TwiML)."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from ivr_calls import CALLER, MENU, NUMBER, SALES, flow_sessions, publish_and_route

from plugins.calls import PERMISSIONS
from plugins.calls.testing import served_platform
from plugins.twilio.testing import TwilioDouble, use_twilio

CALLS_ALL = tuple(p.key for p in PERMISSIONS)


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble() as server:
        yield server


@pytest.fixture
async def app(kraliki_make_app, double, monkeypatch) -> AsyncIterator[FastAPI]:
    environment = double.environment()
    async with served_platform(
        kraliki_make_app, monkeypatch, environment, background_workers=False
    ) as app:
        yield app


@pytest.fixture
async def tenant(tenant, app, double) -> uuid.UUID:
    """The organization of every IVR test, calling through the double."""
    await use_twilio(app.state.platform, tenant, double, max_concurrent_calls=10)
    return tenant


def verbs(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    out = []
    for verb in root:
        out.append((verb.tag, (verb.text or "").strip()))
        out.extend((f"{verb.tag}/{child.tag}", (child.text or "").strip()) for child in verb)
    return out


async def test_a_caller_goes_through_the_menu_to_sales(client, tenant, double, app):
    await publish_and_route(client, "twilio")
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"

    call, first = await double.inbound_call(voice, from_=CALLER, to=NUMBER)
    assert verbs(first) == [
        ("Say", "Thanks for calling."),
        ("Gather", ""),
        ("Gather/Say", "For sales, press 1. For a message, press 2."),
    ]
    gather = ET.fromstring(first.content).find("Gather")
    assert gather is not None
    assert gather.attrib["action"].startswith(f"{app.state.public_url}/webhooks/twilio/")

    silence = await double.press(call.sid, "")
    assert verbs(silence)[0] == ("Gather", "")
    assert verbs(silence)[1] == ("Gather/Say", "Sorry, I did not get that.")

    chosen = await double.press(call.sid, "1")
    assert verbs(chosen) == [("Say", "Connecting you to sales."), ("Dial", SALES)]
    dial = ET.fromstring(chosen.content).find("Dial")
    assert dial is not None
    assert dial.attrib["callerId"] == CALLER

    [kept] = await flow_sessions(app.state.platform, tenant)
    assert (kept.status, kept.outcome) == ("ended", "transferred")
    assert kept.state["path"] == ["hello:next", "menu:1", "sales:ended"]


async def test_voicemail_through_twilio(client, tenant, double, app):
    await publish_and_route(client, "twilio")
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    call, _ = await double.inbound_call(voice, from_=CALLER, to=NUMBER)
    recording = await double.press(call.sid, "2")
    assert [tag for tag, _ in verbs(recording)] == ["Say", "Record", "Say", "Hangup"]
    record = ET.fromstring(recording.content).find("Record")
    assert record is not None
    # Twilio posts the <Record>'s end to its action: the goodbye comes back.
    form = call.base_form() | {"CallStatus": "in-progress", "RecordingUrl": "https://x/r"}
    done = await double.send_raw(record.attrib["action"], form)
    assert [tag for tag, _ in verbs(done)] == ["Say", "Hangup"]
    [kept] = await flow_sessions(app.state.platform, tenant)
    assert kept.outcome == "voicemail"


async def test_a_forged_gather_changes_nothing(client, tenant, double, app):
    await publish_and_route(client, "twilio")
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    call, _ = await double.inbound_call(voice, from_=CALLER, to=NUMBER)
    gather_url = ET.fromstring(double.state.calls[call.sid].twiml[-1]).find("Gather")
    assert gather_url is not None
    forged = await httpx.AsyncClient().post(
        gather_url.attrib["action"],
        data=call.base_form() | {"Digits": "1"},
        headers={"X-Twilio-Signature": "forged"},
    )
    assert forged.status_code == 403
    [kept] = await flow_sessions(app.state.platform, tenant)
    assert kept.status == "active"
    assert kept.state["path"] == ["hello:next"]


async def test_a_speech_menu_through_twilio(client, tenant, double, app):
    speech_menu = json.loads(json.dumps(MENU))
    speech_menu["nodes"]["menu"]["input"] = "dtmf speech"
    speech_menu["nodes"]["menu"]["options"][0]["keywords"] = ["sales", "buy"]
    await publish_and_route(client, "twilio", speech_menu)
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    call, first = await double.inbound_call(voice, from_=CALLER, to=NUMBER)
    gather = ET.fromstring(first.content).find("Gather")
    assert gather is not None
    assert gather.attrib["input"] == "dtmf speech"
    said = await double.speak(call.sid, "I would like to buy something")
    assert verbs(said) == [("Say", "Connecting you to sales."), ("Dial", SALES)]


async def test_a_transfer_nobody_answers_takes_the_no_answer_branch(client, tenant, double, app):
    document = json.loads(json.dumps(MENU))
    document["nodes"]["sales"]["exits"] = {"no_answer": "message"}
    await publish_and_route(client, "twilio", document)
    double.dial_outcomes[SALES] = "no-answer"
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    call, _ = await double.inbound_call(voice, from_=CALLER, to=NUMBER)

    chosen = await double.press(call.sid, "1")
    assert verbs(chosen) == [("Say", "Connecting you to sales."), ("Dial", SALES)]
    dial = ET.fromstring(chosen.content).find("Dial")
    assert dial is not None
    assert dial.attrib["action"].endswith("/gather")
    # The double rang sales for nobody and posted the <Dial action>: the answer is the
    # voicemail node's TwiML.
    assert double.state.calls[call.sid].dialled == [(SALES, "no-answer")]
    reported = double.last_dial_callback(call.sid)
    assert reported.form["DialCallStatus"] == "no-answer"
    assert [tag for tag, _ in verbs_of(double.state.calls[call.sid].twiml[-1])] == [
        "Say",
        "Record",
        "Say",
        "Hangup",
    ]
    [kept] = await flow_sessions(app.state.platform, tenant)
    assert kept.status == "active"
    assert kept.state["path"] == ["hello:next", "menu:1", "sales:no_answer"]


def verbs_of(document: str) -> list[tuple[str, str]]:
    return [(verb.tag, (verb.text or "").strip()) for verb in ET.fromstring(document)]


async def test_an_inbound_call_is_in_progress_once_twilio_runs_its_twiml(
    client, tenant, double, app
):
    """Twilio answers an incoming call to run the TwiML it gets, and tells a number's status
    callback only how the call ends: the voice request is when the platform learns the call
    is answered (a caller on a queue's hold loop can then be redirected to an agent)."""
    await publish_and_route(client, "twilio")
    voice = f"{app.state.public_url}/webhooks/twilio/{tenant}/voice"
    await double.inbound_call(voice, from_=CALLER, to=NUMBER)

    [listed] = (await client.get("/api/v1/calls")).json()["items"]
    detail = (await client.get(f"/api/v1/calls/{listed['id']}")).json()
    assert detail["status"] == "in-progress"
    assert detail["answered_at"] is not None
    statuses = [e["status"] for e in detail["timeline"] if e["kind"] == "status"]
    assert statuses == ["ringing", "in-progress"]
