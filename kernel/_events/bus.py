"""Publishing into the outbox, and reading what was dispatched (real-time replay)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._db import call_after_commit
from kernel._events.models import EVENT_SEQUENCE, EventRecord
from kernel._events.types import DeliveredEvent, Event, check_event_type
from kernel._hooks import Hooks
from kernel._models import utcnow
from kernel._observability.tracing import current_trace_ids
from kernel._registry import UniqueRegistry
from kernel._tenancy import TenancyError, current_tenant_id
from kernel._types import Permission, PluginDefinitionError

logger = logging.getLogger("kraliki.events")

EVENTS_CHANNEL = "kraliki_events"
"""NOTIFY channel: a tenant published events (payload: tenant id)."""
DISPATCHED_CHANNEL = "kraliki_dispatched"
"""NOTIFY channel: a tenant's events were dispatched (payload: tenant id)."""


def channel(name: str, schema: str | None) -> str:
    """NOTIFY channels are per database, not per schema: platforms sharing a database in
    separate schemas (tests, side-by-side deployments) get their own."""
    return f"{name}_{schema}"[:63] if schema else name


_PUBLISHED = "kraliki_events_published"

TenantCallback = Callable[[uuid.UUID], None]
EventsCallback = Callable[[uuid.UUID, list[DeliveredEvent]], None]


def build_catalog(
    hooks: Hooks, permissions: UniqueRegistry[Permission]
) -> UniqueRegistry[type[Event]]:
    """Every event type the plugins declare, checked: well named, under the declaring
    plugin's name, with a declared read permission."""
    catalog: UniqueRegistry[type[Event]] = UniqueRegistry("event type")
    for plugin, declared in hooks.collect_now("kraliki_event_types"):
        for event_type in declared or ():
            try:
                check_event_type(event_type)
            except ValueError as exc:
                raise PluginDefinitionError(f"plugin {plugin!r}: {exc}") from None
            if event_type.name.split(".", 1)[0] != plugin:
                raise PluginDefinitionError(
                    f"plugin {plugin!r} declares event {event_type.name!r}: event names "
                    f"start with the declaring plugin's name ({plugin}.<noun>.<verb>)"
                )
            if event_type.permission not in permissions:
                raise PluginDefinitionError(
                    f"plugin {plugin!r}: event {event_type.name!r} needs permission "
                    f"{event_type.permission!r}, which no loaded plugin declares"
                )
            catalog.register(event_type.name, event_type, plugin=plugin)
    return catalog


