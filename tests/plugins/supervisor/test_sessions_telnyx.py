"""Supervision through Telnyx's double, on Call Control's wire format: a caller held by a
queue talks to Ana (both legs in conference ``kq-<item>``); the owner starts a session, their
own phone is dialled (``POST /v2/calls``), and its signed ``call.answered`` event is answered
by joining the room with ``supervisor_role: monitor``; whisper and barge are conference
``actions/update`` commands; ending the session hangs up only the supervisor's leg."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from supervisor_wire_helpers import (
    ANA_PHONE,
    CALLER,
    QUEUE_NUMBER,
    SUE_PHONE,
    agent_of,
    announce,
    announcements,
    call_of,
    ok,
    phone_agent,
    queue_on_number,
    run_dispatch,
    session_events,
    session_of,
    supervise,
    supervisor_phone,
    switch,
    the_item,
)

from kernel.testing import TenantOwner, app_client
from plugins.calls.testing import served_platform
from plugins.telnyx.testing import TelnyxDouble, use_telnyx


@pytest.fixture
async def telnyx() -> AsyncIterator[TelnyxDouble]:
    async with TelnyxDouble() as double:
        yield double


@pytest.fixture
async def kraliki_app(
    kraliki_make_app: Any, telnyx: TelnyxDouble, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """Served, so the double can call it back; the test runs the dispatch job itself."""
    async with served_platform(
        kraliki_make_app, monkeypatch, telnyx.environment(), background_workers=False
    ) as app:
        yield app


class Desk:
    """The owner's organization on Telnyx: Ana serves the queue; the owner's phone is Sue."""

    def __init__(self, app: FastAPI, owner: TenantOwner, api: httpx.AsyncClient) -> None:
        self.app, self.tenant_id, self.api = app, owner.tenant_id, api
        self.platform = app.state.platform
        self.events = f"{app.state.public_url}/webhooks/telnyx/{owner.tenant_id}/events"
        self.ana = ""
        self.queue_id = ""

    async def dispatch(self) -> None:
        await run_dispatch(self.platform, self.tenant_id)


@pytest.fixture
async def desk(
    kraliki_app: FastAPI, owner: TenantOwner, telnyx: TelnyxDouble, kraliki_make_user: Any
) -> AsyncIterator[Desk]:
    await use_telnyx(
        kraliki_app.state.platform,
        owner.tenant_id,
        telnyx,
        max_concurrent_calls=20,
        calls_per_second={"telnyx": 100.0},
    )
    async with app_client(kraliki_app) as api:
        api.headers.update(owner.headers)
        desk = Desk(kraliki_app, owner, api)
        desk.ana = await phone_agent(api, kraliki_make_user, owner.tenant_id)
        desk.queue_id = await queue_on_number(api, "telnyx", desk.ana)
        await supervisor_phone(api)
        yield desk


def leg_to(telnyx: TelnyxDouble, phone: str) -> str:
    [leg] = [call for call in telnyx.calls.values() if call.to == phone]
    return leg.call_control_id


async def talking(telnyx: TelnyxDouble, desk: Desk) -> tuple[str, str, dict[str, Any]]:
    """A caller dials the queue's number and is bridged to Ana: the caller's and Ana's call
    control ids, and their conference (as the double keeps it)."""
    caller = telnyx.incoming_call(CALLER, QUEUE_NUMBER, webhook_url=desk.events).call_control_id
    await telnyx.send_event(caller, "call.initiated")
    await telnyx.send_event(caller, "call.answered")
    while telnyx.commands(caller)[-1].action == "speak":  # the greeting, place and wait
        await telnyx.send_event(caller, "call.speak.ended")
    await desk.dispatch()
    ana = leg_to(telnyx, ANA_PHONE)
    await telnyx.send_event(ana, "call.initiated")
    await telnyx.send_event(ana, "call.answered")
    await telnyx.send_event(ana, "call.speak.ended")
    await desk.dispatch()
    item = await the_item(desk.api, desk.queue_id)
    assert item["status"] == "connected"
    assert (await agent_of(desk.api, desk.ana))["state"] == "on_call"
    [room] = telnyx.api.conferences.values()
    assert (room["name"], room["participants"]) == (f"kq-{item['id']}", [ana, caller])
    return caller, ana, room


def sent(telnyx: TelnyxDouble) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in telnyx.requests]


async def answer(telnyx: TelnyxDouble, leg: str) -> None:
    await telnyx.send_event(leg, "call.initiated")
    await telnyx.send_event(leg, "call.answered")


async def test_listen_whisper_barge_and_leave_on_the_wire(telnyx: TelnyxDouble, desk: Desk) -> None:
    caller, ana, room = await talking(telnyx, desk)
    telnyx.requests.clear()

    started = await supervise(desk.api, desk.ana)
    assert (started["status"], started["source"]) == ("connecting", "queues")
    leg_id = started["supervisor_call_id"]
    [dial] = telnyx.commands(action="dial")
    leg = leg_to(telnyx, SUE_PHONE)
    assert dial.headers["authorization"] == f"Bearer {telnyx.api_key}"
    assert dial.body["to"] == SUE_PHONE
    assert dial.body["from"] == QUEUE_NUMBER  # the organization's number the caller dialled
    assert dial.body["connection_id"] == telnyx.connection_id
    assert dial.body["webhook_url"] == f"{desk.events}?call={leg_id}"
    assert json.loads(base64.b64decode(dial.body["client_state"])) == {"call_id": leg_id}
    assert dial.body["timeout_secs"] == 30
    assert (await call_of(desk.api, leg_id))["provider_call_id"] == leg

    # Sue answers: her leg joins the room as a monitoring supervisor (never creating it).
    telnyx.requests.clear()
    await answer(telnyx, leg)
    assert sent(telnyx) == [
        ("GET", "/v2/conferences"),
        ("POST", f"/v2/conferences/{room['id']}/actions/join"),
    ]
    join = telnyx.requests[-1]
    assert join.body == {
        "call_control_id": leg,
        "beep_enabled": "never",
        "end_conference_on_exit": False,
        "supervisor_role": "monitor",
        "command_id": join.command_id,
    }
    assert room["participants"] == [ana, caller, leg]
    assert room["supervisors"] == {leg: {"role": "monitor", "whisper_to": []}}
    assert (await session_of(desk.api, started["id"]))["status"] == "active"

    # Whisper: only Ana hears her.
    telnyx.requests.clear()
    whisper = await switch(desk.api, started["id"], "whisper")
    assert (whisper["mode"], whisper["mode_changes"]) == ("whisper", 1)
    update_path = f"/v2/conferences/{room['id']}/actions/update"
    assert sent(telnyx) == [("GET", "/v2/conferences"), ("POST", update_path)]
    assert telnyx.requests[0].query["filter[name]"] == room["name"]
    update = telnyx.requests[-1]
    assert update.body == {
        "call_control_id": leg,
        "supervisor_role": "whisper",
        "whisper_call_control_ids": [ana],
        "command_id": update.command_id,
    }
    assert room["supervisors"][leg] == {"role": "whisper", "whisper_to": [ana]}

    # Barge: everyone hears her.
    telnyx.requests.clear()
    barge = await switch(desk.api, started["id"], "barge")
    assert (barge["mode"], barge["mode_changes"]) == ("barge", 2)
    assert sent(telnyx) == [("GET", "/v2/conferences"), ("POST", update_path)]
    update = telnyx.requests[-1]
    assert update.body == {
        "call_control_id": leg,
        "supervisor_role": "barge",
        "command_id": update.command_id,
    }
    assert room["supervisors"][leg] == {"role": "barge", "whisper_to": []}

    # Ending the session hangs up Sue's leg, and nothing else.
    telnyx.requests.clear()
    ended = await ok(await desk.api.delete(f"/api/v1/supervisor/sessions/{started['id']}"))
    assert (ended["status"], ended["end_reason"]) == ("ended", "supervisor")
    assert [(r.method, r.path) for r in telnyx.requests if r.method == "POST"] == [
        ("POST", f"/v2/calls/{leg}/actions/hangup")
    ]
    await telnyx.send_event(leg, "call.hangup", hangup_source="caller")
    assert (await call_of(desk.api, leg_id))["status"] == "completed"
    assert (await agent_of(desk.api, desk.ana))["state"] == "on_call"
    assert telnyx.commands(ana, "hangup") == []
    assert telnyx.commands(caller, "hangup") == []
    assert (await session_of(desk.api, started["id"]))["end_reason"] == "supervisor"
    assert await session_events(desk.platform, desk.tenant_id) == [
        "supervisor.session.started",
        "supervisor.session.connected",
        "supervisor.session.mode_changed",
        "supervisor.session.mode_changed",
        "supervisor.session.ended",
    ]
    assert await announcements(desk.platform, desk.tenant_id) == []


async def test_a_whisper_from_the_start_names_the_agents_leg(
    telnyx: TelnyxDouble, desk: Desk
) -> None:
    _, ana, room = await talking(telnyx, desk)
    started = await supervise(desk.api, desk.ana, "whisper")
    leg = leg_to(telnyx, SUE_PHONE)
    await answer(telnyx, leg)
    join = telnyx.requests[-1]
    assert join.path == f"/v2/conferences/{room['id']}/actions/join"
    assert (join.body["supervisor_role"], join.body["whisper_call_control_ids"]) == (
        "whisper",
        [ana],
    )
    await ok(await desk.api.delete(f"/api/v1/supervisor/sessions/{started['id']}"))


async def test_an_announced_session_beeps_and_tells_the_agent(
    telnyx: TelnyxDouble, desk: Desk
) -> None:
    await announce(desk.api, True)
    _, _, room = await talking(telnyx, desk)
    started = await supervise(desk.api, desk.ana)
    assert started["announced"] is True
    leg = leg_to(telnyx, SUE_PHONE)
    await answer(telnyx, leg)
    join = telnyx.requests[-1]
    assert join.path == f"/v2/conferences/{room['id']}/actions/join"
    assert join.body["beep_enabled"] == "always"
    await switch(desk.api, started["id"], "whisper")
    await ok(await desk.api.delete(f"/api/v1/supervisor/sessions/{started['id']}"))
    assert await announcements(desk.platform, desk.tenant_id) == [
        ("joined", "monitor"),
        ("mode_changed", "whisper"),
        ("left", "whisper"),
    ]
