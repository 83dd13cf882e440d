"""The dispatcher: numbers committed events and announces them, in order per tenant.

One worker at a time dispatches a tenant (it holds the tenant's cursor row with ``FOR UPDATE
SKIP LOCKED``; other workers skip that tenant and move on). A pass reads the tenant's pending
events in publication order, numbers them (``position``), marks them dispatched and commits,
then announces the dispatch through the event transport (``kernel/_events/transport.py``:
PostgreSQL NOTIFY, or a relay to NATS JetStream): real-time subscribers get the events at
once, this worker's without a read. Plugin hooks
(``kraliki_events``, ``kraliki_event``) run behind, in ``HookRunner``, with their own cursor:
a slow hook never delays the real-time stream, and a worker that dies mid-batch leaves the
hooks' batch to the next pass (at least once; consumers dedupe by id).

Wake-ups: this process's commits wake it at once; other workers' commits arrive by
PostgreSQL NOTIFY; a sweep over every tenant at start, after a reconnect and every
``events_sweep_seconds`` catches whatever no wake-up announced. SQLite has one in-process
dispatcher and no row locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._db import Database
from kernel._events.bus import EventBus, delivered
from kernel._events.consumers import HookRunner, create_hook_cursor
from kernel._events.models import EventCursor, EventHookCursor, EventRecord
from kernel._events.transport import EventTransport
from kernel._hooks import Hooks
from kernel._metrics import Metrics
from kernel._models import utcnow
from kernel._settings import Settings
from kernel._tenancy import Tenant, tenant_scope

logger = logging.getLogger("kraliki.events")

BUSY = -1
"""``dispatch_tenant``'s answer when another worker holds the tenant."""
PURGE_INTERVAL_SECONDS = 3600.0


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        hooks: Hooks,
        bus: EventBus,
        metrics: Metrics,
        platform: object,
        transport: EventTransport,
    ) -> None:
        self.settings = settings
        self.database = database
        self.hooks = hooks
        self.bus = bus
        self.transport = transport
        self.metrics = metrics
        self.platform = platform
        self.postgres = database.dialect == "postgresql"
        self._pending: set[uuid.UUID] = set()
        self._wake = asyncio.Event()
        self._sweep_requested = True
        self._lock = asyncio.Lock()  # one pass at a time in this process (drain vs run)
        self.consumers = HookRunner(settings, database, hooks, metrics, platform)
        bus.on_dispatched(self.consumers.wake)  # any worker's dispatch, by NOTIFY on PostgreSQL
        # This worker's dispatch, and any worker's through a transport that brings the events.
        bus.on_dispatched_here(lambda tenant_id, _events: self.consumers.wake(tenant_id))

    def wake(self, tenant_id: uuid.UUID) -> None:
        self._pending.add(tenant_id)
        self._wake.set()

    def request_sweep(self) -> None:
        self._sweep_requested = True
        self._wake.set()

    async def run(self) -> None:
        """Dispatch, and run the hooks behind, until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.consumers.run(), name="kraliki-event-hooks")
            await self._dispatch_forever()

    async def _dispatch_forever(self) -> None:
        next_sweep = next_purge = 0.0
        while True:
            if self._sweep_requested or time.monotonic() >= next_sweep:
                self._sweep_requested = False
                next_sweep = time.monotonic() + self.settings.events_sweep_seconds
                try:
                    tenants = await self._all_tenants()
                    self._pending.update(tenants)
                    for tenant_id in tenants:
                        self.consumers.wake(tenant_id)
                    if time.monotonic() >= next_purge:
                        next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
                        await self._purge_expired()
                except Exception:
                    logger.exception("event sweep failed; retrying later")
            failed = False
            while self._pending and not failed:
                tenant = self._pending.pop()
                try:
                    async with self._lock:
                        count = await self.dispatch_tenant(tenant)
                except Exception:
                    logger.exception("dispatching tenant %s's events failed; retrying", tenant)
                    self._pending.add(tenant)
                    failed = True
                    continue
                if count >= self.settings.events_batch_size:
                    self._pending.add(tenant)  # more may be waiting
                await asyncio.sleep(0)  # let requests run between tenants
            self._wake.clear()
            timeout = 1.0 if failed else max(0.0, next_sweep - time.monotonic())
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation
            # that arrives as the event is set, and stop() would wait for this loop forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def drain(self) -> int:
        """Dispatch every tenant's pending events now and run the hooks over them (tests,
        benchmarks, CLI); the count dispatched."""
        total = 0
        tenants = await self._all_tenants()
        for tenant in tenants:
            while True:
                async with self._lock:
                    count = await self.dispatch_tenant(tenant)
                if count == BUSY:
                    await asyncio.sleep(0.01)
                    continue
                total += count
                if count < self.settings.events_batch_size:
                    break
            await self.consumers.drain_tenant(tenant)
        await self.transport.drain()
        return total

    async def dispatch_tenant(self, tenant_id: uuid.UUID) -> int:
        """One pass over a tenant: how many events were dispatched, or BUSY."""
        with tenant_scope(tenant_id):
            async with self.database.session() as session:
                # Most sweeps find nothing: one indexed look before any lock or write.
                pending = await session.scalar(
                    select(EventRecord.seq).where(EventRecord.dispatched_at.is_(None)).limit(1)
                )
                if pending is None:
                    return 0
                cursor = await self._claim(session, tenant_id)
                if cursor is None:
                    return BUSY
                query = (
                    select(EventRecord)
                    .where(EventRecord.dispatched_at.is_(None))
                    .order_by(EventRecord.seq)
                    .limit(self.settings.events_batch_size)
                )
                rows = list(await session.scalars(query))
                if not rows:
                    await session.commit()
                    return 0
                now = utcnow()
                for offset, row in enumerate(rows, start=1):
                    row.position = cursor.position + offset
                    row.dispatched_at = now
                cursor.position += len(rows)
                events = [delivered(row) for row in rows]
                await self.transport.announce(session, tenant_id, events)
                await session.commit()
        # This worker's subscribers get the events at once, without reading them back;
        # the transport tells the other workers.
        self.bus.dispatched_here(tenant_id, events)
        self.transport.committed(tenant_id, events)
        return len(rows)

    async def _claim(self, session: AsyncSession, tenant_id: uuid.UUID) -> EventCursor | None:
        """Lock the tenant's cursor, creating it on first use; None when another worker
        holds it."""
        query = select(EventCursor)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        cursor = await session.scalar(query)
        if cursor is not None:
            return cursor
        exists = await session.scalar(select(EventCursor.tenant_id))
        if exists is not None:
            return None  # locked by another worker
        insert = (pg_insert if self.postgres else sqlite_insert)(EventCursor)
        await session.execute(
            insert.values(
                tenant_id=tenant_id, position=0, updated_at=utcnow()
            ).on_conflict_do_nothing()
        )
        # The hooks start where the dispatch starts (at 0), whoever gets there first.
        await session.execute(create_hook_cursor(self.postgres, tenant_id))
        return await session.scalar(query)

    async def _all_tenants(self) -> list[uuid.UUID]:
        async with self.database.session() as session:
            return list(await session.scalars(select(Tenant.id)))

    async def _purge_expired(self) -> None:
        """Drop dispatched events older than the retention whose hooks have run (per
        tenant: RLS)."""
        cutoff = utcnow() - timedelta(hours=self.settings.events_retention_hours)
        for tenant in await self._all_tenants():
            with tenant_scope(tenant):
                async with self.database.session() as session:
                    await session.execute(
                        delete(EventRecord)
                        .where(EventRecord.dispatched_at.is_not(None))
                        .where(EventRecord.dispatched_at < cutoff)
                        .where(
                            EventRecord.position
                            <= select(EventHookCursor.position).scalar_subquery()
                        )
                        .execution_options(synchronize_session=False)
                    )
                    await session.commit()
