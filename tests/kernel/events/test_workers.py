"""Several workers on one PostgreSQL database: NOTIFY wakes the others' dispatchers, and
tenants are claimed with FOR UPDATE SKIP LOCKED so each event is dispatched once, in order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import ledger_plugin
import pytest
from ledger_plugin import RECEIVED, entry, new_account

from kernel import Tenant, tenant_scope
from kernel._migrations import upgrade
from kernel._platform import build_platform, resolve_plugins
from kernel.testing import wait_until

pytestmark = pytest.mark.postgres_only


@pytest.fixture(autouse=True)
def _clear_received():
    RECEIVED.clear()
    yield
    RECEIVED.clear()


async def _platforms(database, count: int, **overrides):
    settings = database.settings(**overrides)
    await upgrade(settings, resolve_plugins(settings, [ledger_plugin]))
    return [build_platform(settings, [ledger_plugin]) for _ in range(count)]


async def _tenants(platform, count: int) -> list[uuid.UUID]:
    async with platform.database.session() as session:
        tenants = [Tenant(slug=f"t{i}-{uuid.uuid4().hex[:6]}", name="T") for i in range(count)]
        session.add_all(tenants)
        await session.commit()
    return [t.id for t in tenants]


async def _close(*platforms):
    for platform in platforms:
        await platform.stop_background()
        await platform.database.dispose()
        platform.tracing.shutdown()


async def test_another_workers_commit_wakes_this_dispatcher(kraliki_database):
    """The publisher runs no dispatcher; the other worker's dispatcher hears the NOTIFY (the
    sweep is an hour away, so nothing else could explain the delivery)."""
    publisher, worker = await _platforms(kraliki_database, 2, events_sweep_seconds=3600)
    try:
        [tenant] = await _tenants(publisher, 1)
        await worker.start_background()
        await asyncio.sleep(0.2)  # let the start-up sweep finish
        with tenant_scope(tenant):
            async with publisher.database.session() as session:
                event_id = await publisher.events.publish(session, entry())
                await session.commit()
        await wait_until(lambda: RECEIVED)
        assert [e.id for e in RECEIVED] == [event_id]
    finally:
        await _close(publisher, worker)


async def test_competing_dispatchers_deliver_each_event_once_in_order(kraliki_database):
    platforms = await _platforms(kraliki_database, 3, events_batch_size=7)
    try:
        tenants = await _tenants(platforms[0], 4)
        accounts = {tenant: [new_account() for _ in range(3)] for tenant in tenants}
        published: dict[str, list[uuid.UUID]] = defaultdict(list)

        async def produce(tenant: uuid.UUID, worker: int) -> None:
            platform = platforms[worker % len(platforms)]
            for round_ in range(5):
                with tenant_scope(tenant):
                    async with platform.database.session() as session:
                        for i in range(4):
                            account = accounts[tenant][(round_ + i) % 3]
                            event = entry(account, round_ * 10 + i)
                            event_id = await platform.events.publish(session, event)
                            published[f"{tenant}:{account}"].append(event_id)
                        await session.commit()

        await asyncio.gather(*(produce(t, i) for i, t in enumerate(tenants)))
        counts = await asyncio.gather(*(p.dispatcher.drain() for p in platforms))
        assert sum(counts) == 4 * 5 * 4  # every event once, whichever worker took it

        by_aggregate: dict[str, list[uuid.UUID]] = defaultdict(list)
        positions: dict[uuid.UUID, list[int]] = defaultdict(list)
        for event in RECEIVED:
            account = event.payload["account"]
            by_aggregate[f"{event.tenant_id}:{account}"].append(event.id)
            positions[event.tenant_id].append(event.position)
        assert by_aggregate == published  # publication order per aggregate
        for tenant in tenants:
            assert sorted(positions[tenant]) == list(range(1, 21))
    finally:
        await _close(*platforms)
