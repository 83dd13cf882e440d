"""A caller reaches an agent through Twilio's double, on Twilio's wire format: signed form
webhooks answered with TwiML, the agent's leg placed with ``Calls.create``, the caller moved
into the agent's conference with a Call resource update (``Twiml``), and an agent who does
not answer missed (away, reason ``missed``) while the caller goes to the next agent."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from routing_helpers import run_dispatch
from wire_helpers import (
    ANA_PHONE,
    BEN_PHONE,
    CALLER,
    DESK_NUMBER,
    GREETING,
    MUSIC,
    QUEUE_NUMBER,
    agent_of,
    call_of,
    handled_calls,
    phone_agent,
    queue_calls,
    route_numbers,
    support_queue,
    wire_tenant,
)

from kernel.testing import app_client, published_events
from plugins.calls.testing import served_platform
from plugins.twilio.testing import TwilioDouble, use_twilio


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble() as server:
        yield server


@pytest.fixture
async def kraliki_app(kraliki_make_app, double, monkeypatch) -> AsyncIterator[FastAPI]:
    """Served, so the double can call it back; no background workers: the test runs the
    dispatch job itself."""
    environment = double.environment()
    async with served_platform(
        kraliki_make_app, monkeypatch, environment, background_workers=False
    ) as app:
        yield app


@pytest.fixture
async def tenant(kraliki_app, double, kraliki_authenticate) -> uuid.UUID:
    return await wire_tenant(kraliki_app, kraliki_authenticate, use_twilio, double, "twilio")


@pytest.fixture
async def client(kraliki_app) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(kraliki_app) as http:
        yield http


def verbs(document: bytes | str) -> list[tuple[str, str]]:
    """A TwiML document's verbs (and the nouns in them) with their text."""
    out = []
    for verb in ET.fromstring(document):
        out.append((verb.tag, (verb.text or "").strip()))
        out.extend((f"{verb.tag}/{child.tag}", (child.text or "").strip()) for child in verb)
    return out


def conference_of(document: str) -> ET.Element:
    conference = ET.fromstring(document).find("Dial/Conference")
    assert conference is not None, document
    return conference


class Desk:
    """The tenant's setup (agents, queue, routed numbers) and the URLs Twilio calls."""

    def __init__(self, app: FastAPI, tenant_id: uuid.UUID, queue_id: str, agents: list[str]):
        self.app, self.tenant_id, self.queue_id, self.agents = app, tenant_id, queue_id, agents
        self.base = f"{app.state.public_url}/webhooks/twilio/{tenant_id}"

    async def dispatch(self) -> None:
        await run_dispatch(self.app.state.platform, self.tenant_id)


@pytest.fixture
async def desk(kraliki_app, tenant, client, kraliki_make_user) -> Desk:
    """Ana (longest idle) and Ben, both on phones, serve the queue."""
    agents = [
        await phone_agent(client, kraliki_make_user, tenant, "Ana", ANA_PHONE),
        await phone_agent(client, kraliki_make_user, tenant, "Ben", BEN_PHONE),
    ]
    queue_id = await support_queue(client, *agents)
    await route_numbers(client, "twilio", queue_id)
    return Desk(kraliki_app, tenant, queue_id, agents)


async def ring(double: TwilioDouble, desk: Desk, number: str) -> tuple[Any, httpx.Response]:
    """A caller dials ``number``: Twilio posts its voice URL (and will report the call's end
    to its status callback, as a number's "call status changes" URL does)."""
    return await double.inbound_call(
        f"{desk.base}/voice", from_=CALLER, to=number, status_callback=f"{desk.base}/status"
    )


def leg_to(double: TwilioDouble, phone: str) -> Any:
    [leg] = [call for call in double.calls.values() if call.to == phone]
    return leg


