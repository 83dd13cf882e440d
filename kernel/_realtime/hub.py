"""Fan-out: each worker's hub reads a tenant's newly dispatched events once and hands them to
that tenant's subscribers on this worker.

A dispatch anywhere (``EventBus.on_dispatched``: in process on SQLite, PostgreSQL NOTIFY
across workers) wakes the hub for that tenant; one task per tenant then reads the events
after its subscribers' lowest cursor, in pages, and offers each to every subscriber whose
patterns match and whose roles hold the event's read permission. Offering never waits: a
subscriber whose buffer is full is closed as too slow, so one stalled client never holds up
the others. Events that arrive with their bodies (this worker's own dispatch, or any
worker's through the NATS transport: ``EventBus.on_dispatched_here``) are fanned out without
a read. A periodic sweep covers wake-ups lost while the listener (or NATS) reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from kernel._events.types import DeliveredEvent, Event, matches
from kernel._principal import Principal
from kernel._realtime import protocol
from kernel._realtime.protocol import Delivery, Outgoing
from kernel._registry import UniqueRegistry
from kernel._tenancy import tenant_scope

if TYPE_CHECKING:
    from kernel._platform import Platform

logger = logging.getLogger("kraliki.realtime")

PAGE = 500
"""Events read from the database at a time."""
STOP_GRACE_SECONDS = 5.0
"""How long ``stop`` waits for connections to send their close frames."""

NORMAL_CLOSURE = 1000

Transport = Literal["websocket", "sse"]
Item = Outgoing | Delivery
Verdict = bool | type[Event]
"""Whether a subscriber wants events of a name: yes, no, or those the type addresses to it."""
_CLOSED = Outgoing("closed", {})  # wakes a sender waiting on an emptied queue


class Subscriber:
    """One real-time connection: who it is, what it wants, what waits to be sent."""

    def __init__(
        self,
        *,
        principal: Principal,
        token: str,
        transport: Transport,
        buffer: int,
        catalog: UniqueRegistry[type[Event]],
    ) -> None:
        assert principal.tenant_id is not None
        self.tenant_id: uuid.UUID = principal.tenant_id
        self.principal = principal
        self.token = token
        self.transport: Transport = transport
        self.catalog = catalog
        self.patterns: tuple[str, ...] = ()
        self.cursor = 0
        """Last position this subscriber has been offered (or skipped)."""
        self.subscribed = False
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=buffer)
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self._verdicts: dict[str, Verdict] = {}

    def wants(self, event: DeliveredEvent) -> bool:
        """Whether the event is this subscriber's: same tenant, a matching pattern, its read
        permission held, its plugin enabled (decided once per event name), and for an event
        type with an audience, addressed to this user unless they see all of them."""
        if event.tenant_id != self.tenant_id:
            return False
        verdict = self._verdicts.get(event.name)
        if verdict is None:
            verdict = self._verdict(event.name)
            self._verdicts[event.name] = verdict
        if verdict is True or verdict is False:
            return verdict
        return verdict.addressed_to(self.principal, event.payload)

    def _verdict(self, name: str) -> Verdict:
        if not matches(self.patterns, name) or name not in self.catalog:
            return False  # not wanted; or its plugin is no longer loaded: nobody can say
        if self.catalog.owner(name) in self.principal.disabled_plugins:
            return False
        event_type = self.catalog.get(name)
        if not event_type.readable_by(self.principal):
            return False
        return True if event_type.sees_all(self.principal) else event_type

    def use(
        self, *, patterns: tuple[str, ...] | None = None, principal: Principal | None = None
    ) -> None:
        """Take new patterns or a re-checked principal; verdicts are made again."""
        if patterns is not None:
            self.patterns = patterns
        if principal is not None:
            self.principal = principal
        self._verdicts.clear()

    def offer(self, item: Item) -> bool:
        """Queue without waiting; False when the buffer is full."""
        if self.close_code is not None:
            return True
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    def discard_pending(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    def close(self, code: int, reason: str) -> None:
        """Ask the connection to close with ``code`` (its transport does it); idempotent."""
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        self.discard_pending()
        self.queue.put_nowait(_CLOSED)
        self.closed.set()

    async def outgoing(
        self, interval: float, tick: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[Item]:
        """What to send, in order, until closed; every ``interval`` seconds ``tick`` runs (it
        re-checks the credential) and then a heartbeat is sent."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + interval
        while self.close_code is None:
            now = loop.time()
            if now >= next_tick:
                await tick()
                next_tick = loop.time() + interval
                if self.close_code is None:
                    yield protocol.HEARTBEAT
                continue
            try:
                item = self.queue.get_nowait()  # no suspension while there is work
            except asyncio.QueueEmpty:
                try:
                    async with asyncio.timeout(next_tick - now):
                        item = await self.queue.get()
                except TimeoutError:
                    continue
            if item is _CLOSED:
                return
            yield item


