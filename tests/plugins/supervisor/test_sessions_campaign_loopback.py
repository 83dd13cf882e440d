"""Supervising an agent seated in a campaign, on the loopback carrier through the HTTP API:
the seat's conference (``kcs-<seat>``) outlives each person called, so when the person hangs
up the session ends (``call_ended``) and the supervisor's leg is hung up, while the agent
stays in the seat for the next call. The carrier runs at a hundredth of real time; the
background workers run the dialer and deliver events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from supervisor_campaign_helpers import (
    attempts,
    dialling_campaign,
    loopback_with_callees,
    seat_agent,
    seats,
    take_seat,
)
from supervisor_sessions_helpers import ok, session_status, supervisor_phone, until

from plugins.loopback.testing import LoopbackCalls, conference_members

PERSON = "+14155553007"
HANGS_UP = [{"answer_after": 3}, {"hangup_after": 800}]
"""The person called answers after 3 s and hangs up 800 s later (8 s real): time enough
for the supervisor to join."""
NEXT = "+14155553008"
TALKS_ON = [{"answer_after": 3}, {"hangup_after": 14_400}]
"""The next person, who keeps the campaign (and Ava's seat) going."""


@pytest.fixture
def calls(request: pytest.FixtureRequest) -> LoopbackCalls:
    return loopback_with_callees(request, {PERSON: [HANGS_UP], NEXT: [TALKS_ON]})


@pytest.fixture
async def api(calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{calls.url}/api/v1", headers=calls.headers, timeout=30
    ) as client:
        yield client


async def test_a_seat_s_call_is_supervised_until_the_person_hangs_up(
    calls: LoopbackCalls, api: httpx.AsyncClient
) -> None:
    ava, ava_headers = await seat_agent(calls, api)
    await supervisor_phone(api)
    campaign_id = await dialling_campaign(api, ava, PERSON, NEXT)
    seat_id = await take_seat(api, campaign_id, ava_headers)

    async def talking() -> bool:
        found = await seats(api, campaign_id)
        return bool(found) and found[0]["status"] == "talking"

    await until(talking)
    [attempt] = await attempts(api, campaign_id)
    assert attempt["number"] == PERSON
    [seat] = await seats(api, campaign_id)

    started = await ok(await api.post("/supervisor/sessions", json={"agent_id": ava}), 201)
    assert started["source"] == "campaigns"
    assert started["customer_call_id"] == attempt["call_id"]
    assert started["agent_call_id"] == seat["call_id"]
    active = await session_status(api, started["id"], "active")
    leg = await ok(await api.get(f"/calls/{active['supervisor_call_id']}"))
    members = conference_members(calls.platform, calls.tenant_id, f"kcs-{seat_id}")
    assert {m.provider_call_id: m.supervisor for m in members}[leg["provider_call_id"]] == "monitor"

    # The person hangs up: the session ends with their call, the supervisor's leg is hung up.
    ended = await session_status(api, started["id"], "ended")
    assert ended["end_reason"] == "call_ended"
    person = await ok(await api.get(f"/calls/{attempt['call_id']}"))
    assert person["status"] == "completed"

    async def leg_over() -> bool:
        found = await ok(await api.get(f"/calls/{leg['id']}"))
        return bool(found["status"] == "completed")

    await until(leg_over)
    # Ava stays in her seat (its conference, her phone's leg), ready for the next person.
    [still] = await seats(api, campaign_id)
    assert still["id"] == seat_id
    assert still["status"] != "ended"
    seat_leg = await ok(await api.get(f"/calls/{seat['call_id']}"))
    assert seat_leg["status"] == "in-progress"
    in_room = {
        m.provider_call_id
        for m in conference_members(calls.platform, calls.tenant_id, f"kcs-{seat_id}")
    }
    assert in_room == {seat_leg["provider_call_id"]}
    names = [e.name for e in calls.delivered if e.name.startswith("supervisor.session.")]
    assert names.count("supervisor.session.ended") == 1
