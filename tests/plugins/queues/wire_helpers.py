"""Shared by the queue tests through the provider doubles (``test_wire_*.py``): everything a
tenant sets up over the API before a caller rings (agents with phones, a queue they serve,
a front-desk flow whose "support" option enqueues, the numbers), and what the API tells
afterwards. The provider side (the double, its webhooks, the served platform and the
organization: ``plugins.calls.testing.served_platform``, ``twilio_tenant``/``telnyx_tenant``)
is each test module's own."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from kernel.testing import create_tenant
from plugins.calls import PERMISSIONS as CALLS_PERMISSIONS
from plugins.queues import QUEUES_CALLS_WRITE, QUEUES_READ, QUEUES_WRITE

DESK_NUMBER = "+14155550100"
"""Routed to the front-desk flow."""
QUEUE_NUMBER = "+14155550101"
"""Routed straight to the queue."""
CALLER = "+14155550199"
ANA_PHONE = "+420601123456"
BEN_PHONE = "+420601123457"
MUSIC = "https://music.example.test/hold.mp3"
GREETING = "Thank you for calling support."
WRAP_UP_SECONDS = 30

PERMISSIONS = (
    *(p.key for p in CALLS_PERMISSIONS),
    *(p.key for p in (QUEUES_READ, QUEUES_WRITE, QUEUES_CALLS_WRITE)),
    "ivr.flows:read",
    "ivr.flows:write",
    "ivr.flows:publish",
    "agents:read",
    "agents:write",
    "agents:all",
    "agents.state:force",
)

MakeUser = Callable[..., Awaitable[uuid.UUID]]


async def wire_tenant(
    app: FastAPI,
    authenticate: Callable[..., None],
    use: Callable[..., Awaitable[None]],
    double: Any,
    provider: str,
) -> uuid.UUID:
    """The organization, calling through ``double`` (``use``: ``use_twilio``/``use_telnyx``),
    acted for by a user holding :data:`PERMISSIONS`."""
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    await use(
        platform,
        tenant_id,
        double,
        max_concurrent_calls=20,
        calls_per_second={provider: 100.0},  # the next agent's leg follows a missed one at once
    )
    authenticate(app, *PERMISSIONS, kind="user", tenant_id=tenant_id)
    return tenant_id


async def phone_agent(
    client: httpx.AsyncClient, make_user: MakeUser, tenant_id: uuid.UUID, name: str, phone: str
) -> str:
    """An agent (a user of the tenant) reached on ``phone``, answering offers by picking
    up (``auto_accept``), made available by a supervisor."""
    user_id = await make_user(tenant_id, f"{name.lower()}@acme.example.com", roles=["agent"])
    created = await client.post(
        "/api/v1/agents",
        json={
            "user_id": str(user_id),
            "display_name": name,
            "reach": {"kind": "phone", "address": phone},
            "auto_accept": True,
        },
    )
    assert created.status_code == 201, created.text
    agent_id = str(created.json()["id"])
    available = await client.put(
        f"/api/v1/agents/{agent_id}/state", json={"state": "available", "reason": "shift starts"}
    )
    assert available.status_code == 200, available.text
    return agent_id


async def support_queue(client: httpx.AsyncClient, *agent_ids: str) -> str:
    created = await client.post(
        "/api/v1/queues",
        json={
            "name": "Support",
            "greeting": GREETING,
            "music_url": MUSIC,
            "announce_every_seconds": 30,
            "wrap_up_seconds": WRAP_UP_SECONDS,
            "offer_timeout_seconds": 20,
            "agent_ids": list(agent_ids),
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def front_desk(queue_id: str) -> dict[str, Any]:
    """The front desk's shape: a welcome, a menu, "support" into the queue."""
    return {
        "start": "welcome",
        "nodes": {
            "welcome": {
                "type": "say",
                "text": "Thank you for calling Acme.",
                "exits": {"next": "menu"},
            },
            "menu": {
                "type": "menu",
                "options": [{"key": "1", "label": "sales"}, {"key": "2", "label": "support"}],
                "exits": {"1": "sales", "2": "support", "no_input": "bye", "no_match": "bye"},
            },
            "sales": {"type": "transfer", "number": "+15551230001"},
            "support": {"type": "queues.enqueue", "queue_id": queue_id},
            "bye": {"type": "hangup", "message": "Goodbye."},
        },
    }


async def route_numbers(client: httpx.AsyncClient, provider: str, queue_id: str) -> None:
    """The desk number to the published front-desk flow, the queue number to the queue."""
    created = await client.post(
        "/api/v1/ivr/flows", json={"name": "Front desk", "draft": front_desk(queue_id)}
    )
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})
    assert published.status_code == 201, published.text
    for number, route, target in (
        (DESK_NUMBER, "ivr", flow_id),
        (QUEUE_NUMBER, "queues", queue_id),
    ):
        routed = await client.post(
            "/api/v1/calls/numbers",
            json={"number": number, "provider": provider, "route": route, "ivr_flow_id": target},
        )
        assert routed.status_code == 201, routed.text


async def queue_calls(client: httpx.AsyncClient, queue_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/queues/{queue_id}/calls")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def agent_of(client: httpx.AsyncClient, agent_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/agents/{agent_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def handled_calls(client: httpx.AsyncClient, agent_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/agents/{agent_id}/calls")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def call_of(client: httpx.AsyncClient, call_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/calls/{call_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())
