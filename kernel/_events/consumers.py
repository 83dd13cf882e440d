"""Plugin consumers: runs the ``kraliki_events`` and ``kraliki_event`` hooks over a tenant's
dispatched events, behind the real-time stream and at the hooks' own pace.

The dispatcher only numbers committed events and announces them (real-time subscribers get
them at once); this runner follows with its own cursor per tenant (``EventHookCursor``). One
worker at a time runs a tenant's hooks (it holds the hook cursor's row with ``FOR UPDATE SKIP
LOCKED``); the cursor moves past a batch in the transaction that holds that lock, after the
hooks ran, so a worker that dies mid-batch leaves the batch to the next one (at least once;
consumers dedupe by id). Tenants run side by side (up to ``CONCURRENT_TENANTS``): one
tenant's backlog never waits behind another's.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from kernel._db import Database
from kernel._events.bus import delivered
from kernel._events.models import EventHookCursor, EventRecord
from kernel._events.types import DeliveredEvent
from kernel._hooks import Hooks
from kernel._metrics import Metrics
from kernel._models import utcnow
from kernel._settings import Settings
from kernel._tenancy import Tenant, tenant_scope

logger = logging.getLogger("kraliki.events")

BUSY = -1
"""``run_tenant``'s answer when another worker runs the tenant's hooks."""
CONCURRENT_TENANTS = 4
"""Tenants whose hooks one worker runs at the same time (each holds a connection)."""
RETRY_SECONDS = 1.0
GATHER_SECONDS = 0.1
"""The least time between the starts of two passes over a tenant's hooks: under a steady
stream, a batch every 100 ms instead of a pass per commit (the stream itself never waits). A
tenant whose hooks have not run for that long runs at once: the first event after a quiet
spell is not held back."""


class HookRunner:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        hooks: Hooks,
        metrics: Metrics,
        platform: object,
    ) -> None:
        self.settings = settings
        self.database = database
        self.hooks = hooks
        self.metrics = metrics
        self.platform = platform
        self.postgres = database.dialect == "postgresql"
        self._dirty: set[uuid.UUID] = set()
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._started: dict[uuid.UUID, float] = {}
        """When each tenant's last pass started (monotonic), to space the passes."""
        self._slots = asyncio.Semaphore(CONCURRENT_TENANTS)
        self.running = False

    def wake(self, tenant_id: uuid.UUID) -> None:
        """A tenant's events were dispatched (here or by another worker): run its hooks."""
        self._dirty.add(tenant_id)
        if not self.running:
            return
        task = self._tasks.get(tenant_id)
        if task is None or task.done():
            self._tasks[tenant_id] = asyncio.create_task(
                self._follow(tenant_id), name=f"kraliki-hooks-{tenant_id}"
            )

    async def run(self) -> None:
        """Follow tenants as they are woken, until cancelled."""
        self.running = True
        for tenant in list(self._dirty):
            self.wake(tenant)
        try:
            await asyncio.Event().wait()
        finally:
            self.running = False
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.clear()

    async def _follow(self, tenant_id: uuid.UUID) -> None:
        while tenant_id in self._dirty:
            since = time.monotonic() - self._started.get(tenant_id, float("-inf"))
            if since < GATHER_SECONDS:
                await asyncio.sleep(GATHER_SECONDS - since)
            self._dirty.discard(tenant_id)
            self._started[tenant_id] = time.monotonic()
            try:
                async with self._slots:
                    full = True
                    while full:
                        count = await self.run_tenant(tenant_id)
                        full = count >= self.settings.events_batch_size
                        await asyncio.sleep(0)  # let requests run between batches
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("running tenant %s's event hooks failed; retrying", tenant_id)
                self._dirty.add(tenant_id)
                await asyncio.sleep(RETRY_SECONDS)

    async def drain_tenant(self, tenant_id: uuid.UUID) -> int:
        """Run the tenant's hooks over everything dispatched (tests, CLI); the count."""
        total = 0
        while True:
            count = await self.run_tenant(tenant_id)
            if count == BUSY:
                await asyncio.sleep(0.01)
                continue
            total += count
            if count < self.settings.events_batch_size:
                return total

    async def run_tenant(self, tenant_id: uuid.UUID) -> int:
        """One batch of a tenant's dispatched events through the hooks: how many, or BUSY."""
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            with tenant_scope(tenant_id):
                async with self.database.session() as session:
                    return await self._run(session, tenant_id)

    async def _run(self, session: AsyncSession, tenant_id: uuid.UUID) -> int:
        done = func.coalesce(select(EventHookCursor.position).scalar_subquery(), 0)
        # Most wake-ups of an idle tenant find nothing: one indexed look before any lock.
        waiting = await session.scalar(
            select(EventRecord.position).where(EventRecord.position > done).limit(1)
        )
        if waiting is None:
            return 0
        cursor = await self._claim(session, tenant_id)
        if cursor is None:
            return BUSY
        rows = list(
            await session.scalars(
                select(EventRecord)
                .where(EventRecord.position > cursor.position)
                .order_by(EventRecord.position)
                .limit(self.settings.events_batch_size)
            )
        )
        if not rows:
            await session.commit()
            return 0
        disabled = frozenset(
            await session.scalar(select(Tenant.disabled_plugins).where(Tenant.id == tenant_id))
            or ()
        )
        events = [delivered(row) for row in rows]
        if not self.postgres:
            # SQLite: end the read transaction so hooks may write (one writer at a time);
            # this process's lock keeps everyone else off the tenant's hooks.
            await session.commit()
        await self.deliver(events, disabled)
        cursor.position = events[-1].position
        cursor.updated_at = utcnow()
        await session.commit()
        return len(events)

    async def deliver(self, events: Sequence[DeliveredEvent], disabled: frozenset[str]) -> None:
        """The batch hook once, then the per-event hook for each event, in order."""
        await self.hooks.notify(
            "kraliki_events", skip=disabled, platform=self.platform, events=events
        )
        for event in events:
            await self.hooks.notify(
                "kraliki_event", skip=disabled, platform=self.platform, event=event
            )
            self.metrics.events_dispatched.labels(event.name).inc()
            self.metrics.event_lag.observe(max(0.0, (utcnow() - event.occurred_at).total_seconds()))

    async def _claim(self, session: AsyncSession, tenant_id: uuid.UUID) -> EventHookCursor | None:
        """Lock the tenant's hook cursor, creating it on first use; None when another worker
        holds it."""
        query = select(EventHookCursor)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        cursor = await session.scalar(query)
        if cursor is not None:
            return cursor
        if await session.scalar(select(EventHookCursor.tenant_id)) is not None:
            return None  # locked by another worker
        await session.execute(create_hook_cursor(self.postgres, tenant_id))
        return await session.scalar(query)


def create_hook_cursor(postgres: bool, tenant_id: uuid.UUID) -> Executable:
    """The statement creating a tenant's hook cursor at 0 unless it exists."""
    insert = (pg_insert if postgres else sqlite_insert)(EventHookCursor)
    values = insert.values(tenant_id=tenant_id, position=0, updated_at=utcnow())
    return values.on_conflict_do_nothing()
