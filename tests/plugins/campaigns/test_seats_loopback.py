"""Progressive and predictive campaigns end to end on the loopback provider, through the
HTTP API: agents (users with loopback phones) take seats, their phones ring once and stay in
the seat's conference; every contact who answers is put straight through to the agent who
has waited longest, in the answer's own webhook turn. With no seat ready, the person hears
the safe-harbour message at once and the attempt is an abandon. The carrier runs at a
hundredth of real time; the background workers run the dialer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from campaigns_helpers import BASE, NUMBER
from campaigns_loopback import (
    client_of,
    loopback_with_callees,
    midday_zone,
    night_zone,
    ok,
    until,
)
from sqlalchemy import select

from kernel import add_user, tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, login
from plugins.agents import Agent, Conversation, agent_conversation
from plugins.loopback import testing
from plugins.loopback.testing import LoopbackCalls, call_log

loopback_calls = testing.loopback_calls

TALKS = [{"answer_after": 3}, {"hangup_after": 300}]
"""A contact who answers after 3 s and talks 5 minutes (3 s real)."""
ANSWERS_LATE = [{"answer_after": 110}, {"hangup_after": 300}]
"""A contact whose phone rings 110 s (1.1 s real) before they answer: the campaign rings
120 s."""
SEAT_PHONE = [{"answer_after": 1}, {"hangup_after": 14_400}]
"""An agent's phone: answers after 1 s and stays on the line."""
CONTACTS = ["+14155553001", "+14155553002", "+14155553003"]
LATE = "+14155553009"
TALKER = "+14155553007"
TALKS_LONG = [{"answer_after": 3}, {"hangup_after": 6000}]
"""A contact who talks a minute (real): the test ends the conversation."""
CALLEES = {
    **{number: [TALKS] * 2 for number in CONTACTS},
    LATE: [ANSWERS_LATE],
    TALKER: [TALKS_LONG],
}
MESSAGE = {"text": "This was Acme Energy about your renewal.", "callback_number": "+14155550199"}


@pytest.fixture
def calls(request: pytest.FixtureRequest) -> LoopbackCalls:
    return loopback_with_callees(request, CALLEES)


