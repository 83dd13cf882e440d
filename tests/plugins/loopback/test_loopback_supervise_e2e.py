"""A supervisor on the loopback carrier, end to end through the platform: an agent's leg in
its conference, a supervisor's call placed (``place_call``) into it as a monitor, then
coaching the agent and barging in through ``supervise_call``; the carrier's room says who
hears whom after each change, and the supervisor call's timeline notes each one."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from kernel import tenant_scope
from kernel.testing import wait_until
from plugins.calls import (
    CallRequest,
    Conference,
    SupervisorRole,
    hang_up_call,
    place_call,
    supervise_call,
)
from plugins.loopback.testing import LoopbackCalls, conference_members, who_hears

ROOM = "agent-3"
ON_THE_LINE = {"script": ["answer", {"step": "wait", "seconds": 3000}, "hangup"]}


async def placed(calls: LoopbackCalls, instructions: list[Any]) -> Any:
    request = CallRequest(
        to_number="+14155550123",
        from_number="+14155550100",
        instructions=instructions,
        options=ON_THE_LINE,
    )
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            return await place_call(calls.platform, session, request)


async def detail(calls: LoopbackCalls, call_id: uuid.UUID) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers) as client:
        response = await client.get(f"/api/v1/calls/{call_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_supervisor_monitors_then_coaches_then_barges(loopback_calls):
    calls = loopback_calls
    platform, tenant = calls.platform, calls.tenant_id
    agent = await placed(calls, [Conference(name=ROOM, end_on_exit=True)])
    await wait_until(lambda: len(conference_members(platform, tenant, ROOM)) == 1)
    supervisor = await placed(calls, [Conference(name=ROOM, supervisor=SupervisorRole.MONITOR)])
    await wait_until(lambda: len(conference_members(platform, tenant, ROOM)) == 2)
    for call in (agent, supervisor):
        await wait_until(lambda c=call: answered(calls, c.id), within=15)
    a, s = agent.provider_call_id, supervisor.provider_call_id
    assert who_hears(platform, tenant, ROOM) == {a: set(), s: {a}}

    async def switch(role: SupervisorRole) -> None:
        with tenant_scope(tenant):
            async with platform.database.session() as session:
                await supervise_call(
                    platform,
                    session,
                    supervisor.id,
                    conference=ROOM,
                    role=role,
                    coach_call_id=agent.id,
                    actor="supervisor:1",
                )

    await switch(SupervisorRole.WHISPER)
    assert who_hears(platform, tenant, ROOM) == {a: {s}, s: {a}}
    await switch(SupervisorRole.MONITOR)
    assert who_hears(platform, tenant, ROOM) == {a: set(), s: {a}}
    await switch(SupervisorRole.BARGE)
    assert who_hears(platform, tenant, ROOM) == {a: {s}, s: {a}}

    timeline = (await detail(calls, supervisor.id))["timeline"]
    notes = [e["detail"] for e in timeline if e["kind"] == "supervision-changed"]
    assert notes == [
        {
            "actor": "supervisor:1",
            "role": "whisper",
            "conference": ROOM,
            "coach_call_id": str(agent.id),
        },
        {"actor": "supervisor:1", "role": "monitor", "conference": ROOM},
        {"actor": "supervisor:1", "role": "barge", "conference": ROOM},
    ]
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            await hang_up_call(platform, session, agent.id)
    await wait_until(lambda: conference_members(platform, tenant, ROOM) == [], within=15)


def answered(calls: LoopbackCalls, call_id: uuid.UUID) -> bool:
    """Whether plugins heard the call was answered (``calls.call.answered``): the platform
    has it in progress."""
    return any(
        e.name == "calls.call.answered" and str(e.payload["call_id"]) == str(call_id)
        for e in calls.delivered
    )
