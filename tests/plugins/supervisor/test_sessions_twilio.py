"""Supervision through Twilio's double, on Twilio's wire format: a caller held by a queue
talks to Ana (her leg and the caller in conference ``kq-<item>``); the owner starts a
session, their own phone is called (``Calls.create``), and answering it (the signed voice
webhook) answers TwiML joining the room as a muted, non-starting participant; whisper and
barge update the supervisor's Participant resource; ending the session hangs up only the
supervisor's leg."""

from __future__ import annotations

import xml.etree.ElementTree as ET
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
    until,
)

from kernel.testing import TenantOwner, app_client, wait_until
from plugins.calls.testing import served_platform
from plugins.twilio.testing import TwilioDouble, use_twilio


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble() as server:
        yield server


@pytest.fixture
def workers() -> bool:
    """Whether the app runs its background workers (a test parametrizes it); without them
    the test runs the dispatch job itself."""
    return False


@pytest.fixture
async def kraliki_app(
    kraliki_make_app: Any, double: TwilioDouble, monkeypatch: pytest.MonkeyPatch, workers: bool
) -> AsyncIterator[FastAPI]:
    """Served, so the double can call it back."""
    async with served_platform(
        kraliki_make_app, monkeypatch, double.environment(), background_workers=workers
    ) as app:
        yield app


class Desk:
    """The owner's organization on Twilio: Ana serves the queue; the owner's phone is Sue."""

    def __init__(self, app: FastAPI, owner: TenantOwner, api: httpx.AsyncClient) -> None:
        self.app, self.tenant_id, self.api = app, owner.tenant_id, api
        self.platform = app.state.platform
        self.base = f"{app.state.public_url}/webhooks/twilio/{owner.tenant_id}"
        self.ana = ""
        self.queue_id = ""

    async def dispatch(self) -> None:
        await run_dispatch(self.platform, self.tenant_id)


@pytest.fixture
async def desk(
    kraliki_app: FastAPI, owner: TenantOwner, double: TwilioDouble, kraliki_make_user: Any
) -> AsyncIterator[Desk]:
    await use_twilio(
        kraliki_app.state.platform,
        owner.tenant_id,
        double,
        max_concurrent_calls=20,
        calls_per_second={"twilio": 100.0},
    )
    async with app_client(kraliki_app) as api:
        api.headers.update(owner.headers)
        desk = Desk(kraliki_app, owner, api)
        desk.ana = await phone_agent(api, kraliki_make_user, owner.tenant_id)
        desk.queue_id = await queue_on_number(api, "twilio", desk.ana)
        await supervisor_phone(api)
        yield desk


def leg_to(double: TwilioDouble, phone: str) -> Any:
    [leg] = [call for call in double.calls.values() if call.to == phone]
    return leg


async def talking(double: TwilioDouble, desk: Desk) -> tuple[Any, Any, str]:
    """A caller dials the queue's number and is bridged to Ana: the caller's and Ana's
    Twilio calls, and the room's name."""
    caller, _ = await double.inbound_call(
        f"{desk.base}/voice", from_=CALLER, to=QUEUE_NUMBER, status_callback=f"{desk.base}/status"
    )
    await desk.dispatch()
    ana = leg_to(double, ANA_PHONE)
    await double.answer(ana.sid)
    await double.send_status(ana.sid, "in-progress")
    await desk.dispatch()
    item = await the_item(desk.api, desk.queue_id)
    assert item["status"] == "connected"
    assert (await agent_of(desk.api, desk.ana))["state"] == "on_call"
    return caller, ana, f"kq-{item['id']}"


def room_of(document: bytes | str, room: str) -> dict[str, str]:
    """The ``<Conference>`` attributes of a ``<Dial><Conference>room</Conference></Dial>``
    document (nothing else in it)."""
    [dial] = list(ET.fromstring(document))
    [conference] = list(dial)
    assert (dial.tag, conference.tag, conference.text) == ("Dial", "Conference", room)
    return dict(conference.attrib)


