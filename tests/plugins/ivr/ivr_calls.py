"""What the provider tests of the IVR share: one flow, published through the API and routed
from a number, and reading back what the runtime kept."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from ivr_helpers import flow
from sqlalchemy import select

from kernel import Platform, tenant_scope
from plugins.ivr.models import FlowSession

NUMBER = "+14155550100"
CALLER = "+14155550199"
SALES = "+15551230001"

MENU = flow(
    "hello",
    hello={"type": "say", "text": "Thanks for calling.", "exits": {"next": "menu"}},
    menu={
        "type": "menu",
        "options": [{"key": "1", "label": "sales"}, {"key": "2", "label": "a message"}],
        "retries": 1,
        "exits": {"1": "sales", "2": "message", "no_input": "bye", "no_match": "bye"},
    },
    sales={"type": "transfer", "number": SALES, "message": "Connecting you to sales."},
    message={"type": "voicemail", "prompt": "Leave a message."},
    bye={"type": "hangup", "message": "Goodbye."},
)


async def publish_and_route(
    client: httpx.AsyncClient, provider: str, document: dict[str, Any] = MENU
) -> str:
    created = await client.post("/api/v1/ivr/flows", json={"name": "Main", "draft": document})
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})
    assert published.status_code == 201, published.text
    number = await client.post(
        "/api/v1/calls/numbers",
        json={"number": NUMBER, "provider": provider, "route": "ivr", "ivr_flow_id": flow_id},
    )
    assert number.status_code == 201, number.text
    return flow_id


async def flow_sessions(platform: Platform, tenant_id: uuid.UUID) -> list[FlowSession]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            rows = await session.scalars(select(FlowSession).order_by(FlowSession.created_at))
            return list(rows)
