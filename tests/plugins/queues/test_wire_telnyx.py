"""A caller reaches an agent through Telnyx's double, on Telnyx's wire format: Ed25519-signed
event webhooks answered with Call Control commands, the agent's leg dialled (``POST
/v2/calls``), the agent's conference created and the caller moved into it (``gather_stop``,
``playback_stop``, conference ``join``), and an agent who does not answer missed (away,
reason ``missed``) while the caller goes to the next agent."""

from __future__ import annotations

import base64
import json
import uuid
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
from plugins.telnyx.testing import TelnyxDouble, use_telnyx


@pytest.fixture
async def telnyx() -> AsyncIterator[TelnyxDouble]:
    async with TelnyxDouble() as double:
        yield double


@pytest.fixture
async def kraliki_app(kraliki_make_app, telnyx, monkeypatch) -> AsyncIterator[FastAPI]:
    """Served, so the double can call it back; no background workers: the test runs the
    dispatch job itself."""
    environment = telnyx.environment()
    async with served_platform(
        kraliki_make_app, monkeypatch, environment, background_workers=False
    ) as app:
        yield app


@pytest.fixture
async def tenant(kraliki_app, telnyx, kraliki_authenticate) -> uuid.UUID:
    return await wire_tenant(kraliki_app, kraliki_authenticate, use_telnyx, telnyx, "telnyx")


@pytest.fixture
async def client(kraliki_app) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(kraliki_app) as http:
        yield http


def decoded(client_state: str | None) -> Any:
    return json.loads(base64.b64decode(client_state)) if client_state else None


class Desk:
    """The tenant's setup (agents, queue, routed numbers) and where Telnyx posts events."""

    def __init__(self, app: FastAPI, tenant_id: uuid.UUID, queue_id: str, agents: list[str]):
        self.app, self.tenant_id, self.queue_id, self.agents = app, tenant_id, queue_id, agents
        self.events = f"{app.state.public_url}/webhooks/telnyx/{tenant_id}/events"

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
    await route_numbers(client, "telnyx", queue_id)
    return Desk(kraliki_app, tenant, queue_id, agents)


def last(telnyx: TelnyxDouble, control_id: str) -> Any:
    return telnyx.commands(control_id)[-1]


async def hold_music(telnyx: TelnyxDouble, control_id: str, spoken: int) -> Any:
    """Let the ``spoken`` queued announcements end; the command that follows (the hold)."""
    for _ in range(spoken):
        assert last(telnyx, control_id).action == "speak"
        await telnyx.send_event(control_id, "call.speak.ended")
    return last(telnyx, control_id)


def leg_to(telnyx: TelnyxDouble, phone: str) -> str:
    [leg] = [call for call in telnyx.calls.values() if call.to == phone]
    return leg.call_control_id


