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
from ivr_helpers import IVR_ALL

from kernel import tenant_scope
from kernel.testing import app_client, create_tenant, serve_app
from plugins.calls import PERMISSIONS
from plugins.calls.testing import set_call_settings, use_public_base_url
from plugins.twilio.testing import TwilioDouble

CALLS_ALL = tuple(p.key for p in PERMISSIONS)


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble() as server:
        yield server


@pytest.fixture
async def app(kraliki_make_app, double, monkeypatch) -> AsyncIterator[FastAPI]:
    monkeypatch.setenv("KRALIKI_TWILIO_API_BASE_URL", double.url)
    app = await kraliki_make_app(background_workers=False)
    async with serve_app(app) as url:
        use_public_base_url(app.state.platform, url)
        app.state.public_url = url
        yield app


@pytest.fixture
async def tenant(app, double, kraliki_authenticate) -> uuid.UUID:
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.vault.put(session, "twilio.account_sid", double.account_sid, actor="t")
            await platform.vault.put(session, "twilio.auth_token", double.auth_token, actor="t")
            await session.commit()
    await set_call_settings(platform, tenant_id, primary_provider="twilio", max_concurrent_calls=10)
    kraliki_authenticate(app, *IVR_ALL, *CALLS_ALL, kind="user", tenant_id=tenant_id)
    return tenant_id


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as http:
        yield http


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
