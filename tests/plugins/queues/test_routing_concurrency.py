"""Many routing passes at once, each on its own connection: no agent is ever offered two
calls and no call is offered to two agents, without the unique indexes having to say no
(the row locks decide; a pass that would have lost to the indexes logs a warning)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter

import pytest
from routing_helpers import (
    add_agents,
    add_item,
    add_queue,
    agent,
    kraliki_app,  # noqa: F401 (a fixture)
    new_tenant,
    route_once,
    tenant_session,
)
from sqlalchemy import select

from plugins.queues import Offer, OfferStatus
from plugins.queues.models import QueueAgent
from plugins.queues.routing.offers import LIVE, end_offer, lock_offer

WORKERS = 8
ITEMS = 200
AGENTS = 50
QUEUES = 4


async def seed(platform) -> object:
    tenant = await new_tenant(platform)
    rng = random.Random(20)
    async with tenant_session(platform, tenant) as session:
        queues = [await add_queue(session, f"Q{n}", priority=n % 2) for n in range(QUEUES)]
        agents = await add_agents(
            session,
            None,
            *(agent(f"agent-{n}", idle_for=rng.uniform(1, 600)) for n in range(AGENTS)),
        )
        for n, one in enumerate(agents):  # every agent serves two or more queues
            for queue in queues[n % QUEUES :] + queues[: n % 2]:
                session.add(QueueAgent(queue_id=queue.id, agent_id=one.id))
        for n in range(ITEMS):
            await add_item(
                session,
                queues[n % QUEUES],
                waited=rng.uniform(1, 300),
                priority=rng.choice((0, 0, 1)),
            )
        await session.commit()
    return tenant


async def worker(platform, tenant) -> list[Offer]:
    made: list[Offer] = []
    while offers := await route_once(platform, tenant):
        made.extend(offers)
    return made


async def live_offers(platform, tenant) -> list[Offer]:
    async with tenant_session(platform, tenant) as session:
        return list(await session.scalars(select(Offer).where(Offer.status.in_(LIVE))))


async def release(platform, tenant, offers: list[Offer]) -> None:
    """Withdraw the round's offers (agents available, calls waiting again), concurrently."""

    async def one(batch: list[Offer]) -> None:
        async with tenant_session(platform, tenant) as session:
            for offer in batch:
                locked = await lock_offer(session, offer.id)
                assert locked is not None
                await end_offer(
                    platform, session, locked, OfferStatus.WITHDRAWN, cause="routing", reason="test"
                )
                await session.commit()

    await asyncio.gather(*(one(offers[n::WORKERS]) for n in range(WORKERS)))


@pytest.mark.postgres_only
async def test_concurrent_passes_never_offer_twice(kraliki_platform, caplog):
    caplog.set_level(logging.WARNING, logger="plugins.queues.routing.claim")
    tenant = await seed(kraliki_platform)
    every: list[Offer] = []
    for _ in range(3):
        results = await asyncio.gather(*(worker(kraliki_platform, tenant) for _ in range(WORKERS)))
        made = [offer for offers in results for offer in offers]
        made.extend(await worker(kraliki_platform, tenant))  # what the locks made others skip
        live = await live_offers(kraliki_platform, tenant)
        assert sorted(o.id for o in made) == sorted(o.id for o in live)
        assert len(live) == AGENTS  # more calls than agents: every agent has one
        assert len({o.agent_id for o in live}) == AGENTS
        assert len({o.item_id for o in live}) == AGENTS
        assert sum(1 for offers in results if offers) > 1  # the passes really raced
        every.extend(made)
        await release(kraliki_platform, tenant, live)
    assert max(Counter((o.agent_id, o.created_at) for o in every).values()) == 1
    assert not [r for r in caplog.records if "lost to another pass" in r.getMessage()]


@pytest.mark.postgres_only
async def test_concurrent_ring_all_passes_never_ring_an_agent_twice(kraliki_platform, caplog):
    caplog.set_level(logging.WARNING, logger="plugins.queues.routing.claim")
    tenant = await new_tenant(kraliki_platform)
    async with tenant_session(kraliki_platform, tenant) as session:
        queue = await add_queue(session, strategy="ring_all")
        await add_agents(session, queue, *(agent(f"a{n}", idle_for=n + 1) for n in range(30)))
        for n in range(40):
            await add_item(session, queue, waited=n + 1)
        await session.commit()
    await asyncio.gather(*(worker(kraliki_platform, tenant) for _ in range(WORKERS)))
    live = await live_offers(kraliki_platform, tenant)
    assert len(live) == 30
    assert len({o.agent_id for o in live}) == 30
    assert not [r for r in caplog.records if "lost to another pass" in r.getMessage()]
