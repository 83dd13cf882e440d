"""Supervision on the loopback carrier, end to end through the HTTP API: a caller held by a
queue talks to a simulated agent; the owner (a supervisor with a loopback phone of their own)
listens, whispers, barges and leaves; the carrier's conference room shows who hears whom at
each step. The workers run as on ``make run``; the carrier runs at a hundredth of real time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from supervisor_sessions_helpers import (
    call_in,
    contact_center,
    ok,
    on_call,
    session_status,
    supervisor_phone,
    until,
)

from plugins.loopback.testing import LoopbackCalls, conference_members


@pytest.fixture
async def api(loopback_calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as client:
        yield client


def roles(calls: LoopbackCalls, conference: str) -> dict[str, Any]:
    """Each member of the room by provider call id: its supervisor role (None: a party)."""
    members = conference_members(calls.platform, calls.tenant_id, conference)
    return {m.provider_call_id: m.supervisor for m in members}


async def provider_id(api: httpx.AsyncClient, call_id: str) -> str:
    return str((await ok(await api.get(f"/calls/{call_id}")))["provider_call_id"])


def delivered(calls: LoopbackCalls, prefix: str) -> list[str]:
    return [e.name for e in calls.delivered if e.name.startswith(prefix)]


async def test_listen_whisper_barge_and_leave(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
) -> None:
    center = await contact_center(api)
    await supervisor_phone(api)
    customer = await call_in(api, center.flow_id)
    await on_call(api, center.agent_id)

    started = await ok(
        await api.post(
            "/supervisor/sessions", json={"agent_id": center.agent_id, "mode": "monitor"}
        ),
        201,
    )
    assert started["status"] == "connecting"
    assert started["customer_call_id"] == customer
    assert started["source"] == "queues"
    session_id = started["id"]
    active = await session_status(api, session_id, "active")
    conference = (
        f"kq-{(await ok(await api.get(f'/queues/{center.queue_id}/calls')))['items'][0]['id']}"
    )
    supervisor_leg = await provider_id(api, active["supervisor_call_id"])
    agent_leg = await provider_id(api, active["agent_call_id"])

    async def role_is(role: str) -> bool:
        return roles(loopback_calls, conference).get(supervisor_leg) == role

    await until(lambda: role_is("monitor"))
    members = conference_members(loopback_calls.platform, loopback_calls.tenant_id, conference)
    assert len(members) == 3  # the caller, the agent, the supervisor

    whisper = await ok(
        await api.patch(f"/supervisor/sessions/{session_id}", json={"mode": "whisper"})
    )
    assert whisper["mode"] == "whisper"
    assert whisper["mode_changes"] == 1
    assert await role_is("whisper")
    member = next(
        m
        for m in conference_members(loopback_calls.platform, loopback_calls.tenant_id, conference)
        if m.provider_call_id == supervisor_leg
    )
    assert member.coach == agent_leg  # only the agent hears the supervisor

    barge = await ok(await api.patch(f"/supervisor/sessions/{session_id}", json={"mode": "barge"}))
    assert barge["mode"] == "barge"
    assert barge["mode_changes"] == 2
    assert await role_is("barge")

    ended = await ok(await api.delete(f"/supervisor/sessions/{session_id}"))
    assert ended["status"] == "ended"
    assert ended["end_reason"] == "supervisor"
    await until(lambda: _absent(loopback_calls, conference, supervisor_leg))
    agent = await ok(await api.get(f"/agents/{center.agent_id}"))
    assert agent["state"] == "on_call"  # the call goes on without the supervisor

    await until(
        lambda: _has(
            loopback_calls,
            [
                "supervisor.session.started",
                "supervisor.session.connected",
                "supervisor.session.mode_changed",
                "supervisor.session.ended",
            ],
        )
    )
    audit = await ok(await api.get("/audit", params={"limit": 100}))
    actions = {entry["action"] for entry in audit["items"]}
    assert {
        "supervisor.session_started",
        "supervisor.session_mode_changed",
        "supervisor.session_ended",
    } <= actions


async def _absent(calls: LoopbackCalls, conference: str, leg: str) -> bool:
    return leg not in roles(calls, conference)


async def _has(calls: LoopbackCalls, names: list[str]) -> bool:
    seen = delivered(calls, "supervisor.session.")
    return all(name in seen for name in names)


async def test_the_session_ends_with_the_call(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
) -> None:
    center = await contact_center(api)
    await supervisor_phone(api)
    customer = await call_in(api, center.flow_id)
    await on_call(api, center.agent_id)
    started = await ok(
        await api.post("/supervisor/sessions", json={"agent_id": center.agent_id}), 201
    )
    active = await session_status(api, started["id"], "active")

    ended = await ok(await api.post(f"/supervisor/sessions/{started['id']}/end-call"))
    assert ended["customer_call_id"] == customer
    over = await session_status(api, started["id"], "ended")
    assert over["end_reason"] == "call_ended"

    async def leg_over() -> bool:
        leg = await ok(await api.get(f"/calls/{active['supervisor_call_id']}"))
        return bool(leg["status"] == "completed")

    await until(leg_over)
    customer_call = await ok(await api.get(f"/calls/{customer}"))
    assert customer_call["status"] == "completed"


async def test_a_second_session_at_once_is_refused(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
) -> None:
    center = await contact_center(api)
    await supervisor_phone(api)
    await call_in(api, center.flow_id)
    await on_call(api, center.agent_id)
    first = await ok(
        await api.post("/supervisor/sessions", json={"agent_id": center.agent_id}), 201
    )
    again = await api.post(
        "/supervisor/sessions", json={"agent_id": center.agent_id, "mode": "barge"}
    )
    assert again.status_code == 409, again.text
    assert again.json()["type"].endswith("/supervisor-session-conflict")
    assert again.json()["session_id"] == first["id"]
    await ok(await api.delete(f"/supervisor/sessions/{first['id']}"))


def announced(calls: LoopbackCalls, session_id: str) -> list[tuple[str, str]]:
    return [
        (e.payload["what"], e.payload["mode"])
        for e in calls.delivered
        if e.name == "supervisor.session.announced" and e.payload["session_id"] == session_id
    ]


@pytest.mark.parametrize("announce", [True, False])
async def test_an_announced_session_beeps_as_the_supervisor_joins_and_tells_the_agent(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient, announce: bool
) -> None:
    body = {"announce_to_agent": announce}
    assert await ok(await api.put("/supervisor/settings", json=body)) == body
    center = await contact_center(api)
    await supervisor_phone(api)
    await call_in(api, center.flow_id)
    await on_call(api, center.agent_id)
    started = await ok(
        await api.post("/supervisor/sessions", json={"agent_id": center.agent_id}), 201
    )
    assert started["announced"] is announce
    active = await session_status(api, started["id"], "active")
    conference = (
        f"kq-{(await ok(await api.get(f'/queues/{center.queue_id}/calls')))['items'][0]['id']}"
    )
    supervisor_leg = await provider_id(api, active["supervisor_call_id"])

    async def joined() -> bool:
        return supervisor_leg in roles(loopback_calls, conference)

    await until(joined)
    members = conference_members(loopback_calls.platform, loopback_calls.tenant_id, conference)
    beeps = {m.provider_call_id: m.beep for m in members}
    assert beeps.pop(supervisor_leg) is announce
    assert set(beeps.values()) == {False}  # the caller and the agent joined without a tone
    await ok(await api.patch(f"/supervisor/sessions/{started['id']}", json={"mode": "barge"}))
    await ok(await api.delete(f"/supervisor/sessions/{started['id']}"))

    async def over() -> bool:
        return "supervisor.session.ended" in delivered(loopback_calls, "supervisor.session.")

    await until(over)
    expected = [("joined", "monitor"), ("mode_changed", "barge"), ("left", "barge")]
    if announce:
        await until(lambda: _announced(loopback_calls, started["id"], expected))
    assert announced(loopback_calls, started["id"]) == (expected if announce else [])


async def _announced(
    calls: LoopbackCalls, session_id: str, expected: list[tuple[str, str]]
) -> bool:
    return announced(calls, session_id) == expected