async def test_a_caller_goes_through_the_ivr_to_an_agent(telnyx, desk, client):
    ana, ben = desk.agents
    caller = telnyx.incoming_call(CALLER, DESK_NUMBER, webhook_url=desk.events).call_control_id
    await telnyx.send_event(caller, "call.initiated")
    assert last(telnyx, caller).action == "answer"
    await telnyx.send_event(caller, "call.answered")
    assert last(telnyx, caller).body["payload"] == "Thank you for calling Acme."
    await telnyx.send_event(caller, "call.speak.ended")
    menu = last(telnyx, caller)
    assert (menu.action, menu.body["payload"]) == (
        "gather_using_speak",
        "For sales, press 1. For support, press 2.",
    )

    # "2": the greeting, the caller's place and wait, then music in a one-key gather.
    await telnyx.send_event(caller, "call.gather.ended", digits="2", status="valid")
    assert last(telnyx, caller).body["payload"] == GREETING
    hold = await hold_music(telnyx, caller, 3)
    assert hold.action == "gather_using_audio"
    assert hold.body["audio_url"] == MUSIC
    assert (hold.body["maximum_digits"], hold.body["timeout_millis"]) == (1, 1000)
    said = [c.body["payload"] for c in telnyx.commands(caller, "speak")]
    assert said[-3:] == [
        GREETING,
        "You are number 1 in line.",
        "Your estimated wait is about 2 minutes.",
    ]
    [waiting] = await queue_calls(client, desk.queue_id)
    assert waiting["status"] == "waiting"
    room = f"kq-{waiting['id']}"

    # Routing offers the call to Ana (idle the longest): her leg is dialled.
    await desk.dispatch()
    [dial] = telnyx.commands(action="dial")
    leg = leg_to(telnyx, ANA_PHONE)
    outbound = (await client.get("/api/v1/calls", params={"direction": "outbound"})).json()
    [leg_id] = [c["id"] for c in outbound["items"]]
    assert dial.headers["authorization"] == f"Bearer {telnyx.api_key}"
    assert dial.body["to"] == ANA_PHONE
    assert dial.body["from"] == DESK_NUMBER  # the number the caller dialled
    assert dial.body["connection_id"] == telnyx.connection_id
    assert dial.body["webhook_url"] == f"{desk.events}?call={leg_id}"
    assert decoded(dial.body["client_state"]) == {"call_id": leg_id}
    assert dial.body["timeout_secs"] == 20  # the queue's offer timeout
    assert (await agent_of(client, ana))["state"] == "reserved"

    # Ana answers: the queue's name, then her leg creates the call's conference.
    await telnyx.send_event(leg, "call.initiated")
    await telnyx.send_event(leg, "call.answered")
    assert (last(telnyx, leg).action, last(telnyx, leg).body["payload"]) == ("speak", "Support")
    assert (await agent_of(client, ana))["state"] == "on_call"
    await telnyx.send_event(leg, "call.speak.ended")
    [created] = [r for r in telnyx.requests if r.method == "POST" and r.path == "/v2/conferences"]
    assert (created.body["call_control_id"], created.body["name"]) == (leg, room)
    assert created.body["start_conference_on_create"] is True
    [conference] = telnyx.api.conferences.values()
    assert conference["participants"] == [leg]

    # The dispatch job bridges: the caller's hold stops and the caller joins the conference.
    telnyx.requests.clear()
    await desk.dispatch()
    sent = [(r.method, r.path.rsplit("/", 2)[-1]) for r in telnyx.requests]
    assert sent == [
        ("POST", "gather_stop"),
        ("POST", "playback_stop"),
        ("GET", "conferences"),
        ("POST", "join"),
    ]
    join = telnyx.requests[-1]
    assert join.path == f"/v2/conferences/{conference['id']}/actions/join"
    assert join.body["call_control_id"] == caller
    assert (join.body["start_conference_on_enter"], join.body["end_conference_on_exit"]) == (
        True,
        True,
    )
    assert conference["participants"] == [leg, caller]
    # The stopped hold gather reports its end: nothing more is asked of the caller.
    await telnyx.send_event(caller, "call.gather.ended", status="cancelled", digits="")
    assert last(telnyx, caller).action == "playback_stop"

    [connected] = await queue_calls(client, desk.queue_id)
    assert (connected["status"], connected["agent_id"]) == ("connected", ana)
    agent = await agent_of(client, ana)
    assert (agent["state"], agent["current_call_id"]) == ("on_call", connected["call_id"])
    assert (await agent_of(client, ben))["state"] == "available"

    # The caller hangs up: the call is over, Ana wraps up, her leg is hung up.
    assert (await telnyx.send_event(caller, "call.hangup")).status == 200
    [completed] = await queue_calls(client, desk.queue_id)
    assert (completed["status"], completed["outcome"]) == ("completed", "completed")
    assert (await agent_of(client, ana))["state"] == "wrap_up"
    [handled] = await handled_calls(client, ana)
    assert (handled["call_id"], handled["queue_id"]) == (connected["call_id"], desk.queue_id)
    assert handled["ended_at"] is not None
    await desk.dispatch()
    assert last(telnyx, leg).action == "hangup"
    await telnyx.send_event(leg, "call.hangup", hangup_source="callee")
    assert (await call_of(client, leg_id))["status"] == "completed"
    assert (await agent_of(client, ana))["state"] == "wrap_up"


