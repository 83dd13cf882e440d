"""Shared by the caller-side queue tests (imported by name): an app with the in-process
fakeline provider, a tenant whose user holds every calls, IVR and queues permission, queues
written straight to the database (their CRUD API is another module's), and a caller ringing
a number routed to a queue through signed provider webhooks."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kernel import tenant_scope, utcnow
from kernel.testing import app_client, create_tenant, published_events
from plugins.calls import PERMISSIONS as CALLS_PERMISSIONS
from plugins.calls import Call
from plugins.calls.testing import fakeline_plugin, fakeline_webhook, set_call_settings
from plugins.queues.models import Queue, QueueItem
from plugins.queues.permissions import PERMISSIONS as QUEUES_PERMISSIONS

SECRET = "fakeline-signing-secret"
QUEUE_NUMBER = "+14155550100"
IVR_NUMBER = "+14155550111"
CALLER = "+14155550199"
IVR_FLOWS = ("ivr.flows:read", "ivr.flows:write", "ivr.flows:publish")
EVERYTHING = (*(p.key for p in (*CALLS_PERMISSIONS, *QUEUES_PERMISSIONS)), *IVR_FLOWS)


@pytest.fixture
def kraliki_extra_plugins():
    return [fakeline_plugin()]


@pytest.fixture
async def app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as http:
        yield http


@pytest.fixture
async def tenant(app, kraliki_authenticate) -> uuid.UUID:
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.vault.put(session, "fakeline.signing_key", SECRET, actor="test")
            await session.commit()
    await set_call_settings(
        platform, tenant_id, primary_provider="fakeline", max_concurrent_calls=20
    )
    kraliki_authenticate(app, *EVERYTHING, kind="user", tenant_id=tenant_id)
    return tenant_id


async def make_queue(app, tenant: uuid.UUID, name: str = "Support", **fields: Any) -> uuid.UUID:
    values: dict[str, Any] = {
        "greeting": "Thank you for calling support.",
        "announce_every_seconds": 30,
        **fields,
    }
    platform = app.state.platform
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            queue = Queue(id=uuid.uuid4(), name=name, **values)
            session.add(queue)
            await session.commit()
            return queue.id


async def route_to_queue(client: httpx.AsyncClient, queue_id: uuid.UUID | str) -> None:
    response = await client.post(
        "/api/v1/calls/numbers",
        json={
            "number": QUEUE_NUMBER,
            "provider": "fakeline",
            "route": "queues",
            "ivr_flow_id": str(queue_id),
        },
    )
    assert response.status_code == 201, response.text


def steps_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(json.loads(response.content)["steps"])


async def ring(
    client, tenant, sid: str, *, to: str = QUEUE_NUMBER, caller: str = CALLER
) -> list[dict[str, Any]]:
    """A caller dials ``to``: the first instructions."""
    event = {
        "type": "needs",
        "call": sid,
        "reason": "inbound",
        "direction": "inbound",
        "from": caller,
        "to": to,
    }
    return steps_of(await fakeline_webhook(client, tenant, SECRET, [event], kind="voice"))


async def gathered(client, tenant, sid: str, **got: str) -> list[dict[str, Any]]:
    """The hold gather (or a menu) ended: keys pressed, or none."""
    event = {"type": "needs", "call": sid, "reason": "gathered", **got}
    return steps_of(await fakeline_webhook(client, tenant, SECRET, [event], kind="gather"))


async def in_progress(client, tenant, sid: str) -> None:
    """The provider reports the call answered (in progress)."""
    event = {"type": "progress", "call": sid, "status": "in-progress"}
    response = await fakeline_webhook(client, tenant, SECRET, [event])
    assert response.status_code == 200, response.text


async def hang_up(client, tenant, sid: str) -> None:
    event = {"type": "progress", "call": sid, "status": "completed", "hangup_cause": "caller"}
    response = await fakeline_webhook(client, tenant, SECRET, [event])
    assert response.status_code == 200, response.text


def said(steps: list[dict[str, Any]]) -> list[str]:
    """The texts spoken, gather prompts included."""
    texts = []
    for step in steps:
        if step["kind"] == "say":
            texts.append(step["text"])
        for part in step.get("prompt", []):
            if part["kind"] == "say":
                texts.append(part["text"])
    return texts


def hold_of(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The hold loop's gather (the last step)."""
    step = steps[-1]
    assert step["kind"] == "gather", steps
    return step


async def items(app, tenant: uuid.UUID) -> list[QueueItem]:
    platform = app.state.platform
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return list(await session.scalars(select(QueueItem).order_by(QueueItem.created_at)))


async def age_item(app, tenant: uuid.UUID, item_id: uuid.UUID, **seconds_ago: float) -> None:
    """Move the item's timers (``deadline_at``, ``next_announce_at``, ``entered_at``) into
    the past: what the clock would have done while the caller waited."""
    platform = app.state.platform
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            item = await session.scalar(select(QueueItem).where(QueueItem.id == item_id))
            assert item is not None
            for name, ago in seconds_ago.items():
                setattr(item, name, utcnow() - timedelta(seconds=ago))
            await session.commit()


async def handler_of(app, tenant: uuid.UUID) -> tuple[str | None, str | None]:
    """The only call's handler and target."""
    platform = app.state.platform
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            [call] = list(await session.scalars(select(Call)))
            return call.handler, call.handler_target


async def queue_events(app, tenant: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, payload)
        for name, payload in await published_events(app.state.platform, tenant)
        if name.startswith("queues.call.")
    ]
