"""The NATS JetStream event transport (``KRALIKI_EVENT_TRANSPORT=nats``).

Relay: the workers that dispatch publish each committed, dispatched event to the stream
``KRALIKI_NATS_STREAM`` on ``<prefix>.<tenant id>.<event type>``, in ``position`` order, with
``Nats-Msg-Id`` = the event id (JetStream drops a re-relayed event it already holds, within
its duplicate window); see :mod:`kernel._events.relay` for the cursor that makes it at least
once. Subjects carry only the tenant's id and the event's type, never payload or secrets.

Receiving: every worker consumes the stream through an ordered, ephemeral push consumer that
starts at the newest message (``DeliverPolicy.NEW``): its hub needs live events only (a
client resuming from ``last_event_id`` is replayed from the outbox), a restarted worker has
nothing to resume, and an ephemeral consumer leaves nothing behind when a worker dies. The
events go to the hub as if this worker had dispatched them (``EventBus.dispatched_here``):
it skips positions its subscribers have passed and reads the outbox when a position is
missing, so a duplicate or a lost message never reaches a client twice or leaves a hole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._db import Database
from kernel._events.bus import EventBus
from kernel._events.models import EventRelayCursor
from kernel._events.relay import Relay
from kernel._events.transport import EventTransport
from kernel._events.types import DeliveredEvent
from kernel._metrics import Metrics
from kernel._models import utcnow
from kernel._settings import Settings

logger = logging.getLogger("kraliki.events")

CONNECT_SECONDS = 10.0
"""How long a worker's start waits for NATS (a wrong URL fails the start, loudly)."""
PUBLISH_SECONDS = 5.0
"""How long the relay waits for JetStream to acknowledge a batch (it holds the tenant's relay
cursor meanwhile)."""
STREAM_MAX_AGE_SECONDS = 3600.0
STREAM_MAX_BYTES = 1 << 30
DUPLICATE_WINDOW_SECONDS = 120.0
"""The stream a worker creates when it is missing: a live feed, not an archive (the outbox
is the record); create it yourself beforehand for other limits or replicas."""


POSITION_HEADER = "Kraliki-Position"


def subject(prefix: str, event: DeliveredEvent) -> str:
    return f"{prefix}.{event.tenant_id}.{event.name}"


def encode(event: DeliveredEvent) -> bytes:
    body = {**event.envelope(), "trace_id": event.trace_id}
    return json.dumps(body, separators=(",", ":")).encode()


def decode(data: bytes) -> DeliveredEvent:
    body: dict[str, Any] = json.loads(data)
    return DeliveredEvent(
        id=uuid.UUID(body["id"]),
        tenant_id=uuid.UUID(body["tenant_id"]),
        name=body["type"],
        version=int(body["version"]),
        occurred_at=datetime.fromisoformat(body["occurred_at"]),
        aggregate=body["aggregate"],
        payload=body["data"],
        position=int(body["position"]),
        trace_id=body.get("trace_id"),
    )