@pytest.mark.parametrize(
    ("cause", "offer_outcome"),
    [("timeout", "missed"), ("user_busy", "declined")],
)
async def test_an_agent_who_does_not_answer_is_missed_and_the_next_agent_is_rung(
    telnyx, desk, client, cause, offer_outcome
):
    ana, ben = desk.agents
    caller = telnyx.incoming_call(CALLER, QUEUE_NUMBER, webhook_url=desk.events).call_control_id
    await telnyx.send_event(caller, "call.initiated")
    await telnyx.send_event(caller, "call.answered")
    assert last(telnyx, caller).body["payload"] == GREETING
    assert (await hold_music(telnyx, caller, 3)).action == "gather_using_audio"
    await desk.dispatch()
    ana_leg = leg_to(telnyx, ANA_PHONE)
    await telnyx.send_event(ana_leg, "call.initiated")

    # Telnyx reports Ana's leg hung up unanswered (rang out, or busy).
    ended = await telnyx.send_event(
        ana_leg, "call.hangup", hangup_cause=cause, hangup_source="unknown", sip_hangup_cause=None
    )
    assert ended.status == 200
    agent = await agent_of(client, ana)
    assert (agent["state"], agent["reason_code"]) == ("away", "missed")
    [waiting] = await queue_calls(client, desk.queue_id)
    assert (waiting["status"], waiting["offers"]) == ("waiting", 1)
    events = [
        payload["outcome"]
        for name, payload in await published_events(desk.app.state.platform, desk.tenant_id)
        if name == "queues.call.offer_ended"
    ]
    assert events == [offer_outcome]

    # The next dispatch dials Ben; the caller never left the hold music.
    await desk.dispatch()
    assert [d.body["to"] for d in telnyx.commands(action="dial")] == [ANA_PHONE, BEN_PHONE]
    assert last(telnyx, caller).action == "gather_using_audio"
    ben_leg = leg_to(telnyx, BEN_PHONE)
    await telnyx.send_event(ben_leg, "call.answered")
    await telnyx.send_event(ben_leg, "call.speak.ended")
    await desk.dispatch()
    [conference] = telnyx.api.conferences.values()
    assert conference["name"] == f"kq-{waiting['id']}"
    assert conference["participants"] == [ben_leg, caller]
    [connected] = await queue_calls(client, desk.queue_id)
    assert (connected["status"], connected["agent_id"], connected["offers"]) == (
        "connected",
        ben,
        2,
    )
    assert (await agent_of(client, ana))["state"] == "away"
    assert telnyx.commands(ana_leg) == []  # its leg ended by itself: nothing to hang up


async def test_an_agent_who_hangs_up_first_ends_the_call(telnyx, desk, client):
    """Telnyx's conference create takes no "end on exit" for the agent's leg: without the
    platform, the caller would stay alone in the conference."""
    ana, _ = desk.agents
    caller = telnyx.incoming_call(CALLER, QUEUE_NUMBER, webhook_url=desk.events).call_control_id
    await telnyx.send_event(caller, "call.initiated")
    await telnyx.send_event(caller, "call.answered")
    await hold_music(telnyx, caller, 3)
    await desk.dispatch()
    leg = leg_to(telnyx, ANA_PHONE)
    await telnyx.send_event(leg, "call.answered")
    await telnyx.send_event(leg, "call.speak.ended")
    await desk.dispatch()
    [connected] = await queue_calls(client, desk.queue_id)
    assert connected["status"] == "connected"

    await telnyx.send_event(leg, "call.hangup", hangup_source="callee")
    [completed] = await queue_calls(client, desk.queue_id)
    assert completed["status"] == "completed"
    assert (await agent_of(client, ana))["state"] == "wrap_up"
    await desk.dispatch()
    assert last(telnyx, caller).action == "hangup"
    await telnyx.send_event(caller, "call.hangup", hangup_source="callee")
    assert (await call_of(client, connected["call_id"]))["status"] == "completed"
    await desk.dispatch()
    assert len(telnyx.commands(caller, "hangup")) == 1