class EventBus:
    """``platform.events``: publish inside your transaction; the dispatcher delivers after
    commit to ``kraliki_event`` hooks, real-time subscribers and webhook endpoints."""

    def __init__(self, catalog: UniqueRegistry[type[Event]], *, schema: str | None = None) -> None:
        self.catalog = catalog
        self.events_channel = channel(EVENTS_CHANNEL, schema)
        self.dispatched_channel = channel(DISPATCHED_CHANNEL, schema)
        self._on_published: list[TenantCallback] = []
        self._on_dispatched: list[TenantCallback] = []
        self._on_dispatched_here: list[EventsCallback] = []

    async def publish(self, session: AsyncSession, event: Event) -> uuid.UUID:
        """Add ``event`` to the outbox in ``session``'s transaction; returns its id.

        The event is delivered only if, and after, the transaction commits. Publish after
        your own writes to the aggregate (the call row), so that two transactions changing
        one aggregate publish in the order they commit.
        """
        declared = self.catalog.get(event.name) if event.name in self.catalog else None
        if declared is not type(event):
            raise PluginDefinitionError(
                f"event {event.name!r} ({type(event).__name__}) is not declared through "
                "kraliki_event_types"
            )
        tenant = current_tenant_id()
        if tenant is None:
            raise TenancyError("publish an event inside the tenant's scope")
        event_id = uuid.uuid4()
        postgres = session.get_bind().dialect.name == "postgresql"
        seq: Any = (
            EVENT_SEQUENCE.next_value()
            if postgres
            else select(func.coalesce(func.max(EventRecord.seq), 0) + 1).scalar_subquery()
        )
        session.add(
            EventRecord(
                tenant_id=tenant,
                id=event_id,
                seq=seq,
                name=event.name,
                version=event.version,
                aggregate=event.aggregate_key()[:200],
                occurred_at=utcnow(),
                payload=event.model_dump(mode="json"),
                trace_id=current_trace_ids()[0],
            )
        )
        first = call_after_commit(session, (_PUBLISHED, tenant), lambda: self.published(tenant))
        if first and postgres:
            # Delivered at commit, dropped on rollback: wakes every worker's dispatcher.
            await session.execute(
                text("SELECT pg_notify(:channel, :tenant)"),
                {"channel": self.events_channel, "tenant": str(tenant)},
            )
        return event_id

    # -- wake-ups --------------------------------------------------------------------

    def on_published(self, callback: TenantCallback) -> None:
        """Call ``callback(tenant_id)`` when this process commits events (the dispatcher)."""
        self._on_published.append(callback)

    def on_dispatched(self, callback: TenantCallback) -> None:
        """Call ``callback(tenant_id)`` when any worker dispatched a tenant's events."""
        self._on_dispatched.append(callback)

    def on_dispatched_here(self, callback: EventsCallback) -> None:
        """Call ``callback(tenant_id, events)`` with dispatched events at hand: the ones
        this process just dispatched, or any worker's that the NATS transport brought (the
        real-time hub streams them without reading them back)."""
        self._on_dispatched_here.append(callback)

    def dispatched_here(self, tenant_id: uuid.UUID, events: list[DeliveredEvent]) -> None:
        for callback in self._on_dispatched_here:
            try:
                callback(tenant_id, events)
            except Exception:
                logger.exception("dispatched-events callback failed")

    def published(self, tenant_id: uuid.UUID) -> None:
        for callback in self._on_published:
            _safely(callback, tenant_id)

    def dispatched(self, tenant_id: uuid.UUID) -> None:
        for callback in self._on_dispatched:
            _safely(callback, tenant_id)

    # -- reading what was dispatched (tenant-scoped sessions) --------------------------

    async def read(
        self, session: AsyncSession, *, after: int, limit: int = 500
    ) -> list[DeliveredEvent]:
        """The tenant's dispatched events after ``position``, in order."""
        rows = await session.scalars(
            select(EventRecord)
            .where(EventRecord.position > after)
            .order_by(EventRecord.position)
            .limit(limit)
        )
        return [delivered(row) for row in rows]

    async def latest(
        self, session: AsyncSession, *, names: Collection[str], limit: int = 50
    ) -> list[DeliveredEvent]:
        """The tenant's last ``limit`` dispatched events named one of ``names``, newest
        first (a dashboard's recent activity); only what retention still keeps."""
        if not names or limit < 1:
            return []
        rows = await session.scalars(
            select(EventRecord)
            .where(EventRecord.position.is_not(None), EventRecord.name.in_(sorted(names)))
            .order_by(EventRecord.position.desc())
            .limit(limit)
        )
        return [delivered(row) for row in rows]

    async def position_of(self, session: AsyncSession, event_id: uuid.UUID) -> int | None:
        """Where a dispatched event sits (None: unknown, not yet dispatched, or expired)."""
        position: int | None = await session.scalar(
            select(EventRecord.position).where(EventRecord.id == event_id)
        )
        return position

    async def head(self, session: AsyncSession) -> int:
        """The tenant's last dispatched position (0 before the first event)."""
        position = await session.scalar(select(func.max(EventRecord.position)))
        return int(position or 0)


def delivered(row: EventRecord) -> DeliveredEvent:
    assert row.position is not None
    return DeliveredEvent(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        version=row.version,
        occurred_at=row.occurred_at,
        aggregate=row.aggregate,
        payload=row.payload,
        position=row.position,
        trace_id=row.trace_id,
    )


def _safely(callback: TenantCallback, tenant_id: uuid.UUID) -> None:
    try:
        callback(tenant_id)
    except Exception:
        logger.exception("event wake-up callback failed")