class NatsTransport(EventTransport):
    name = "nats"

    def __init__(
        self, settings: Settings, database: Database, bus: EventBus, metrics: Metrics
    ) -> None:
        assert settings.nats_url is not None
        self.settings = settings
        self.bus = bus
        self.metrics = metrics
        self.stream = settings.nats_stream
        self.prefix = settings.nats_subject_prefix
        self.relay = Relay(settings, database, bus, self.publish)
        self._servers = [u.strip() for u in settings.nats_url.get_secret_value().split(",")]
        self._cursors: set[uuid.UUID] = set()
        """Tenants whose relay cursor this process knows to exist."""
        self._handed: dict[uuid.UUID, int] = {}
        """The last position this process's dispatcher handed to its own hub, per tenant:
        the stream's copies of those events are not decoded again."""
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._subscription: Any = None
        self._arrived: dict[uuid.UUID, list[DeliveredEvent]] = {}
        self._flush_scheduled = False

    # -- the dispatcher's side ---------------------------------------------------------

    async def announce(
        self, session: AsyncSession, tenant_id: uuid.UUID, events: list[DeliveredEvent]
    ) -> None:
        if tenant_id in self._cursors:
            return
        # The relay starts where this dispatch starts, in the dispatch's transaction (under
        # the tenant's dispatch lock), so no event dispatched under this transport is skipped.
        await session.execute(
            pg_insert(EventRelayCursor)
            .values(tenant_id=tenant_id, position=events[0].position - 1, updated_at=utcnow())
            .on_conflict_do_nothing()
        )

    def committed(self, tenant_id: uuid.UUID, events: list[DeliveredEvent]) -> None:
        self._cursors.add(tenant_id)
        self._handed[tenant_id] = max(self._handed.get(tenant_id, 0), events[-1].position)
        self.relay.wake(tenant_id, events)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, *, relay: bool) -> list[asyncio.Task[None]]:
        js = await self._connect()
        self._subscription = await js.subscribe(
            f"{self.prefix}.>",
            stream=self.stream,
            cb=self._receive,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            idle_heartbeat=5.0,
        )
        if not relay:
            return []
        return [asyncio.create_task(self.relay.run(), name="kraliki-relay")]

    async def drain(self) -> int:
        await self._connect()
        return await self.relay.drain()

    async def close(self) -> None:
        client, self._client, self._js = self._client, None, None
        subscription, self._subscription = self._subscription, None
        if client is None:
            return
        try:
            if subscription is not None:
                await subscription.unsubscribe()
            await client.close()
        except Exception:
            logger.warning("closing the NATS connection failed", exc_info=True)

    async def _connect(self) -> JetStreamContext:
        if self._js is not None:
            return self._js
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                client = await nats.connect(
                    servers=self._servers,
                    name="kraliki",
                    max_reconnect_attempts=-1,
                    connect_timeout=2,
                    reconnect_time_wait=1,
                    error_cb=_error,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                )
        except Exception as exc:
            # The URL may hold credentials: say what failed, never where.
            raise RuntimeError(
                f"cannot connect to NATS (KRALIKI_NATS_URL): {type(exc).__name__}"
            ) from None
        js = client.jetstream(timeout=PUBLISH_SECONDS)
        await self._ensure_stream(js)
        self._client, self._js = client, js
        return js

    async def _disconnected(self) -> None:
        if self._client is not None:  # not our own close
            logger.warning(
                "lost the NATS connection; reconnecting (real-time hubs sweep the outbox "
                "meanwhile, the relay retries)"
            )

    async def _reconnected(self) -> None:
        logger.warning("NATS connection restored")

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(self.stream)
            return
        except nats.js.errors.NotFoundError:
            pass
        config = StreamConfig(
            name=self.stream,
            description="Kraliki Voice: dispatched domain events, relayed from the outbox",
            subjects=[f"{self.prefix}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=STREAM_MAX_AGE_SECONDS,
            max_bytes=STREAM_MAX_BYTES,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.stream_info(self.stream)  # another worker created it first

    # -- relaying --------------------------------------------------------------------

    async def publish(self, events: Sequence[DeliveredEvent]) -> int:
        """Publish in order (pipelined), then wait for the acknowledgements; how many, from
        the first, JetStream acknowledged."""
        js = self._js
        if js is None:
            return 0
        futures: list[asyncio.Future[Any]] = []
        acknowledged = duplicates = 0
        try:
            async with asyncio.timeout(PUBLISH_SECONDS):
                for event in events:
                    futures.append(
                        await js.publish_async(
                            subject(self.prefix, event),
                            encode(event),
                            stream=self.stream,
                            headers={
                                "Nats-Msg-Id": str(event.id),
                                POSITION_HEADER: str(event.position),
                            },
                        )
                    )
                for future in futures:
                    ack = await future
                    acknowledged += 1
                    duplicates += bool(ack.duplicate)
        except (TimeoutError, nats.errors.Error) as exc:
            logger.warning(
                "JetStream acknowledged %d of %d events (%s); the rest is relayed again",
                acknowledged,
                len(events),
                type(exc).__name__,
            )
        finally:
            for future in futures:
                future.cancel()
        self.metrics.events_relayed.labels("published").inc(acknowledged - duplicates)
        self.metrics.events_relayed.labels("duplicate").inc(duplicates)
        return acknowledged

    # -- receiving -------------------------------------------------------------------

    async def _receive(self, message: Msg) -> None:
        tenant_token = message.subject[len(self.prefix) + 1 :].split(".", 1)[0]
        try:
            tenant_id = uuid.UUID(tenant_token)
            position = int((message.headers or {}).get(POSITION_HEADER, 0))
            if position and position <= self._handed.get(tenant_id, 0):
                return  # this process dispatched it: its hub and hooks have it already
            event = decode(message.data)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed message on %s", message.subject)
            return
        if event.tenant_id != tenant_id:  # never hand an event to another tenant's stream
            logger.error("event %s came on another tenant's subject; dropped", event.id)
            return
        self._arrived.setdefault(tenant_id, []).append(event)
        if not self._flush_scheduled:
            # Messages already waiting are taken first: the hub gets them as one batch.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        arrived, self._arrived = self._arrived, {}
        self._flush_scheduled = False
        for tenant_id, events in arrived.items():
            self.bus.dispatched_here(tenant_id, events)


async def _error(exc: Exception) -> None:
    logger.warning("NATS connection error: %s", type(exc).__name__)
