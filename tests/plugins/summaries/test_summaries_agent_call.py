"""The whole story on the loopback carrier with no keys: a customer calls in through a menu,
waits in a queue, a loopback agent answers; both say things (the customer on their call,
the agent on the agent's leg). When the call ends the job summarises the conversation of
both legs with the offline model: why the customer called, the agent's promises as
follow-ups, the outcome. The agent's leg is not summarised on its own."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from summaries_helpers import ended, ok, summary

CUSTOMER = [
    "answer",
    {"step": "press", "digits": "2"},
    {"step": "say", "text": "Hi, I'm calling because my internet connection drops every evening."},
    {"step": "wait", "seconds": 3000},
]
AGENT = [
    {"answer_after": 1},
    {"step": "say", "text": "Hello, this is Ana from support."},
    {
        "step": "say",
        "text": "I can see the connection drops on your line. I'll escalate it to "
        "our network team.",
    },
    {"step": "say", "text": "I will call you back tomorrow morning with their answer."},
    {"hangup_after": 300},
]


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


async def contact_center(api: httpx.AsyncClient) -> str:
    """An available loopback agent speaking ``AGENT``, a queue, the desk flow: its id."""
    body = {"display_name": "Ana", "reach": {"kind": "loopback", "loopback_script": AGENT}}
    agent = await ok(await api.post("/agents", json=body), 201)
    await ok(
        await api.put(f"/agents/{agent['id']}/state", json={"state": "available", "reason": "test"})
    )
    queue = await ok(
        await api.post(
            "/queues",
            json={"name": "Support", "wrap_up_seconds": 1, "agent_ids": [agent["id"]]},
        ),
        201,
    )
    flow = await ok(
        await api.post("/ivr/flows", json={"name": "Desk", "draft": desk(queue["id"])}), 201
    )
    await ok(await api.post(f"/ivr/flows/{flow['id']}/publish", json={}), 201)
    return str(flow["id"])


async def test_a_loopback_agents_call_is_summarised(loopback_calls, api):
    flow_id = await contact_center(api)
    body = {
        "to": "+14155550123",
        "from": "+14155550100",
        "flow_id": flow_id,
        "options": {"script": CUSTOMER},
    }
    call_id = str((await ok(await api.post("/calls", json=body), 201))["id"])
    caller = await ended(api, call_id, within=40)
    assert caller["status"] == "completed"

    found = await summary(api, call_id, within=30)
    assert found["reason"] == (
        "Hi, I'm calling because my internet connection drops every evening."
    )
    assert found["outcome"] == "escalated"
    assert found["follow_ups"] == [
        "Escalate it to our network team",
        "Call the customer back tomorrow morning with their answer",
    ]
    assert "Agent: " in found["summary"]
    assert "Customer: " in found["summary"]

    # The agent's leg ended too: it is summarised with the customer's call, not alone.
    async def skipped() -> list[dict[str, Any]]:
        page = await ok(await api.get("/summaries", params={"status": "skipped"}))
        return list(page["items"])

    async with asyncio.timeout(20):
        while not await skipped():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.05)
    [leg] = await skipped()
    assert leg["skip_reason"] == "agent_leg"
    assert leg["call_id"] != call_id
    everything = (await ok(await api.get("/summaries")))["items"]
    assert {s["call_id"] for s in everything} == {call_id, leg["call_id"]}
