"""Helpers of the webhooks tests: the shop's events, publishing, driving the workers."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kernel import Event, Permission, Tenant, add_user, tenant_scope

SHOP_READ = Permission("shop.orders", "read", "See orders.", ("admin",))


class OrderPlaced(Event):
    name = "shop.order.placed"
    permission = "shop.orders:read"
    aggregate = "order_id"

    order_id: str
    step: int = 0


class OrderPaid(Event):
    name = "shop.order.paid"
    permission = "shop.orders:read"
    aggregate = "order_id"

    order_id: str
    step: int = 0


ALL = (
    "webhooks.endpoints:read",
    "webhooks.endpoints:write",
    "webhooks.deliveries:read",
    "webhooks.deliveries:replay",
    "shop.orders:read",  # the shop's events: subscribing to them needs it
    "calls:read",  # the installed calls plugin's events (patterns like `*` match them)
    "ivr.flows:read",  # and the installed ivr plugin's
    "contacts:read",  # and the contacts plugin's (contacts, imports, DNC, consent)
    "contacts:import",
    "contacts.dnc:read",
    "contacts.consent:read",
    "agents:read",  # the agents plugin's (presence, profiles) and teams
    "teams:read",
    "queues:read",  # the queues plugin's
    "campaigns:read",  # the campaigns plugin's (campaigns, attempts)
    "supervisor:monitor",  # the supervisor plugin's (supervision sessions)
    "dashboard:read",  # and its alerts
    "ai.usage:read",  # the ai plugin's (budget warnings)
    "sentiment:live",  # the sentiment plugin's live updates
    "summaries:read",  # the summaries plugin's
    "agent_assist:use",  # agent assist's suggestions
    "payments:read",  # the payments plugin's (payments, refunds)
    "payments:all",  # and its reconciliations
)


async def publish(platform, tenant_id: uuid.UUID, *events: Event) -> None:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for event in events:
                await platform.events.publish(session, event)
            await session.commit()


async def settle(
    platform, until: Callable[[], bool | Awaitable[bool]] | None = None, seconds: float = 10
) -> None:
    """Dispatch events and run due jobs until ``until()`` holds (or, without one, until
    nothing is left to do now)."""
    deadline = time.monotonic() + seconds
    while True:
        dispatched = await platform.dispatcher.drain()
        ran = await platform.jobs.run_due(platform)
        if until is not None:
            done = until()
            if inspect.isawaitable(done):
                done = await done
            if done:
                return
        if until is None and not dispatched and not ran:
            return
        if time.monotonic() > deadline:
            raise AssertionError("webhooks did not settle in time")
        await asyncio.sleep(0.02 if (dispatched or ran) else 0.05)


async def create_endpoint(client, url: str, event_types=("shop.*",), **extra) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": url, "event_types": list(event_types), **extra},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def make_tenant(platform, slug: str) -> uuid.UUID:
    """A tenant row in ``platform``'s database (``kraliki_make_tenant`` would start a second
    app, with background workers, on the same database)."""
    async with platform.database.session() as session:
        tenant = Tenant(slug=slug, name=slug.title())
        session.add(tenant)
        await session.commit()
        return tenant.id


async def make_user(platform, tenant_id: uuid.UUID, email: str, roles: list[str]) -> None:
    from kernel.testing import DEFAULT_TEST_PASSWORD

    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await add_user(session, email=email, password=DEFAULT_TEST_PASSWORD, roles=roles)
            await session.commit()
