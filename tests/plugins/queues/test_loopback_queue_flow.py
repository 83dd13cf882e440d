"""A whole contact center on the loopback provider, through the HTTP API only: a flow whose
menu's "2" enqueues the caller, a queue served by simulated (loopback) agents, and a loopback
call whose callee presses 2. The caller waits in line, the longest-idle agent's phone rings
and answers, caller and agent meet in the conference, the agent hangs up, wraps up and is
available again. An agent whose phone declines or never answers is missed (away, ``missed``)
and the caller goes to the next agent. The background workers run the routing job, as on
``make run``; the carrier runs at a hundredth of real time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kernel import tenant_scope
from kernel.testing import wait_until
from plugins.agents import Agent, Conversation, agent_conversation
from plugins.loopback import testing
from plugins.loopback.testing import LoopbackCalls, call_log, conference_members
from plugins.queues import Offer

loopback_calls = testing.loopback_calls

CALLER_SCRIPT = ["answer", {"step": "press", "digits": "2"}, {"step": "wait", "seconds": 3000}]
"""The caller: answers the platform's call, presses 2 at the menu, then holds on."""
TALKS = [{"answer_after": 1}, {"hangup_after": 400}]
"""An agent's phone that rings 1 s, answers and hangs up after 400 s (4 s real: time for
the routing job to bring the caller in on a busy machine)."""
STAYS = [{"answer_after": 1}, {"hangup_after": 6000}]
"""An agent's phone that answers and stays on the line (a minute real): the test ends it."""


def desk(queue_id: str) -> dict[str, Any]:
    return {
        "start": "menu",
        "nodes": {
            "menu": {
                "type": "menu",
                "greeting": "Welcome.",
                "options": [{"key": "2", "label": "support"}],
                "exits": {"2": "support", "no_input": "bye", "no_match": "bye"},
            },
            "support": {"type": "queues.enqueue", "queue_id": queue_id},
            "bye": {"type": "hangup", "message": "Goodbye."},
        },
    }


