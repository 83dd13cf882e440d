"""A contact center on the loopback provider for the agent_assist tests (imported by name):
a flow whose menu's "2" enqueues the caller in a queue served by one agent, and a customer
who presses 2 and then keeps saying the same thing (what they say before the agent is
there reaches nobody: the first sentence after is the one suggested on)."""

from __future__ import annotations

from typing import Any

import httpx
from assist_helpers import ok

SAID = "My parcel arrived damaged and I would like a refund."


def customer_script(said: str = SAID, times: int = 30) -> list[Any]:
    """Answers the platform's call, presses 2, then says ``said`` every few seconds."""
    steps: list[Any] = ["answer", {"step": "press", "digits": "2"}]
    for _ in range(times):
        steps += [{"step": "wait", "seconds": 150}, {"step": "say", "text": said}]
    return [*steps, {"step": "wait", "seconds": 6000}]


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


async def contact_center(
    api: httpx.AsyncClient, *, user_id: str | None = None, name: str = "Ana Nová"
) -> tuple[str, str]:
    """A loopback agent whose phone answers and stays on (offline), the queue it serves and
    the desk flow published: the agent's and the flow's ids."""
    body: dict[str, Any] = {
        "display_name": name,
        "reach": {
            "kind": "loopback",
            "loopback_script": [{"answer_after": 1}, {"hangup_after": 6000}],
        },
    }
    if user_id is not None:
        body["user_id"] = user_id
    agent = await ok(await api.post("/agents", json=body), 201)
    queue = await ok(
        await api.post(
            "/queues", json={"name": "Support", "wrap_up_seconds": 1, "agent_ids": [agent["id"]]}
        ),
        201,
    )
    flow = await ok(
        await api.post("/ivr/flows", json={"name": "Desk", "draft": desk(queue["id"])}), 201
    )
    await ok(await api.post(f"/ivr/flows/{flow['id']}/publish", json={}), 201)
    return str(agent["id"]), str(flow["id"])


async def call_in(api: httpx.AsyncClient, flow_id: str, script: list[Any]) -> str:
    """A loopback call that runs the flow with this customer."""
    body = {
        "to": "+14155550123",
        "from": "+14155550100",
        "flow_id": flow_id,
        "options": {"script": script},
    }
    return str((await ok(await api.post("/calls", json=body), 201))["id"])
