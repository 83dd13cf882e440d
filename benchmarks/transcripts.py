"""What the live-transcript benchmarks share (``sentiment_latency.py``,
``suggestion_latency.py``): live calls seeded, transcript segments accepted as the calls
plugin accepts a provider's (one transaction storing the segment and publishing
``calls.call.transcribed``, the commit stamped), sent at a steady rate, a WebSocket client on
``/api/v1/realtime`` stamping each arrival, and the latency figures.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from events import served
from harness import (
    Backend,
    add_users,
    bench_settings,
    create_tenant,
    database_version,
    login,
    migrate,
    percentile,
)
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.typing import Subprotocol

from kernel import Platform, create_app, tenant_scope, utcnow
from plugins.calls import Call, TranscriptSegmentRow
from plugins.calls.events import CallTranscribed

TRANSCRIBED = "calls.call.transcribed"
IN_FLIGHT = 10
"""Segments being accepted at once, at most."""


ADMIN = "admin@bench.example.com"


@dataclass
class Served:
    """The platform served in this process: one organization and its admin logged in."""

    platform: Platform
    tenant_id: uuid.UUID
    base: str
    """The server's base URL."""
    token: str
    """The admin's."""
    version: str
    """The database's."""


@asynccontextmanager
async def serving(
    backend: Backend,
    plugins: list[object],
    *,
    jwt_secret: str,
    password: str,
    realtime_buffer_events: int,
    configure: Callable[[httpx.AsyncClient, str], Awaitable[None]] | None = None,
) -> AsyncIterator[Served]:
    """The platform with ``plugins`` migrated on ``backend``, started with its workers and
    served by uvicorn on 127.0.0.1; an organization with its admin (``ADMIN``), logged in,
    then ``configure(client, token)`` when given."""
    settings, _ = bench_settings(
        backend, jwt_secret=jwt_secret, realtime_buffer_events=realtime_buffer_events
    )
    await migrate(settings, plugins)
    version = await database_version(settings)
    app = create_app(settings, plugins=plugins)
    platform = app.state.platform
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        tenant_id = await create_tenant(platform.database)
        await add_users(platform.database, tenant_id, password, {ADMIN: ("admin",)})
        base = await stack.enter_async_context(served(app))
        async with httpx.AsyncClient(base_url=base) as client:
            token = await login(client, ADMIN, password)
            if configure is not None:
                await configure(client, token)
        yield Served(platform, tenant_id, base, token, version)


@dataclass
class Stamps:
    """A run's clock reads; each benchmark adds what its own events tell."""

    committed: dict[uuid.UUID, float] = field(default_factory=dict)
    """Segment id -> commit time."""
    on_stream: dict[uuid.UUID, float] = field(default_factory=dict)
    """Segment id -> its calls.call.transcribed on the stream."""
    expected: int = 0

    def arrived(self, kind: str, data: dict[str, Any], now: float) -> None:
        """An event other than ``calls.call.transcribed`` arrived on the stream at ``now``."""

    def bus_latencies(self) -> list[float]:
        """Commit -> ``calls.call.transcribed`` on the stream (ms), the run's segments."""
        return [
            (at - self.committed[segment]) * 1000
            for segment, at in self.on_stream.items()
            if segment in self.committed
        ]


async def consume(connection: websockets.ClientConnection, stamps: Stamps) -> None:
    async for raw in connection:
        now = time.perf_counter()
        message = json.loads(raw)
        event = message.get("event")
        if not isinstance(event, dict):
            continue
        data = event.get("data", {})
        if event.get("type") == TRANSCRIBED:
            stamps.on_stream.setdefault(uuid.UUID(data["segment_id"]), now)
        else:
            stamps.arrived(str(event.get("type")), data, now)


@asynccontextmanager
async def subscribed(
    base: str, token: str, patterns: Sequence[str]
) -> AsyncIterator[websockets.ClientConnection]:
    """A client of ``/api/v1/realtime`` subscribed to ``patterns``, past its ``ready``."""
    ws_url = base.replace("http", "ws") + "/api/v1/realtime"
    protocols = [Subprotocol("kraliki.v1"), Subprotocol(f"bearer.{token}")]
    async with websockets.connect(ws_url, subprotocols=protocols, ping_interval=None) as connection:
        await connection.send(json.dumps({"type": "subscribe", "patterns": list(patterns)}))
        while json.loads(await connection.recv())["type"] != "ready":
            pass
        yield connection


async def seed_calls(
    platform: Platform,
    tenant_id: uuid.UUID,
    count: int,
    *,
    direction: str,
    with_calls: Callable[[AsyncSession, list[Call]], None] | None = None,
) -> list[Call]:
    """``count`` answered calls in progress, numbered; ``with_calls`` adds rows that need
    their ids (flushed first) in the same transaction."""
    calls = []
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for n in range(count):
                ours, theirs = "+14155550100", f"+1415555{n:04d}"
                outbound = direction == "outbound"
                call = Call(
                    direction=direction,
                    from_number=ours if outbound else theirs,
                    to_number=theirs if outbound else ours,
                    provider="loopback",
                    status="in-progress",
                    answered_at=utcnow(),
                )
                session.add(call)
                calls.append(call)
            if with_calls is not None:
                await session.flush()
                with_calls(session, calls)
            await session.commit()
    return calls


async def accept(
    platform: Platform,
    tenant_id: uuid.UUID,
    call: Call,
    stamps: Stamps,
    *,
    speaker: str,
    text: str,
    confidence: float,
    start_seconds: float,
) -> uuid.UUID:
    """One segment (two seconds long) as the calls plugin accepts it: stored and published
    in one transaction, the commit stamped; its id."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            row = TranscriptSegmentRow(
                call_id=call.id,
                speaker=speaker,
                text=text,
                confidence=confidence,
                start_seconds=start_seconds,
                end_seconds=start_seconds + 2.0,
                final=True,
            )
            session.add(row)
            await session.flush()
            await platform.events.publish(
                session,
                CallTranscribed(
                    call_id=call.id,
                    status=call.status,
                    direction=call.direction,
                    from_number=call.from_number,
                    to_number=call.to_number,
                    provider=call.provider,
                    segment_id=row.id,
                    speaker=speaker,
                    text=text,
                    confidence=confidence,
                    start_seconds=row.start_seconds,
                    end_seconds=row.end_seconds,
                ),
            )
            await session.commit()
            stamps.committed[row.id] = time.perf_counter()
            return row.id


async def paced(rate: float, total: int, one: Callable[[int], Awaitable[None]]) -> float:
    """``one(0)`` .. ``one(total - 1)`` started at ``rate`` per second (at most
    ``IN_FLIGHT`` at once); the rate reached."""
    slots = asyncio.Semaphore(IN_FLIGHT)
    start = time.perf_counter()
    tasks = []

    async def run(seq: int) -> None:
        try:
            await one(seq)
        finally:
            slots.release()

    for seq in range(total):
        delay = start + seq / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        tasks.append(asyncio.create_task(run(seq)))
    await asyncio.gather(*tasks)
    return total / (time.perf_counter() - start)


def figures(label: str, values: list[float], *, width: int) -> dict[str, float]:
    """Print p50/p95/p99/max of ``values`` (ms) after ``label`` padded to ``width``."""
    ordered = sorted(values)
    result = {
        "p50": percentile(ordered, 0.50),
        "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
    }
    print(
        f"  {label:{width}} n={len(values):6}  p50 {result['p50']:7.1f} ms  p95 "
        f"{result['p95']:7.1f} ms  p99 {result['p99']:7.1f} ms  max {result['max']:7.1f} ms"
    )
    return result