async def test_listen_whisper_barge_and_leave_on_the_wire(double: TwilioDouble, desk: Desk) -> None:
    caller, ana, room = await talking(double, desk)
    calls_before = len(double.to("POST", "/Calls.json"))

    started = await supervise(desk.api, desk.ana)
    assert (started["status"], started["source"]) == ("connecting", "queues")
    creates = double.to("POST", "/Calls.json")
    assert len(creates) == calls_before + 1
    create = creates[-1]
    leg = leg_to(double, SUE_PHONE)
    leg_id = started["supervisor_call_id"]
    assert create.auth == (double.account_sid, double.auth_token)
    assert create.form["To"] == SUE_PHONE
    assert create.form["From"] == QUEUE_NUMBER  # the organization's number the caller dialled
    assert create.form["Url"] == f"{desk.base}/voice?call={leg_id}"
    assert create.form["StatusCallback"] == f"{desk.base}/status?call={leg_id}"
    assert create.form["Timeout"] == "30"
    assert (await call_of(desk.api, leg_id))["provider_call_id"] == leg.sid

    # Sue answers: her leg joins the room muted, neither starting nor ending it.
    answered = await double.answer(leg.sid)
    assert room_of(answered.content, room) == {
        "beep": "false",
        "muted": "true",
        "startConferenceOnEnter": "false",
        "endConferenceOnExit": "false",
    }
    await double.send_status(leg.sid, "in-progress")
    assert (await session_of(desk.api, started["id"]))["status"] == "active"
    conference = double.conference(room)
    assert conference is not None
    assert set(conference.participants) == {caller.sid, ana.sid, leg.sid}
    assert conference.participants[leg.sid].muted is True

    # Whisper: the room is found by name, Sue's participant coaches Ana's leg.
    double.state.requests.clear()
    whisper = await switch(desk.api, started["id"], "whisper")
    assert (whisper["mode"], whisper["mode_changes"]) == ("whisper", 1)
    [listed] = double.to("GET", "/Conferences.json")
    assert (listed.query["FriendlyName"], listed.query["Status"]) == (room, "in-progress")
    [update] = double.to("POST", f"/Participants/{leg.sid}.json")
    assert update.path == (
        f"/2010-04-01/Accounts/{double.account_sid}/Conferences/{conference.sid}"
        f"/Participants/{leg.sid}.json"
    )
    assert update.fields == [("Muted", "false"), ("Coaching", "true"), ("CallSidToCoach", ana.sid)]
    member = conference.participants[leg.sid]
    assert (member.muted, member.coaching, member.call_sid_to_coach) == (False, True, ana.sid)

    # Barge: everyone hears her.
    double.state.requests.clear()
    barge = await switch(desk.api, started["id"], "barge")
    assert (barge["mode"], barge["mode_changes"]) == ("barge", 2)
    [update] = double.to("POST", f"/Participants/{leg.sid}.json")
    assert update.fields == [("Muted", "false"), ("Coaching", "false")]
    assert [r.method for r in double.requests] == ["GET", "POST"]

    # Ending the session hangs up Sue's leg, and nothing else.
    double.state.requests.clear()
    ended = await ok(await desk.api.delete(f"/api/v1/supervisor/sessions/{started['id']}"))
    assert (ended["status"], ended["end_reason"]) == ("ended", "supervisor")
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.fields) for r in double.requests] == [
        ("POST", f"{leg.sid}.json", [("Status", "completed")])
    ]
    await double.send_status(leg.sid, "completed", duration=40)
    assert (await call_of(desk.api, leg_id))["status"] == "completed"
    after = double.conference(room)
    assert after is not None
    assert set(after.participants) == {caller.sid, ana.sid}  # Sue has left the room
    assert (await agent_of(desk.api, desk.ana))["state"] == "on_call"
    assert (await session_of(desk.api, started["id"]))["end_reason"] == "supervisor"
    assert await session_events(desk.platform, desk.tenant_id) == [
        "supervisor.session.started",
        "supervisor.session.connected",
        "supervisor.session.mode_changed",
        "supervisor.session.mode_changed",
        "supervisor.session.ended",
    ]
    assert await announcements(desk.platform, desk.tenant_id) == []


async def test_a_whisper_from_the_start_coaches_the_agents_leg(
    double: TwilioDouble, desk: Desk
) -> None:
    _, ana, room = await talking(double, desk)
    started = await supervise(desk.api, desk.ana, "whisper")
    leg = leg_to(double, SUE_PHONE)
    answered = await double.answer(leg.sid)
    assert room_of(answered.content, room) == {
        "beep": "false",
        "muted": "false",
        "coach": ana.sid,
        "startConferenceOnEnter": "false",
        "endConferenceOnExit": "false",
    }
    await ok(await desk.api.delete(f"/api/v1/supervisor/sessions/{started['id']}"))


async def test_an_announced_session_beeps_and_tells_the_agent(
    double: TwilioDouble, desk: Desk
) -> None:
    await announce(desk.api, True)
    _, _, room = await talking(double, desk)
    started = await supervise(desk.api, desk.ana)
    assert started["announced"] is True
    leg = leg_to(double, SUE_PHONE)
    answered = await double.answer(leg.sid)
    assert room_of(answered.content, room)["beep"] == "true"
    await double.send_status(leg.sid, "in-progress")
    await switch(desk.api, started["id"], "barge")
    await ok(await desk.api.delete(f"/api/v1/supervisor/sessions/{started['id']}"))
    assert await announcements(desk.platform, desk.tenant_id) == [
        ("joined", "monitor"),
        ("mode_changed", "barge"),
        ("left", "barge"),
    ]


