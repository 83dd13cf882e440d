"""A loopback contact center for supervision tests, through the HTTP API only: a queue
served by simulated agents, a desk flow whose "2" enqueues the caller, a caller who presses 2
and holds on, and a supervisor whose own agent profile is a loopback phone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

CALLER_SCRIPT = ["answer", {"step": "press", "digits": "2"}, {"step": "wait", "seconds": 14400}]
"""The caller: answers the platform's call, presses 2 at the menu, then holds on."""
AGENT_TALKS = [{"answer_after": 1}, {"hangup_after": 3000}]
"""The agent's phone: rings 1 s, answers, talks 3000 s (30 s real) and hangs up."""
SUPERVISOR_PHONE = [{"answer_after": 1}]
"""The supervisor's phone: rings 1 s, answers, stays until hung up."""


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll until ``check()`` holds (the workers run in the background)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.02)


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


@dataclass
class Center:
    queue_id: str
    agent_id: str
    flow_id: str
    team_id: str


async def contact_center(api: httpx.AsyncClient, agent_script: list[Any] = AGENT_TALKS) -> Center:
    """A loopback agent (available) in a team, a queue they serve and the desk flow."""
    body = {"display_name": "Bot", "reach": {"kind": "loopback", "loopback_script": agent_script}}
    agent = await ok(await api.post("/agents", json=body), 201)
    team = await ok(await api.post("/agents/teams", json={"name": "Floor"}), 201)
    await ok(
        await api.put(f"/agents/teams/{team['id']}/members", json={"agent_ids": [agent["id"]]})
    )
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
    await ok(
        await api.put(f"/agents/{agent['id']}/state", json={"state": "available", "reason": "t"})
    )
    return Center(str(queue["id"]), str(agent["id"]), str(flow["id"]), str(team["id"]))


async def supervisor_phone(
    api: httpx.AsyncClient, name: str = "Sue", script: list[Any] = SUPERVISOR_PHONE
) -> str:
    """The signed-in user's own agent profile, a loopback phone (how they are rung) that
    plays ``script``."""
    me = await ok(await api.get("/auth/me"))
    body = {
        "display_name": name,
        "user_id": me["subject"],
        "reach": {"kind": "loopback", "loopback_script": script},
    }
    return str((await ok(await api.post("/agents", json=body), 201))["id"])


async def call_in(api: httpx.AsyncClient, flow_id: str) -> str:
    """A loopback call that runs the desk flow; its callee presses 2 and holds on."""
    body = {
        "to": "+14155550123",
        "from": "+14155550100",
        "flow_id": flow_id,
        "options": {"script": CALLER_SCRIPT},
    }
    return str((await ok(await api.post("/calls", json=body), 201))["id"])


async def on_call(api: httpx.AsyncClient, agent_id: str) -> None:
    async def talking() -> bool:
        agent = await ok(await api.get(f"/agents/{agent_id}"))
        return bool(agent["state"] == "on_call")

    await until(talking)


async def session_status(api: httpx.AsyncClient, session_id: str, status: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await ok(await api.get(f"/supervisor/sessions/{session_id}")))
        return bool(seen["status"] == status)

    await until(reached)
    return seen
