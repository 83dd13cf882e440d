"""A supervisor's phone that is not answered, on the loopback carrier through the HTTP API:
it rings out or is declined (the session ends ``not_answered``, the agent's call goes on,
the agent is told nothing), or the agent's call ends while it still rings (the session ends
``call_ended`` and the ringing leg is hung up)."""

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

from plugins.loopback.testing import LoopbackCalls, ended_status, run_at_time_scale


@pytest.fixture
async def api(loopback_calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as client:
        yield client


def session_events(calls: LoopbackCalls, session_id: str) -> list[str]:
    return [
        e.name
        for e in calls.delivered
        if e.name.startswith("supervisor.session.") and e.payload.get("session_id") == session_id
    ]


async def leg_status(api: httpx.AsyncClient, session: dict[str, Any], status: str) -> None:
    async def reached() -> bool:
        leg = await ok(await api.get(f"/calls/{session['supervisor_call_id']}"))
        return bool(leg["status"] == status)

    await until(reached)


@pytest.mark.parametrize(
    ("script", "leg_ends"),
    [(["no_answer"], "no-answer"), ([{"decline_after": 2}], "busy")],
)
async def test_a_supervisor_who_does_not_answer_ends_the_session(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient, script: list[Any], leg_ends: str
) -> None:
    await ok(await api.put("/supervisor/settings", json={"announce_to_agent": True}))
    center = await contact_center(api)
    await supervisor_phone(api, script=script)
    await call_in(api, center.flow_id)
    await on_call(api, center.agent_id)

    started = await ok(
        await api.post("/supervisor/sessions", json={"agent_id": center.agent_id}), 201
    )
    ended = await session_status(api, started["id"], "ended")
    assert ended["end_reason"] == "not_answered"
    assert ended["connected_at"] is None
    await leg_status(api, ended, leg_ends)
    assert (await ok(await api.get(f"/agents/{center.agent_id}")))["state"] == "on_call"
    customer = await ok(await api.get(f"/calls/{started['customer_call_id']}"))
    assert customer["status"] == "in-progress"

    async def told() -> bool:
        return "supervisor.session.ended" in session_events(loopback_calls, started["id"])

    await until(told)
    assert session_events(loopback_calls, started["id"]) == [
        "supervisor.session.started",
        "supervisor.session.ended",
    ]
    ending = next(
        e
        for e in loopback_calls.delivered
        if e.name == "supervisor.session.ended" and e.payload["session_id"] == started["id"]
    )
    assert ending.payload["reason"] == "not_answered"
    # Announced or not, an agent is told nothing of a supervisor who never joined.
    assert [e for e in loopback_calls.delivered if e.name == "supervisor.session.announced"] == []


RINGS_LONG = [{"answer_after": 25}]
"""The supervisor's phone rings 25 s (real: the carrier runs their leg in real time)."""


async def test_the_agents_call_ending_while_the_supervisor_s_phone_rings(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
) -> None:
    center = await contact_center(api)
    await supervisor_phone(api, script=RINGS_LONG)
    await call_in(api, center.flow_id)
    await on_call(api, center.agent_id)
    run_at_time_scale(loopback_calls.platform, 1.0)  # the supervisor's leg rings 25 s

    started = await ok(
        await api.post("/supervisor/sessions", json={"agent_id": center.agent_id}), 201
    )
    leg = await ok(await api.get(f"/calls/{started['supervisor_call_id']}"))
    assert leg["status"] in ("queued", "initiated", "ringing")

    # The agent hangs up: the session ends with the call and the ringing leg is hung up.
    await ok(await api.post(f"/calls/{started['agent_call_id']}/hangup", json={}))
    ended = await session_status(api, started["id"], "ended")
    assert ended["end_reason"] == "call_ended"
    assert ended["connected_at"] is None
    await leg_status(api, started, "canceled")

    async def carrier_ended() -> bool:
        return ended_status(loopback_calls.platform, leg["provider_call_id"]) is not None

    await until(carrier_ended, within=5)

    async def told() -> bool:
        return session_events(loopback_calls, started["id"]) == [
            "supervisor.session.started",
            "supervisor.session.ended",
        ]

    await until(told)