class _TenantStream:
    """A tenant's subscribers on this worker and the task that feeds them."""

    def __init__(self, tenant_id: uuid.UUID) -> None:
        self.tenant_id = tenant_id
        self.subscribers: set[Subscriber] = set()
        self.lock = asyncio.Lock()  # a subscription's replay and the fan-out never interleave
        self.joining = 0
        self.dirty = False
        self.task: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        return not self.subscribers and not self.joining and (self.task is None or self.task.done())


class Hub:
    """``platform.realtime``: this worker's real-time connections and their fan-out."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.auth_timeout = 10.0
        """Seconds a WebSocket client has to authenticate after connecting."""
        self.stopping = False
        self._streams: dict[uuid.UUID, _TenantStream] = {}
        self._connections: set[Subscriber] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sweeper: asyncio.Task[None] | None = None
        self._handing: set[asyncio.Task[None]] = set()

    @property
    def heartbeat_seconds(self) -> float:
        return self.settings.realtime_heartbeat_seconds

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self.stopping = False
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="kraliki-realtime-sweep")

    async def stop(self) -> None:
        """Close every connection with 1001 and stop feeding them (app shutdown, before the
        database goes away)."""
        self.stopping = True
        tasks = [t for t in (self._sweeper, *(s.task for s in self._streams.values())) if t]
        tasks += self._handing
        self._sweeper = None
        for task in tasks:
            task.cancel()
        for subscriber in list(self._connections):
            subscriber.close(protocol.GOING_AWAY, "server shutting down")
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), STOP_GRACE_SECONDS)
        self._streams.clear()

    # -- connections ----------------------------------------------------------------

    def connect(self, principal: Principal, token: str, transport: Transport) -> Subscriber:
        subscriber = Subscriber(
            principal=principal,
            token=token,
            transport=transport,
            buffer=self.settings.realtime_buffer_events,
            catalog=self.platform.events.catalog,
        )
        self._connections.add(subscriber)
        self._idle.clear()
        self.platform.metrics.realtime_connections.labels(transport).inc()
        if self.stopping:  # it authenticated while the server began to stop
            subscriber.close(protocol.GOING_AWAY, "server shutting down")
        return subscriber

    def disconnect(self, subscriber: Subscriber) -> None:
        if subscriber not in self._connections:
            return
        subscriber.close(NORMAL_CLOSURE, "disconnected")  # a fan-out under way skips it
        self._connections.discard(subscriber)
        stream = self._streams.get(subscriber.tenant_id)
        if stream is not None:
            stream.subscribers.discard(subscriber)
        self.platform.metrics.realtime_connections.labels(subscriber.transport).dec()
        if not self._connections:
            self._idle.set()

    async def subscribe(
        self, subscriber: Subscriber, patterns: tuple[str, ...], last_event_id: str | None
    ) -> None:
        """Start (or change) a subscription: with ``last_event_id``, first the events missed
        since that one (or a ``reset`` when they cannot be replayed), then live events."""
        if self.stopping or subscriber.close_code is not None:
            return
        stream = self._streams.get(subscriber.tenant_id)
        if stream is None:
            stream = self._streams[subscriber.tenant_id] = _TenantStream(subscriber.tenant_id)
        stream.joining += 1  # the sweep never drops a stream someone is joining
        try:
            async with stream.lock:
                await self._join(stream, subscriber, patterns, last_event_id)
        finally:
            stream.joining -= 1

    async def _join(
        self,
        stream: _TenantStream,
        subscriber: Subscriber,
        patterns: tuple[str, ...],
        last_event_id: str | None,
    ) -> None:
        head, replay, missed = await self._catch_up(subscriber.tenant_id, last_event_id)
        if subscriber.close_code is not None or subscriber not in self._connections:
            return
        subscriber.use(patterns=patterns)
        if last_event_id is not None:
            subscriber.discard_pending()  # the replay covers whatever was queued
        if last_event_id is not None or not subscriber.subscribed:
            subscriber.cursor = head
        subscriber.subscribed = True
        wanted = [Delivery(event) for event in replay if subscriber.wants(event)]
        items: list[Item] = [protocol.ready(patterns, subscriber.cursor, len(wanted))]
        if missed is not None:
            items.insert(0, protocol.reset(missed, subscriber.cursor))
        for item in [*items, *wanted]:
            if not subscriber.offer(item):
                self._drop(stream, subscriber)
                return
        stream.subscribers.add(subscriber)

    async def _catch_up(
        self, tenant_id: uuid.UUID, last_event_id: str | None
    ) -> tuple[int, list[DeliveredEvent], Literal["unknown-event", "too-far-behind"] | None]:
        """(head, events to replay, why they cannot be) for a subscription."""
        bus = self.platform.events
        with tenant_scope(tenant_id):
            async with self.platform.database.session() as session:
                head = await bus.head(session)
                if last_event_id is None:
                    return head, [], None
                try:
                    position = await bus.position_of(session, uuid.UUID(last_event_id))
                except ValueError:
                    position = None
                if position is None:
                    return head, [], "unknown-event"
                if head - position >= self.settings.realtime_buffer_events:  # room for ready
                    return head, [], "too-far-behind"
                replay: list[DeliveredEvent] = []
                while position < head:
                    page = await bus.read(session, after=position, limit=min(PAGE, head - position))
                    if not page:
                        break
                    replay.extend(page)
                    position = page[-1].position
                return head, replay, None

    # -- fan-out --------------------------------------------------------------------

    def tenant_advanced(self, tenant_id: uuid.UUID) -> None:
        """A tenant's events were dispatched (``EventBus.on_dispatched`` callback)."""
        stream = self._streams.get(tenant_id)
        if stream is None or not stream.subscribers or self.stopping:
            return
        stream.dirty = True
        if stream.task is None or stream.task.done():
            stream.task = asyncio.create_task(
                self._pump(stream), name=f"kraliki-realtime-{tenant_id}"
            )

    def dispatched_here(self, tenant_id: uuid.UUID, events: list[DeliveredEvent]) -> None:
        """``events`` are at hand (``EventBus.on_dispatched_here``: this worker dispatched
        them, or the NATS transport brought them): stream them without reading them back,
        unless a subscriber is behind them or they skip a position (then the pump reads the
        outbox); positions the subscribers have passed (a re-relayed event) are skipped."""
        stream = self._streams.get(tenant_id)
        if stream is None or not stream.subscribers or self.stopping or not events:
            return
        task = asyncio.create_task(self._hand(stream, events), name=f"kraliki-realtime-{tenant_id}")
        self._handing.add(task)
        task.add_done_callback(self._handing.discard)

    async def _hand(self, stream: _TenantStream, events: list[DeliveredEvent]) -> None:
        try:
            async with stream.lock:  # FIFO: hand-offs keep their order
                if not stream.subscribers:
                    return
                behind = min(s.cursor for s in stream.subscribers)
                if behind + 1 < events[0].position or not _consecutive(events):
                    self.tenant_advanced(stream.tenant_id)  # a gap: read it in order
                    return
                await self._fan_out(stream, events)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("real-time hand-off for tenant %s failed", stream.tenant_id)
            self.tenant_advanced(stream.tenant_id)

    async def _pump(self, stream: _TenantStream) -> None:
        try:
            while stream.dirty and stream.subscribers:
                stream.dirty = False
                while True:
                    async with stream.lock:
                        if not stream.subscribers:
                            return
                        after = min(s.cursor for s in stream.subscribers)
                        with tenant_scope(stream.tenant_id):
                            async with self.platform.database.session() as session:
                                events = await self.platform.events.read(
                                    session, after=after, limit=PAGE
                                )
                        await self._fan_out(stream, events)
                    if len(events) < PAGE:
                        break
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("real-time fan-out for tenant %s failed; retrying", stream.tenant_id)
            stream.dirty = True  # the sweep tries again

    async def _fan_out(self, stream: _TenantStream, events: list[DeliveredEvent]) -> None:
        subscribers = list(stream.subscribers)
        for event in events:
            if event.tenant_id != stream.tenant_id:  # cannot happen (RLS, ORM); never leak
                logger.error("event %s in tenant %s's stream", event.id, stream.tenant_id)
                continue
            delivery = Delivery(event)
            crowded = False
            for subscriber in subscribers:
                if subscriber.cursor >= event.position:
                    continue
                subscriber.cursor = event.position
                if subscriber.close_code is not None or not subscriber.wants(event):
                    continue
                if not subscriber.offer(delivery):
                    self._drop(stream, subscriber)
                elif subscriber.queue.qsize() * 2 >= subscriber.queue.maxsize:
                    crowded = True
            if crowded:
                # Let senders catch up: a client that keeps up is never dropped for a burst.
                await asyncio.sleep(0)

    def _drop(self, stream: _TenantStream, subscriber: Subscriber) -> None:
        stream.subscribers.discard(subscriber)
        subscriber.close(
            protocol.TOO_SLOW,
            f"too slow: more than {subscriber.queue.maxsize} messages waiting; "
            "reconnect with last_event_id",
        )
        self.platform.metrics.realtime_dropped.labels(subscriber.transport).inc()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            for tenant_id, stream in list(self._streams.items()):
                if stream.subscribers:
                    self.tenant_advanced(tenant_id)
                elif stream.idle:
                    del self._streams[tenant_id]

    # -- credentials ----------------------------------------------------------------

    async def recheck(self, subscriber: Subscriber) -> None:
        """Check the connection's credential again; close it if it no longer holds."""
        from kernel._realtime.access import Refused, recheck

        try:
            principal = await recheck(self.platform, subscriber.principal, subscriber.token)
        except Refused as refused:
            subscriber.close(refused.code, refused.message)
        except Exception:
            logger.warning("could not re-check a real-time credential; kept", exc_info=True)
        else:
            subscriber.use(principal=principal)


def _consecutive(events: list[DeliveredEvent]) -> bool:
    return all(b.position == a.position + 1 for a, b in pairwise(events))
