"""Supervision through the provider doubles (``test_sessions_twilio.py``,
``test_sessions_telnyx.py``): the owner's organization set up over the API as a tenant would
(an agent on a phone serving a queue its number routes to, the owner's own agent profile on
a phone of theirs) and what the API tells afterwards. The carrier side (the double, its
signed webhooks) is each test module's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from kernel import tenant_scope
from kernel.testing import published_events

QUEUE_NUMBER = "+14155550101"
"""Routed straight to the queue."""
CALLER = "+14155550199"
ANA_PHONE = "+420601123456"
SUE_PHONE = "+420601999000"
"""The supervisor's own phone."""

MakeUser = Callable[..., Awaitable[uuid.UUID]]


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def until(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Poll until ``check()`` holds (when the background workers run)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.02)


async def phone_agent(client: httpx.AsyncClient, make_user: MakeUser, tenant_id: uuid.UUID) -> str:
    """Ana, a user of the tenant reached on her phone, answering offers by picking up,
    made available."""
    user_id = await make_user(tenant_id, "ana@acme.example.com", roles=["agent"])
    body = {
        "user_id": str(user_id),
        "display_name": "Ana",
        "reach": {"kind": "phone", "address": ANA_PHONE},
        "auto_accept": True,
    }
    agent_id = str((await ok(await client.post("/api/v1/agents", json=body), 201))["id"])
    state = {"state": "available", "reason": "shift starts"}
    await ok(await client.put(f"/api/v1/agents/{agent_id}/state", json=state))
    return agent_id


async def supervisor_phone(client: httpx.AsyncClient) -> str:
    """The signed-in user's own agent profile, reached on :data:`SUE_PHONE`."""
    me = await ok(await client.get("/api/v1/auth/me"))
    body = {
        "user_id": me["subject"],
        "display_name": "Sue",
        "reach": {"kind": "phone", "address": SUE_PHONE},
    }
    return str((await ok(await client.post("/api/v1/agents", json=body), 201))["id"])


async def queue_on_number(client: httpx.AsyncClient, provider: str, agent_id: str) -> str:
    """A queue served by ``agent_id``, :data:`QUEUE_NUMBER` routed to it."""
    body = {"name": "Support", "wrap_up_seconds": 30, "agent_ids": [agent_id]}
    queue_id = str((await ok(await client.post("/api/v1/queues", json=body), 201))["id"])
    number = {"number": QUEUE_NUMBER, "provider": provider, "route": "queues"}
    await ok(
        await client.post("/api/v1/calls/numbers", json=number | {"ivr_flow_id": queue_id}), 201
    )
    return queue_id


async def announce(client: httpx.AsyncClient, on: bool) -> None:
    body = {"announce_to_agent": on}
    assert (await ok(await client.put("/api/v1/supervisor/settings", json=body))) == body


async def supervise(client: httpx.AsyncClient, agent_id: str, mode: str = "monitor") -> Any:
    body = {"agent_id": agent_id, "mode": mode}
    return await ok(await client.post("/api/v1/supervisor/sessions", json=body), 201)


async def switch(client: httpx.AsyncClient, session_id: str, mode: str) -> Any:
    body = {"mode": mode}
    return await ok(await client.patch(f"/api/v1/supervisor/sessions/{session_id}", json=body))


async def session_of(client: httpx.AsyncClient, session_id: str) -> Any:
    return await ok(await client.get(f"/api/v1/supervisor/sessions/{session_id}"))


async def call_of(client: httpx.AsyncClient, call_id: str) -> Any:
    return await ok(await client.get(f"/api/v1/calls/{call_id}"))


async def agent_of(client: httpx.AsyncClient, agent_id: str) -> Any:
    return await ok(await client.get(f"/api/v1/agents/{agent_id}"))


async def the_item(client: httpx.AsyncClient, queue_id: str) -> Any:
    [item] = (await ok(await client.get(f"/api/v1/queues/{queue_id}/calls")))["items"]
    return item


async def announcements(platform: Any, tenant_id: uuid.UUID) -> list[tuple[str, str]]:
    """What the agent was told: ``(what, mode)`` of each ``supervisor.session.announced``."""
    return [
        (payload["what"], payload["mode"])
        for name, payload in await published_events(platform, tenant_id)
        if name == "supervisor.session.announced"
    ]


async def session_events(platform: Any, tenant_id: uuid.UUID) -> list[str]:
    return [
        name
        for name, _ in await published_events(platform, tenant_id)
        if name.startswith("supervisor.session.")
    ]


async def run_dispatch(platform: Any, tenant_id: uuid.UUID) -> None:
    """Make the tenant's ``queues.dispatch`` job due and run the due jobs once, as a job
    worker would (apps built without background workers)."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.jobs.wake(session, "queues.dispatch")
            await session.commit()
    await platform.jobs.run_due(platform)