async def test_a_caller_goes_through_the_ivr_to_an_agent(double, desk, client):
    ana, ben = desk.agents
    caller, menu = await ring(double, desk, DESK_NUMBER)
    assert verbs(menu.content) == [
        ("Say", "Thank you for calling Acme."),
        ("Gather", ""),
        ("Gather/Say", "For sales, press 1. For support, press 2."),
    ]

    # "2": the queue's greeting, the caller's place and wait, then music in a one-key gather.
    hold = await double.press(caller.sid, "2")
    assert verbs(hold.content) == [
        ("Say", GREETING),
        ("Say", "You are number 1 in line."),
        ("Say", "Your estimated wait is about 2 minutes."),
        ("Gather", ""),
        ("Gather/Play", MUSIC),
    ]
    gather = ET.fromstring(hold.content).find("Gather")
    assert gather is not None
    assert (gather.attrib["numDigits"], gather.attrib["action"]) == ("1", f"{desk.base}/gather")
    assert gather.find("Play").attrib["loop"] == "1"  # type: ignore[union-attr]
    [waiting] = await queue_calls(client, desk.queue_id)
    assert waiting["status"] == "waiting"

    # Routing offers the call to Ana (idle the longest) and rings her phone.
    await desk.dispatch()
    [create] = double.to("POST", "/Calls.json")
    leg = leg_to(double, ANA_PHONE)
    leg_call = (await client.get("/api/v1/calls", params={"direction": "outbound"})).json()
    [leg_id] = [c["id"] for c in leg_call["items"]]
    assert create.auth == (double.account_sid, double.auth_token)
    assert create.form["To"] == ANA_PHONE
    assert create.form["From"] == DESK_NUMBER  # the number the caller dialled
    assert create.form["Url"] == f"{desk.base}/voice?call={leg_id}"
    assert create.form["StatusCallback"] == f"{desk.base}/status?call={leg_id}"
    assert create.values("StatusCallbackEvent") == ["initiated", "ringing", "answered", "completed"]
    assert create.form["Timeout"] == "20"  # the queue's offer timeout
    assert (await agent_of(client, ana))["state"] == "reserved"
    [offered] = await queue_calls(client, desk.queue_id)
    assert (offered["status"], offered["offers"]) == ("offered", 1)

    # Ana answers: her leg waits in the call's conference.
    await double.send_status(leg.sid, "initiated")
    await double.send_status(leg.sid, "ringing")
    answered = await double.answer(leg.sid)
    room = f"kq-{waiting['id']}"
    assert verbs(answered.content) == [("Say", "Support"), ("Dial", ""), ("Dial/Conference", room)]
    assert conference_of(answered.text).attrib == {
        "beep": "false",
        "endConferenceOnExit": "true",
        "muted": "false",
        "startConferenceOnEnter": "true",
    }
    await double.send_status(leg.sid, "in-progress")
    assert (await agent_of(client, ana))["state"] == "on_call"

    # The dispatch job bridges: the caller's call is redirected into the same conference.
    assert double.to("POST", f"/Calls/{caller.sid}.json") == []
    await desk.dispatch()
    [bridge] = double.to("POST", f"/Calls/{caller.sid}.json")
    assert [name for name, _ in bridge.fields] == ["Twiml"]
    assert verbs(bridge.form["Twiml"]) == [("Dial", ""), ("Dial/Conference", room)]
    assert conference_of(bridge.form["Twiml"]).attrib["endConferenceOnExit"] == "true"
    assert double.calls[caller.sid].twiml[-1] == bridge.form["Twiml"]  # what Twilio runs now

    [connected] = await queue_calls(client, desk.queue_id)
    assert (connected["status"], connected["agent_id"]) == ("connected", ana)
    assert connected["answered_at"] is not None
    agent = await agent_of(client, ana)
    assert (agent["state"], agent["current_call_id"]) == ("on_call", connected["call_id"])
    assert (await agent_of(client, ben))["state"] == "available"
    timeline = (await call_of(client, connected["call_id"]))["timeline"]
    [redirected] = [e for e in timeline if e["kind"] == "redirected"]
    assert redirected["detail"]["steps"] == ["conference"]

    # The caller hangs up (the number's status callback): the call is over, Ana wraps up,
    # and her leg, should the conference not have ended it, is hung up.
    assert (await double.send_status(caller.sid, "completed", duration=95)).status_code == 200
    [completed] = await queue_calls(client, desk.queue_id)
    assert (completed["status"], completed["outcome"]) == ("completed", "completed")
    agent = await agent_of(client, ana)
    assert agent["state"] == "wrap_up"
    assert agent["wrap_up_until"] is not None
    [handled] = await handled_calls(client, ana)
    assert handled["call_id"] == connected["call_id"]
    assert handled["queue_id"] == desk.queue_id
    assert handled["ended_at"] is not None
    await desk.dispatch()
    assert double.to("POST", f"/Calls/{leg.sid}.json")[-1].fields == [("Status", "completed")]
    await double.send_status(leg.sid, "completed", duration=94)
    assert (await call_of(client, leg_id))["status"] == "completed"
    assert (await agent_of(client, ana))["state"] == "wrap_up"


@pytest.mark.parametrize(
    ("outcome", "sip", "offer_outcome"),
    [("no-answer", 487, "missed"), ("busy", 486, "declined")],
)
async def test_an_agent_who_does_not_answer_is_missed_and_the_next_agent_is_rung(
    double, desk, client, outcome, sip, offer_outcome
):
    ana, ben = desk.agents
    caller, hold = await ring(double, desk, QUEUE_NUMBER)
    assert [tag for tag, _ in verbs(hold.content)][:2] == ["Say", "Say"]
    assert verbs(hold.content)[-1] == ("Gather/Play", MUSIC)
    await desk.dispatch()
    ana_leg = leg_to(double, ANA_PHONE)
    await double.send_status(ana_leg.sid, "initiated")
    await double.send_status(ana_leg.sid, "ringing")

    # Twilio reports Ana's phone rang out (or was busy): the leg's status callback.
    ended = await double.send_status(ana_leg.sid, outcome, sip_response_code=sip)
    assert ended is not None
    assert ended.status_code == 200
    agent = await agent_of(client, ana)
    assert (agent["state"], agent["reason_code"]) == ("away", "missed")
    [waiting] = await queue_calls(client, desk.queue_id)
    assert (waiting["status"], waiting["offers"]) == ("waiting", 1)
    events = [
        (name, payload["outcome"])
        for name, payload in await published_events(desk.app.state.platform, desk.tenant_id)
        if name == "queues.call.offer_ended"
    ]
    assert events == [("queues.call.offer_ended", offer_outcome)]

    # The next dispatch rings Ben; the caller never left the hold music.
    await desk.dispatch()
    creates = double.to("POST", "/Calls.json")
    assert [c.form["To"] for c in creates] == [ANA_PHONE, BEN_PHONE]
    ben_leg = leg_to(double, BEN_PHONE)
    answered = await double.answer(ben_leg.sid)
    assert verbs(answered.content)[-1] == ("Dial/Conference", f"kq-{waiting['id']}")
    await desk.dispatch()
    [bridge] = double.to("POST", f"/Calls/{caller.sid}.json")
    assert verbs(bridge.form["Twiml"]) == [("Dial", ""), ("Dial/Conference", f"kq-{waiting['id']}")]
    [connected] = await queue_calls(client, desk.queue_id)
    assert (connected["status"], connected["agent_id"], connected["offers"]) == (
        "connected",
        ben,
        2,
    )
    assert (await agent_of(client, ana))["state"] == "away"
    assert double.to("POST", f"/Calls/{ana_leg.sid}.json") == []  # nothing left to hang up
