"""How a dispatch reaches every worker: the event transport.

The outbox and the dispatcher stay in the database whatever the transport: an event is a row
written in the publisher's transaction, and the dispatcher numbers it (``position``) and marks
it dispatched. The transport only carries the news "these events were dispatched" from the
dispatching worker to every worker's real-time hub (and hook runner):

- ``postgres`` (default, :class:`DatabaseTransport`): ``pg_notify`` in the dispatcher's
  transaction; every worker LISTENs and reads the new events from the outbox. On SQLite (one
  process) the dispatcher tells its own hub directly.
- ``nats`` (:class:`kernel._events.nats.NatsTransport`): after the commit, a relay publishes
  each dispatched event to a NATS JetStream stream, in order, with its id as ``Nats-Msg-Id``;
  every worker's hub consumes the stream and fans the events out without a database read.

Plugins see no difference: they publish into the outbox and consume through hooks.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._events.bus import EventBus, TenantCallback
from kernel._events.types import DeliveredEvent

if TYPE_CHECKING:
    from kernel._db import Database
    from kernel._metrics import Metrics
    from kernel._settings import Settings


class EventTransport:
    """The interface: what the dispatcher calls, and what every worker starts."""

    name: ClassVar[str]

    def listen_channels(self) -> dict[str, TenantCallback]:
        """PostgreSQL NOTIFY channels this transport needs the worker's listener to hear."""
        return {}

    async def announce(
        self, session: AsyncSession, tenant_id: uuid.UUID, events: list[DeliveredEvent]
    ) -> None:
        """Called by the dispatcher in its transaction, after numbering ``events`` (in
        ``position`` order) and before its commit: whatever is written here commits, or
        rolls back, with the dispatch."""

    def committed(self, tenant_id: uuid.UUID, events: list[DeliveredEvent]) -> None:
        """Called by the dispatcher once that transaction committed (never waits)."""

    async def start(self, *, relay: bool) -> list[asyncio.Task[None]]:
        """Begin receiving other workers' dispatches (every worker) and, with ``relay`` (the
        workers that dispatch), carrying this worker's; the tasks to cancel at stop."""
        return []

    async def drain(self) -> int:
        """Carry whatever was dispatched and not carried yet, now (tests, CLI); the count."""
        return 0

    async def close(self) -> None:
        """Release connections (after the tasks were cancelled)."""


class DatabaseTransport(EventTransport):
    """PostgreSQL LISTEN/NOTIFY: the default; no other service needed."""

    name = "postgres"

    def __init__(self, bus: EventBus, *, postgres: bool) -> None:
        self.bus = bus
        self.postgres = postgres

    def listen_channels(self) -> dict[str, TenantCallback]:
        if not self.postgres:
            return {}
        return {self.bus.dispatched_channel: self.bus.dispatched}

    async def announce(
        self, session: AsyncSession, tenant_id: uuid.UUID, events: list[DeliveredEvent]
    ) -> None:
        if self.postgres:
            # Delivered at commit to every worker's listener (this one's included).
            await session.execute(
                text("SELECT pg_notify(:channel, :tenant)"),
                {"channel": self.bus.dispatched_channel, "tenant": str(tenant_id)},
            )

    def committed(self, tenant_id: uuid.UUID, events: list[DeliveredEvent]) -> None:
        if not self.postgres:
            self.bus.dispatched(tenant_id)  # SQLite: one process, told directly


def build_transport(
    settings: Settings, database: Database, bus: EventBus, metrics: Metrics
) -> EventTransport:
    """The transport ``KRALIKI_EVENT_TRANSPORT`` names."""
    postgres = database.dialect == "postgresql"
    if settings.event_transport == "nats":
        if not postgres:
            raise ValueError(
                "KRALIKI_EVENT_TRANSPORT=nats relays a PostgreSQL outbox: set "
                "KRALIKI_DATABASE_URL to PostgreSQL, or leave the transport at postgres"
            )
        from kernel._events.nats import NatsTransport  # the client only when chosen

        return NatsTransport(settings, database, bus, metrics)
    return DatabaseTransport(bus, postgres=postgres)