@pytest.fixture
async def api(loopback_calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as client:
        yield client


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def new_agent(api: httpx.AsyncClient, name: str, script: list[Any]) -> str:
    body = {"display_name": name, "reach": {"kind": "loopback", "loopback_script": script}}
    agent = await ok(await api.post("/agents", json=body), 201)
    assert agent["state"] == "offline"
    return str(agent["id"])


async def set_state(api: httpx.AsyncClient, agent_id: str, state: str) -> None:
    await ok(await api.put(f"/agents/{agent_id}/state", json={"state": state, "reason": "test"}))


async def contact_center(api: httpx.AsyncClient, *scripts: list[Any]) -> tuple[str, list[str], str]:
    """Loopback agents with these phones (offline), a queue they serve (wrap-up 1 s) and
    the desk flow published: the queue's, the agents' and the flow's ids."""
    agents = [await new_agent(api, f"Bot {n}", s) for n, s in enumerate(scripts, start=1)]
    queue = await ok(
        await api.post(
            "/queues", json={"name": "Support", "wrap_up_seconds": 1, "agent_ids": agents}
        ),
        201,
    )
    flow = await ok(
        await api.post("/ivr/flows", json={"name": "Desk", "draft": desk(queue["id"])}), 201
    )
    await ok(await api.post(f"/ivr/flows/{flow['id']}/publish", json={}), 201)
    return str(queue["id"]), agents, str(flow["id"])


async def call_in(api: httpx.AsyncClient, flow_id: str) -> str:
    """A loopback call that runs the flow; its callee presses 2 and holds on."""
    body = {
        "to": "+14155550123",
        "from": "+14155550100",
        "flow_id": flow_id,
        "options": {"script": CALLER_SCRIPT},
    }
    return str((await ok(await api.post("/calls", json=body), 201))["id"])


async def live(api: httpx.AsyncClient, queue_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await ok(await api.get(f"/queues/{queue_id}/live"))
    return result


async def agent(api: httpx.AsyncClient, agent_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await ok(await api.get(f"/agents/{agent_id}"))
    return result


async def until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Poll the API until ``check()`` holds (the routing job works in the background)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.02)


def names(calls: LoopbackCalls, prefix: str, item_of: str | None = None) -> list[str]:
    return [
        e.name
        for e in calls.delivered
        if e.name.startswith(prefix)
        and (item_of is None or str(e.payload.get("call_id")) == item_of)
    ]


async def test_a_caller_waits_then_reaches_the_longest_idle_loopback_agent(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
):
    calls = loopback_calls
    queue_id, (first, second), flow_id = await contact_center(api, TALKS, TALKS)
    call_id = await call_in(api, flow_id)

    # Nobody is available: the caller waits in line.
    async def waiting() -> bool:
        return (await live(api, queue_id))["waiting"] == 1

    await until(waiting)
    line = await live(api, queue_id)
    [waiter] = line["calls"]
    assert (waiter["call_id"], waiter["status"], waiter["position"]) == (call_id, "waiting", 1)
    assert line["agents"]["offline"] == 2

    # The first agent to become available has been idle the longest: the offer is theirs.
    await set_state(api, first, "available")
    await set_state(api, second, "available")

    async def connected() -> bool:
        return (await live(api, queue_id))["connected"] == 1

    await until(connected)
    assert (await agent(api, second))["state"] == "available"

    # The agent's phone hangs up: the caller, who was in the agent's conference, leaves with
    # it; the agent wraps up (1 s) and is available again; the item is completed.
    await wait_until(
        lambda: "calls.call.completed" in names(calls, "calls.call.", call_id), within=20
    )
    caller = await ok(await api.get(f"/calls/{call_id}"))
    assert caller["hangup_cause"] == "conference_ended", (
        caller["timeline"],
        call_log(calls.platform, caller["provider_call_id"]),
    )
    assert ("redirected", "conference") in call_log(calls.platform, caller["provider_call_id"])
    assert conference_members(calls.platform, calls.tenant_id, f"kq-{waiter['item_id']}") == []
    await until(lambda: _state_is(api, first, "available"))
    [item] = (await ok(await api.get(f"/queues/{queue_id}/calls")))["items"]
    assert (item["status"], item["agent_id"], item["offers"]) == ("completed", first, 1)
    [handled] = (await ok(await api.get(f"/agents/{first}/calls")))["items"]
    assert handled["call_id"] == call_id
    assert handled["talk_seconds"] > 0
    assert handled["wrap_up_seconds"] >= 1
    history = [
        (c["from_state"], c["to_state"])
        for c in reversed((await ok(await api.get(f"/agents/{first}/history")))["items"])
    ]
    assert history == [
        ("offline", "available"),
        ("available", "reserved"),
        ("reserved", "on_call"),
        ("on_call", "wrap_up"),
        ("wrap_up", "available"),
    ]
    assert names(calls, "queues.call.") == [
        "queues.call.enqueued",
        "queues.call.offered",
        "queues.call.answered",
        "queues.call.completed",
    ]


async def _state_is(api: httpx.AsyncClient, agent_id: str, state: str) -> bool:
    return (await agent(api, agent_id))["state"] == state


@pytest.mark.parametrize(
    ("phone", "outcome"),
    [
        ([{"decline_after": 1}], "declined"),
        ([{"step": "ring", "seconds": 1}, {"step": "no_answer"}], "missed"),
    ],
    ids=["declines", "never-answers"],
)
async def test_an_agent_who_does_not_answer_is_missed_and_the_next_one_takes_the_call(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient, phone: list[Any], outcome: str
):
    calls = loopback_calls
    queue_id, (absent, present), flow_id = await contact_center(api, phone, TALKS)
    await set_state(api, absent, "available")
    await set_state(api, present, "available")
    call_id = await call_in(api, flow_id)

    async def connected() -> bool:
        return (await live(api, queue_id))["connected"] == 1

    await until(connected)
    missed = await agent(api, absent)
    assert (missed["state"], missed["reason_code"]) == ("away", "missed")
    # The events reach plugins after the API shows the change (the dispatcher's pace).
    await wait_until(
        lambda: any(e.name == "queues.call.offer_ended" for e in calls.delivered), within=20
    )
    ended = [e.payload for e in calls.delivered if e.name == "queues.call.offer_ended"]
    assert [(str(p["agent_id"]), p["outcome"]) for p in ended] == [(absent, outcome)]
    await wait_until(
        lambda: "calls.call.completed" in names(calls, "calls.call.", call_id), within=20
    )
    [item] = (await ok(await api.get(f"/queues/{queue_id}/calls")))["items"]
    assert (item["status"], item["agent_id"], item["offers"]) == ("completed", present, 2)
    assert (await ok(await api.get(f"/agents/{absent}/calls")))["items"] == []
    # Routing offers a missed agent nothing more until they come back.
    assert (await agent(api, absent))["state"] == "away"


async def conversation_of(calls: LoopbackCalls, agent_id: str) -> Conversation | None:
    """What a supervisor plugin would ask: where the agent's conversation is."""
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            row = await session.scalar(select(Agent).where(Agent.id == uuid.UUID(agent_id)))
            assert row is not None
            return await agent_conversation(calls.platform, session, row)


async def agent_leg(calls: LoopbackCalls, item_id: str) -> uuid.UUID | None:
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            found: uuid.UUID | None = await session.scalar(
                select(Offer.agent_call_id).where(Offer.item_id == uuid.UUID(item_id))
            )
            return found


async def test_an_agent_on_a_queued_call_is_found_in_the_call_s_conference(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
):
    calls = loopback_calls
    queue_id, (bot,), flow_id = await contact_center(api, STAYS)
    assert await conversation_of(calls, bot) is None  # offline, on no call
    await set_state(api, bot, "available")
    call_id = await call_in(api, flow_id)

    async def in_conversation() -> bool:
        return await conversation_of(calls, bot) is not None

    await until(in_conversation)
    [item] = (await ok(await api.get(f"/queues/{queue_id}/calls")))["items"]
    leg = await agent_leg(calls, item["id"])
    assert leg is not None
    assert await conversation_of(calls, bot) == Conversation(
        conference=f"kq-{item['id']}",
        provider="loopback",
        agent_call_id=leg,
        customer_call_id=uuid.UUID(call_id),
        source="queues",
    )
    # It is where the carrier has them: the agent's leg and, once bridged, the caller.
    agent_call = await ok(await api.get(f"/calls/{leg}"))
    caller = await ok(await api.get(f"/calls/{call_id}"))
    expected = {agent_call["provider_call_id"], caller["provider_call_id"]}

    def both_in() -> bool:
        members = conference_members(calls.platform, calls.tenant_id, f"kq-{item['id']}")
        return {m.provider_call_id for m in members} == expected

    await wait_until(both_in, within=20)
    # The agent hangs up: the conversation is over, nothing is found any more.
    await ok(await api.post(f"/calls/{leg}/hangup", json={}))

    async def over() -> bool:
        return await conversation_of(calls, bot) is None

    await until(over)


async def test_a_waiting_call_moved_to_an_agent_is_offered_to_that_agent_only(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
):
    calls = loopback_calls
    queue_id, (first, chosen), flow_id = await contact_center(api, TALKS, TALKS)
    call_id = await call_in(api, flow_id)

    async def waiting() -> bool:
        return (await live(api, queue_id))["waiting"] == 1

    await until(waiting)
    [waiter] = (await live(api, queue_id))["calls"]
    moved = await ok(
        await api.post(f"/queues/calls/{waiter['item_id']}/move", json={"agent_id": chosen})
    )
    assert (moved["id"], moved["queue_id"], moved["status"]) == (
        waiter["item_id"],
        queue_id,
        "waiting",
    )
    assert moved["target_agent_id"] == chosen
    # The first agent is available first and has been idle longest: longest-idle would
    # offer them the call; it waits for the chosen agent instead.
    await set_state(api, first, "available")
    await asyncio.sleep(0.5)  # routing runs on the availability (a wrong offer shows here)
    assert (await live(api, queue_id))["waiting"] == 1
    await set_state(api, chosen, "available")

    async def connected() -> bool:
        return (await live(api, queue_id))["connected"] == 1

    await until(connected)
    [item] = (await ok(await api.get(f"/queues/{queue_id}/calls")))["items"]
    assert (item["id"], item["agent_id"], item["offers"]) == (waiter["item_id"], chosen, 1)
    offered = [e.payload for e in calls.delivered if e.name == "queues.call.offered"]
    assert [str(p["agent_id"]) for p in offered] == [chosen]
    assert (await agent(api, first))["state"] == "available"
    [moved_event] = [e.payload for e in calls.delivered if e.name == "queues.call.moved"]
    assert (str(moved_event["to_agent_id"]), str(moved_event["to_queue_id"])) == (
        chosen,
        queue_id,
    )
    await wait_until(
        lambda: "calls.call.completed" in names(calls, "calls.call.", call_id), within=20
    )