async def test_a_mode_chosen_while_the_phone_rings_is_the_one_it_joins_in(
    double: TwilioDouble, desk: Desk
) -> None:
    _, ana, room = await talking(double, desk)
    started = await supervise(desk.api, desk.ana)
    double.state.requests.clear()
    whisper = await switch(desk.api, started["id"], "whisper")
    assert (whisper["status"], whisper["mode"]) == ("connecting", "whisper")
    assert double.requests == []  # nothing to update at Twilio: the leg is not in the room
    leg = leg_to(double, SUE_PHONE)
    answered = await double.answer(leg.sid)
    assert room_of(answered.content, room) == {
        "beep": "false",
        "muted": "false",
        "coach": ana.sid,
        "startConferenceOnEnter": "false",
        "endConferenceOnExit": "false",
    }
    await ok(await desk.api.delete(f"/api/v1/supervisor/sessions/{started['id']}"))


async def test_ending_a_session_whose_phone_still_rings_cancels_the_leg(
    double: TwilioDouble, desk: Desk
) -> None:
    await talking(double, desk)
    started = await supervise(desk.api, desk.ana)
    leg = leg_to(double, SUE_PHONE)
    await double.send_status(leg.sid, "ringing")
    double.state.requests.clear()
    ended = await ok(await desk.api.delete(f"/api/v1/supervisor/sessions/{started['id']}"))
    assert (ended["status"], ended["end_reason"], ended["connected_at"]) == (
        "ended",
        "supervisor",
        None,
    )
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.fields) for r in double.requests] == [
        ("POST", f"{leg.sid}.json", [("Status", "canceled")])
    ]
    await double.send_status(leg.sid, "canceled")
    assert (await call_of(desk.api, started["supervisor_call_id"]))["status"] == "canceled"
    assert (await session_of(desk.api, started["id"]))["end_reason"] == "supervisor"
    assert (await agent_of(desk.api, desk.ana))["state"] == "on_call"


async def test_ending_the_call_hangs_up_the_caller_then_the_supervisor(
    double: TwilioDouble, desk: Desk
) -> None:
    caller, _, _ = await talking(double, desk)
    started = await supervise(desk.api, desk.ana, "barge")
    leg = leg_to(double, SUE_PHONE)
    await double.answer(leg.sid)
    await double.send_status(leg.sid, "in-progress")
    double.state.requests.clear()
    ended = await ok(await desk.api.post(f"/api/v1/supervisor/sessions/{started['id']}/end-call"))
    assert (ended["status"], ended["end_reason"]) == ("ended", "call_ended")
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.fields) for r in double.requests] == [
        ("POST", f"{caller.sid}.json", [("Status", "completed")]),
        ("POST", f"{leg.sid}.json", [("Status", "completed")]),
    ]
    await double.send_status(leg.sid, "completed", duration=20)
    assert (await session_of(desk.api, started["id"]))["end_reason"] == "call_ended"


@pytest.mark.parametrize("workers", [True])
async def test_the_caller_hanging_up_ends_the_session_and_hangs_up_the_supervisor(
    double: TwilioDouble, desk: Desk
) -> None:
    """With the workers running (the routing job, event delivery): the session ends with the
    caller's call, whatever becomes of the room."""
    caller, _ = await double.inbound_call(
        f"{desk.base}/voice", from_=CALLER, to=QUEUE_NUMBER, status_callback=f"{desk.base}/status"
    )
    # The routing job rings Ana: on a loaded CI machine (the other worker in a browser test)
    # that once took more than the default 10 s.
    await wait_until(lambda: any(c.to == ANA_PHONE for c in double.calls.values()), within=60)
    ana = leg_to(double, ANA_PHONE)
    await double.answer(ana.sid)
    await double.send_status(ana.sid, "in-progress")

    async def bridged() -> bool:
        return bool((await the_item(desk.api, desk.queue_id))["status"] == "connected")

    await until(bridged)
    started = await supervise(desk.api, desk.ana)
    leg = leg_to(double, SUE_PHONE)
    await double.answer(leg.sid)
    await double.send_status(leg.sid, "in-progress")
    assert (await session_of(desk.api, started["id"]))["status"] == "active"

    await double.send_status(caller.sid, "completed", duration=60)

    async def over() -> bool:
        return bool((await session_of(desk.api, started["id"]))["status"] == "ended")

    await until(over)
    assert (await session_of(desk.api, started["id"]))["end_reason"] == "call_ended"
    await wait_until(lambda: double.to("POST", f"/Calls/{leg.sid}.json") != [])
    assert [r.fields for r in double.to("POST", f"/Calls/{leg.sid}.json")] == [
        [("Status", "completed")]
    ]
