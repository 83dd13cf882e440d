"""The outbox relay: carries each tenant's dispatched events to a broker, in order, at least
once, with its own cursor per tenant (``EventRelayCursor``).

The dispatcher commits a batch and hands it here in memory; the relay locks the tenant's relay
cursor (``FOR UPDATE``: one worker at a time relays a tenant, the next waits for it and goes
on from where it stopped), publishes the events after the cursor (the batch at hand, or what
it reads from the outbox when the hand-off does not follow on), and moves the cursor past
what the broker acknowledged, in the transaction that holds the lock. A worker killed between
the dispatch's commit and the relay, or between the broker's acknowledgement and the cursor's
commit, leaves the cursor behind: the next pass (any worker's: a later dispatch of the tenant,
a worker's start, the sweep every ``KRALIKI_EVENTS_SWEEP_SECONDS``) publishes those events
again, and the broker drops what it already holds (de-duplication by event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select

from kernel._db import Database
from kernel._events.bus import EventBus
from kernel._events.models import EventCursor, EventRelayCursor
from kernel._events.types import DeliveredEvent
from kernel._models import utcnow
from kernel._settings import Settings
from kernel._tenancy import Tenant, tenant_scope

logger = logging.getLogger("kraliki.events")

Publish = Callable[[Sequence[DeliveredEvent]], Awaitable[int]]
"""Publishes events in order; how many, from the first, the broker acknowledged."""
RETRY_SECONDS = 1.0


class RelayIncomplete(Exception):
    """The broker acknowledged only part of a batch; the rest is relayed again."""


class Relay:
    def __init__(
        self, settings: Settings, database: Database, bus: EventBus, publish: Publish
    ) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.publish = publish
        self._at_hand: dict[uuid.UUID, list[DeliveredEvent]] = {}
        self._dirty: set[uuid.UUID] = set()
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._sweep = asyncio.Event()
        self.running = False

    def wake(self, tenant_id: uuid.UUID, events: Sequence[DeliveredEvent] = ()) -> None:
        """This worker dispatched ``events`` of the tenant (committed): relay them."""
        if not self.running:
            return  # no relay here (a CLI's dispatch): the workers' sweep relays it
        if events:
            self._at_hand.setdefault(tenant_id, []).extend(events)
        self._dirty.add(tenant_id)
        task = self._tasks.get(tenant_id)
        if task is None or task.done():
            self._tasks[tenant_id] = asyncio.create_task(
                self._follow(tenant_id), name=f"kraliki-relay-{tenant_id}"
            )

    def request_sweep(self) -> None:
        self._sweep.set()

    async def run(self) -> None:
        """Relay woken tenants, and sweep every tenant at start and periodically, until
        cancelled."""
        self.running = True
        try:
            while True:
                try:
                    for tenant_id in await self.behind():
                        self.wake(tenant_id)
                except Exception:
                    logger.exception("relay sweep failed; retrying later")
                self._sweep.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.events_sweep_seconds):
                        await self._sweep.wait()
        finally:
            self.running = False
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.clear()
            self._at_hand.clear()

    async def behind(self) -> list[uuid.UUID]:
        """Tenants whose relay cursor trails their dispatch cursor."""
        async with self.database.session() as session:
            tenants = list(await session.scalars(select(Tenant.id)))
        found = []
        for tenant_id in tenants:
            with tenant_scope(tenant_id):
                async with self.database.session() as session:
                    trailing = await session.scalar(
                        select(EventRelayCursor.position).where(
                            EventRelayCursor.position
                            < select(EventCursor.position).scalar_subquery()
                        )
                    )
            if trailing is not None:
                found.append(tenant_id)
        return found

    async def drain(self) -> int:
        """Relay every tenant that is behind, now (tests, CLI); the count relayed."""
        total = 0
        for tenant_id in await self.behind():
            while True:
                count = await self.relay_tenant(tenant_id)
                total += count
                if count < self.settings.events_batch_size:
                    break
        return total

    async def _follow(self, tenant_id: uuid.UUID) -> None:
        while tenant_id in self._dirty:
            self._dirty.discard(tenant_id)
            try:
                while True:
                    count = await self.relay_tenant(tenant_id)
                    if count < self.settings.events_batch_size and not self._at_hand.get(tenant_id):
                        break
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning(
                    "relaying tenant %s's events failed; retrying", tenant_id, exc_info=True
                )
                self._dirty.add(tenant_id)
                await asyncio.sleep(RETRY_SECONDS)

    async def relay_tenant(self, tenant_id: uuid.UUID) -> int:
        """One pass: publish the tenant's dispatched events after its relay cursor and move
        the cursor past them; how many."""
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            at_hand = self._at_hand.pop(tenant_id, [])
            with tenant_scope(tenant_id):
                async with self.database.session() as session:
                    cursor = await session.scalar(select(EventRelayCursor).with_for_update())
                    if cursor is None:  # nothing was dispatched under this transport
                        await session.commit()
                        return 0
                    events = following(at_hand, cursor.position)
                    if not events:
                        events = await self.bus.read(
                            session, after=cursor.position, limit=self.settings.events_batch_size
                        )
                    if not events:
                        await session.commit()
                        return 0
                    started = time.perf_counter()
                    sent = await self.publish(events)
                    if sent:
                        cursor.position = events[sent - 1].position
                        cursor.updated_at = utcnow()
                    await session.commit()
            if sent < len(events):
                raise RelayIncomplete(
                    f"the broker acknowledged {sent} of {len(events)} events "
                    f"in {time.perf_counter() - started:.1f} s"
                )
            return len(events)


def following(events: Sequence[DeliveredEvent], position: int) -> list[DeliveredEvent]:
    """The run of ``events`` that follows ``position`` without a gap (empty when they do not
    start right after it)."""
    run: list[DeliveredEvent] = []
    expected = position + 1
    for event in events:
        if event.position < expected:
            continue  # already relayed
        if event.position != expected:
            break
        run.append(event)
        expected += 1
    return run
