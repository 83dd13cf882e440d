"""What the dashboard and alerts tests share (imported by name: test directories are not
packages). Fixtures come from ``kernel.testing`` directly (``kraliki_client``,
``kraliki_platform``, ``kraliki_make_owner``); rows that routing and the caller side write
(queued calls, handled calls, call legs at chosen instants) are written through the
plugins' public models, inside the tenant's scope, as the queues tests do."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from kernel import Platform, tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, TenantOwner, login
from plugins.agents import Agent, AgentState, HandledCall
from plugins.calls import Call
from plugins.queues import ItemStatus, QueueItem

DASHBOARD = "/api/v1/supervisor/dashboard"
RULES = "/api/v1/supervisor/alerts/rules"


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def user_headers(
    client: httpx.AsyncClient, make_user: Any, owner: TenantOwner, role: str
) -> dict[str, str]:
    """A new user of ``owner``'s organization with ``role``, logged in."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@{owner.slug}.example.com"
    await make_user(owner.tenant_id, email, roles=[role])
    return await login(client, email, DEFAULT_TEST_PASSWORD, tenant=owner.slug)


async def create_queue(
    client: httpx.AsyncClient, headers: Mapping[str, str], name: str = "Support", **body: Any
) -> str:
    created = await ok(
        await client.post("/api/v1/queues", headers=dict(headers), json={"name": name, **body}),
        201,
    )
    return str(created["id"])


async def create_agent(
    client: httpx.AsyncClient, headers: Mapping[str, str], name: str = "Ada"
) -> str:
    body = {"display_name": name, "reach": {"kind": "loopback"}}
    agent = await ok(await client.post("/api/v1/agents", headers=dict(headers), json=body), 201)
    return str(agent["id"])


async def force_state(
    client: httpx.AsyncClient, headers: Mapping[str, str], agent_id: str, state: str
) -> None:
    """A supervisor's ``PUT /agents/{id}/state`` (away: with the code ``break``, defined
    on first use)."""
    body: dict[str, Any] = {"state": state, "reason": "test"}
    if state == "away":
        codes = await ok(await client.get("/api/v1/agents/reason-codes", headers=dict(headers)))
        items = codes["items"] if isinstance(codes, dict) else codes
        if not any(c["code"] == "break" for c in items):
            await ok(
                await client.post(
                    "/api/v1/agents/reason-codes",
                    headers=dict(headers),
                    json={"code": "break", "label": "Break"},
                ),
                201,
            )
        body["reason_code"] = "break"
    await ok(await client.put(f"/api/v1/agents/{agent_id}/state", headers=dict(headers), json=body))


async def add_item(
    platform: Platform,
    tenant_id: uuid.UUID,
    queue_id: str,
    *,
    status: ItemStatus | str,
    entered_at: datetime,
    wait_seconds: float | None = None,
) -> uuid.UUID:
    """A queued call as routing and the caller side leave it (``answered_at`` set for an
    answered one)."""
    status = ItemStatus(status)
    answered = status in (ItemStatus.CONNECTED, ItemStatus.COMPLETED)
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            item = QueueItem(
                queue_id=uuid.UUID(queue_id),
                status=status.value,
                entered_at=entered_at,
                wait_seconds=wait_seconds,
                answered_at=entered_at + timedelta(seconds=wait_seconds or 0) if answered else None,
                call_id=uuid.uuid4(),
                provider="loopback",
                caller_number="+14155550123",
                called_number="+14155550100",
            )
            session.add(item)
            await session.commit()
            return item.id


async def add_leg(
    platform: Platform,
    tenant_id: uuid.UUID,
    *,
    at: datetime,
    direction: str = "inbound",
    handler: str | None = None,
    target: str | None = None,
    placed_by: str | None = None,
    tags: list[str] | None = None,
) -> None:
    """A call row created at ``at`` as the calls plugin stores one."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            session.add(
                Call(
                    direction=direction,
                    from_number="+14155550123",
                    to_number="+14155550100",
                    provider="loopback",
                    status="completed",
                    handler=handler,
                    handler_target=target,
                    placed_by=placed_by,
                    tags=tags or [],
                    created_at=at,
                    updated_at=at,
                )
            )
            await session.commit()


async def add_handled(
    platform: Platform,
    tenant_id: uuid.UUID,
    agent_id: str,
    *,
    at: datetime,
    talk: float | None,
    wrap: float | None,
) -> None:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            session.add(
                HandledCall(
                    agent_id=uuid.UUID(agent_id),
                    call_id=uuid.uuid4(),
                    answered_at=at,
                    talk_seconds=talk,
                    wrap_up_seconds=wrap,
                )
            )
            await session.commit()


async def set_agent(platform: Platform, tenant_id: uuid.UUID, agent_id: str, **values: Any) -> None:
    """Change an agent row as presence leaves it (``state``, ``state_since``, ``active``)."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            agent = await session.scalar(select(Agent).where(Agent.id == uuid.UUID(agent_id)))
            assert agent is not None
            for name, value in values.items():
                setattr(agent, name, value.value if isinstance(value, AgentState) else value)
            await session.commit()


async def evaluate_now(platform: Platform, tenant_id: uuid.UUID) -> None:
    """Wake the alerts job (as an event or a rule change does); the workers run it."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.jobs.wake(session, "supervisor.alerts")
            await session.commit()


async def raised(client: httpx.AsyncClient, headers: Mapping[str, str]) -> list[dict[str, Any]]:
    body = await ok(await client.get(f"{DASHBOARD}/alerts", headers=dict(headers)))
    return list(body["items"])


async def until_alerts(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    rule_id: str,
    count: int,
    *,
    platform: Platform | None = None,
    tenant_id: uuid.UUID | None = None,
    within: float = 15.0,
) -> list[dict[str, Any]]:
    """Wait until ``rule_id`` has ``count`` raised alerts (waking the job each time when
    ``platform`` is given); returns them."""
    seen: list[dict[str, Any]] = []

    async def check() -> bool:
        nonlocal seen
        if platform is not None and tenant_id is not None:
            await evaluate_now(platform, tenant_id)
        seen = [a for a in await raised(client, headers) if a["rule_id"] == rule_id]
        return len(seen) == count

    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.05)
    return seen