@pytest.fixture
async def api(calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(calls):
        yield client


def seconds_between(earlier: str, later: str) -> float:
    start, end = datetime.fromisoformat(earlier), datetime.fromisoformat(later)
    assert end >= start
    return (end - start).total_seconds()


async def agent_user(calls: LoopbackCalls, api: httpx.AsyncClient, name: str) -> dict[str, str]:
    """A user with the agent role and a loopback agent profile (wrap-up 1 s); their login
    headers."""
    email = f"{name.lower()}@loopback.example.com"
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            user_id = await add_user(
                session, email=email, password=DEFAULT_TEST_PASSWORD, roles=["agent"]
            )
            await session.commit()
    body = {
        "display_name": name,
        "user_id": str(user_id),
        "wrap_up_seconds": 1,
        "reach": {"kind": "loopback", "loopback_script": SEAT_PHONE},
    }
    agent = await ok(await api.post("/api/v1/agents", json=body), 201)
    async with httpx.AsyncClient(base_url=calls.url, timeout=30) as client:
        headers = await login(client, email, tenant="loopback")
    headers["X-Agent-Id"] = str(agent["id"])
    return headers


async def campaign(
    api: httpx.AsyncClient,
    mode: str,
    numbers: list[str],
    queue_id: str,
    zone: str,
    **fields: Any,
) -> str:
    contacts = []
    for n, number in enumerate(numbers):
        body = {"name": f"Contact {n}", "phones": [number], "time_zone": zone}
        contacts.append(str((await ok(await api.post("/api/v1/contacts", json=body), 201))["id"]))
    created = await ok(
        await api.post(
            BASE,
            json={
                "name": f"Renewals {mode} {numbers[0]}",
                "mode": mode,
                "source": {"kind": "list", "contact_ids": contacts},
                "queue_id": queue_id,
                "caller_id": NUMBER,
                "consent_purpose": "informational",
                "abandon_message": MESSAGE,
                "amd": {"enabled": False},
                "schedule": {
                    "time_zone": zone,
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "hours": [{"start": "09:00", "end": "16:00"}],
                },
                **fields,
            },
        ),
        201,
    )
    return str(created["id"])


async def center(
    calls: LoopbackCalls, api: httpx.AsyncClient, *names: str
) -> tuple[str, list[dict[str, str]]]:
    """The loopback caller id, agents with these names and a queue they serve."""
    await ok(
        await api.post("/api/v1/calls/numbers", json={"number": NUMBER, "provider": "loopback"}),
        201,
    )
    agents = [await agent_user(calls, api, name) for name in names]
    queue = await ok(
        await api.post(
            "/api/v1/queues",
            json={"name": "Outbound", "agent_ids": [a.pop("X-Agent-Id") for a in agents]},
        ),
        201,
    )
    return str(queue["id"]), agents


async def seated(api: httpx.AsyncClient, campaign_id: str, agent: dict[str, str]) -> str:
    await ok(await api.put("/api/v1/agents/me/state", headers=agent, json={"state": "available"}))
    seat = await ok(await api.post(f"{BASE}/{campaign_id}/seats", headers=agent), 201)
    # The loopback phone answers at once: on a fast turn the seat is already talking to
    # the first person dialled for it by the time the answer comes back.
    assert seat["status"] in ("joining", "ready", "talking", "wrap_up")
    return str(seat["id"])


async def seats(api: httpx.AsyncClient, campaign_id: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await ok(
        await api.get(f"{BASE}/{campaign_id}/seats", params=params)
    )
    return found


async def attempts(api: httpx.AsyncClient, campaign_id: str) -> list[dict[str, Any]]:
    page = await ok(await api.get(f"{BASE}/{campaign_id}/attempts", params={"limit": 100}))
    items: list[dict[str, Any]] = page["items"]
    return items


async def all_ready(api: httpx.AsyncClient, campaign_id: str, count: int) -> None:
    async def ready() -> bool:
        found = await seats(api, campaign_id)
        return len(found) == count and all(s["status"] == "ready" for s in found)

    await until(ready)


@pytest.mark.parametrize("mode", ["progressive", "predictive"])
async def test_contacts_are_put_through_to_seated_agents(
    calls: LoopbackCalls, api: httpx.AsyncClient, mode: str
):
    queue_id, (ava, ben) = await center(calls, api, "Ava", "Ben")
    campaign_id = await campaign(api, mode, CONTACTS, queue_id, midday_zone())
    await ok(await api.post(f"{BASE}/{campaign_id}/activate", json={}))
    ava_seat = await seated(api, campaign_id, ava)
    ben_seat = await seated(api, campaign_id, ben)
    me = await ok(await api.get("/api/v1/agents/me", headers=ava))
    assert me["state"] in ("reserved", "on_call")  # queues never offer a seated agent a call

    async def completed() -> bool:
        return (await ok(await api.get(f"{BASE}/{campaign_id}")))["state"] == "completed"

    await until(completed, within=60)
    dialled = await attempts(api, campaign_id)
    assert len(dialled) == 3
    assert all(a["outcome"] == "human" and not a["abandoned"] for a in dialled)
    assert all(a["connected_at"] is not None for a in dialled)
    for attempt in dialled:  # connected in the answer's own turn
        assert seconds_between(attempt["answered_at"], attempt["connected_at"]) < 2
    # Two seats, three contacts: one agent took two calls, after their wrap-up.
    taken = {a["agent_id"] for a in dialled}
    assert taken == {me["id"], (await ok(await api.get("/api/v1/agents/me", headers=ben)))["id"]}
    seat_rooms = {f"kcs-{ava_seat}", f"kcs-{ben_seat}"}
    for attempt in dialled:  # each person was put into a seat's conference
        call = await ok(await api.get(f"/api/v1/calls/{attempt['call_id']}"))
        log = call_log(calls.platform, call["provider_call_id"])
        rooms = [detail for kind, detail in log if kind == "conference"]
        assert rooms, log
        assert rooms[0] in seat_rooms

    # The campaign completed: the seats end, the agents' phones are hung up, they are free.
    async def released() -> bool:
        return await seats(api, campaign_id) == []

    await until(released)
    ended = await seats(api, campaign_id, ended=True)
    assert {s["status"] for s in ended} == {"ended"}
    assert sum(s["calls_taken"] for s in ended) == 3
    assert (await ok(await api.get("/api/v1/agents/me", headers=ava)))["state"] == "available"
    changes = [e.payload for e in calls.delivered if e.name == "campaigns.seat.changed"]
    assert [c["status"] for c in changes if c["seat_id"] == ava_seat][:2] == ["joining", "ready"]
    pacing = [e.payload for e in calls.delivered if e.name == "campaigns.campaign.pacing_changed"]
    reason = "configured" if mode == "progressive" else "thin_data"  # 3 dials: too few to trust
    assert [(p["mode"], p["reason"]) for p in pacing] == [("progressive", reason)]
    # The compliance report shows every decision with every rule's record, and no abandon.
    report = await ok(await api.get(f"{BASE}/{campaign_id}/compliance-report"))
    assert report["abandons"]["count"] == 0
    assert len(report["attempts"]) == 3
    for row in report["attempts"]:
        assert (row["allowed"], row["rule"], row["outcome"]) == (True, "allowed", "human")
        assert set(row["decision"]["checks"]) >= {"window", "callable", "frequency"}
        assert seconds_between(row["answered_at"], row["connected_at"]) < 2


async def test_a_person_no_agent_can_take_hears_the_safe_harbour_message_at_once(
    calls: LoopbackCalls, api: httpx.AsyncClient
):
    queue_id, (ava,) = await center(calls, api, "Ava")
    campaign_id = await campaign(
        api, "predictive", [LATE], queue_id, midday_zone(), ring_seconds=120
    )
    await ok(await api.post(f"{BASE}/{campaign_id}/activate", json={}))
    seat_id = await seated(api, campaign_id, ava)
    await all_ready(api, campaign_id, 1)

    async def ringing() -> bool:
        return len(await attempts(api, campaign_id)) == 1

    async with asyncio.timeout(30):
        while not await ringing():  # noqa: ASYNC110 - polling the API, as soon as it dials
            await asyncio.sleep(0.01)
    # The agent leaves while the contact's phone still rings: nobody is left to take them.
    left = await ok(await api.delete(f"{BASE}/{campaign_id}/seats/{seat_id}", headers=ava))
    assert left["status"] in ("leaving", "ended")

    async def over() -> bool:
        return (await attempts(api, campaign_id))[0]["ended_at"] is not None

    await until(over)
    [attempt] = await attempts(api, campaign_id)
    assert attempt["abandoned"] is True
    assert attempt["agent_id"] is None
    assert attempt["connected_at"] is None
    # the message starts in the answer's own turn
    assert seconds_between(attempt["answered_at"], attempt["safe_harbour_at"]) < 2
    call = await ok(await api.get(f"/api/v1/calls/{attempt['call_id']}"))
    log = call_log(calls.platform, call["provider_call_id"])
    said = [detail for kind, detail in log if kind == "heard"]
    assert said == [f"{MESSAGE['text']} To call us back, dial 1 4 1 5 5 5 5 0 1 9 9."]
    # Too little data for predictive pacing yet: the dialer paced progressively and said so.
    pacing = [e.payload for e in calls.delivered if e.name == "campaigns.campaign.pacing_changed"]
    assert (pacing[0]["mode"], pacing[0]["reason"]) == ("progressive", "thin_data")


async def test_who_may_take_a_seat(calls: LoopbackCalls, api: httpx.AsyncClient):
    queue_id, (ava, ben) = await center(calls, api, "Ava", "Ben")
    campaign_id = await campaign(api, "progressive", CONTACTS[:1], queue_id, night_zone())

    async def refused(headers: dict[str, str], reason: str) -> None:
        response = await api.post(f"{BASE}/{campaign_id}/seats", headers=headers)
        assert response.status_code == 409, response.text
        body = response.json()
        assert (body["type"].rsplit("/", 1)[-1], body["reason"]) == (
            "campaigns-seat-refused",
            reason,
        )

    await refused(ava, "not_active")
    no_agent = await api.post(f"{BASE}/{campaign_id}/seats")  # the owner is no agent
    assert no_agent.status_code == 404, no_agent.text
    assert no_agent.json()["type"].endswith("/campaigns-no-agent")
    await ok(await api.post(f"{BASE}/{campaign_id}/activate", json={}))
    await refused(ava, "not_available")  # offline
    seat_id = await seated(api, campaign_id, ava)
    await refused(ava, "seated")
    nobody = await ok(await api.post("/api/v1/queues", json={"name": "Nobody's"}), 201)
    other = await campaign(api, "progressive", CONTACTS[1:2], nobody["id"], midday_zone())
    foreign = await api.post(f"{BASE}/{other}/seats", headers=ava)
    assert foreign.status_code == 403, foreign.text
    assert foreign.json()["type"].endswith("/campaigns-not-your-campaign")
    # Ben may not end Ava's seat (404), nor see it as his; the owner (a supervisor) may.
    response = await api.delete(f"{BASE}/{campaign_id}/seats/{seat_id}", headers=ben)
    assert response.status_code == 404, response.text
    await ok(await api.delete(f"{BASE}/{campaign_id}/seats/{seat_id}"))
    # A supervisor seats an agent they supervise; an agent may not seat another.
    ben_id = (await ok(await api.get("/api/v1/agents/me", headers=ben)))["id"]
    await ok(await api.put("/api/v1/agents/me/state", headers=ben, json={"state": "available"}))
    other_agent = await api.post(
        f"{BASE}/{campaign_id}/seats", headers=ava, json={"agent_id": ben_id}
    )
    assert other_agent.status_code == 404, other_agent.text
    by_owner = await ok(
        await api.post(f"{BASE}/{campaign_id}/seats", json={"agent_id": ben_id}), 201
    )
    assert by_owner["agent_id"] == ben_id
    assert by_owner["status"] in ("joining", "ready")


async def test_pausing_a_campaign_releases_its_seats(calls: LoopbackCalls, api: httpx.AsyncClient):
    queue_id, (ava,) = await center(calls, api, "Ava")
    campaign_id = await campaign(api, "progressive", [LATE], queue_id, night_zone())
    await ok(await api.post(f"{BASE}/{campaign_id}/activate", json={}))
    await seated(api, campaign_id, ava)
    await all_ready(api, campaign_id, 1)
    await ok(await api.post(f"{BASE}/{campaign_id}/deactivate", json={}))

    async def released() -> bool:
        return await seats(api, campaign_id) == []

    await until(released)
    [seat] = await seats(api, campaign_id, ended=True)
    assert seat["end_reason"] == "the campaign is not active"
    assert (await ok(await api.get("/api/v1/agents/me", headers=ava)))["state"] == "available"


async def conversation_of(calls: LoopbackCalls, agent_id: str) -> Conversation | None:
    """What a supervisor plugin would ask: where the agent's conversation is."""
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            row = await session.scalar(select(Agent).where(Agent.id == uuid.UUID(agent_id)))
            assert row is not None
            return await agent_conversation(calls.platform, session, row)


async def test_a_talking_seat_s_agent_is_found_in_the_seat_s_conference(
    calls: LoopbackCalls, api: httpx.AsyncClient
):
    queue_id, (ava,) = await center(calls, api, "Ava")
    agent_id = str((await ok(await api.get("/api/v1/agents/me", headers=ava)))["id"])
    campaign_id = await campaign(api, "progressive", [TALKER], queue_id, midday_zone())
    await ok(await api.post(f"{BASE}/{campaign_id}/activate", json={}))
    seat_id = await seated(api, campaign_id, ava)
    await all_ready(api, campaign_id, 1)
    assert await conversation_of(calls, agent_id) is None  # ready: nobody to talk to yet

    async def talking() -> bool:
        found = await seats(api, campaign_id)
        return bool(found) and found[0]["status"] == "talking"

    await until(talking)
    [seat] = await seats(api, campaign_id)
    [attempt] = await attempts(api, campaign_id)
    assert await conversation_of(calls, agent_id) == Conversation(
        conference=f"kcs-{seat_id}",
        provider="loopback",
        agent_call_id=uuid.UUID(seat["call_id"]),
        customer_call_id=uuid.UUID(attempt["call_id"]),
        source="campaigns",
    )
    # The contact is hung up: the seat wraps up, the agent talks to nobody any more.
    await ok(await api.post(f"/api/v1/calls/{attempt['call_id']}/hangup", json={}))

    async def over() -> bool:
        return await conversation_of(calls, agent_id) is None

    await until(over)
