"""Live sentiment latency: from a transcript segment accepted (the ``calls.call.transcribed``
event's transaction committed) to its call's ``sentiment.call.updated`` on the real-time
stream, against the event bus's own latency for the segment's event in the same run.

The platform (calls, ai, sentiment; background workers on) is served by uvicorn on
127.0.0.1 in this process, one organization with ``--calls`` live calls. Segments are
accepted as the calls plugin accepts a provider's transcript: one transaction that stores the
segment (``calls_transcript_segments``) and publishes ``calls.call.transcribed``, at
``--rate`` segments/s for ``--seconds``, spread over the calls in turn, alternating happy and
angry sentences (customer and agent). Each commit is stamped. A WebSocket client subscribed
over ``/api/v1/realtime`` to both event names stamps each arrival:

* baseline: commit -> ``calls.call.transcribed`` on the stream (the bus: outbox, dispatch,
  real-time fan-out);
* sentiment: commit -> the first ``sentiment.call.updated`` of the call counting the segment
  (the bus, then the sentiment plugin's batch consumer behind it: scoring through the AI
  gateway with the offline model, VADER, writing, publishing, and the bus again).

Reported: p50/p95/p99/max of both, the ratio, and the goal (sentiment p99 < 100 ms: PASS or
FAIL). Exit 1 when a segment never got its sentiment (a bug), not for the goal.

PostgreSQL with ``KRALIKI_BENCH_DATABASE_URL`` and ``KRALIKI_BENCH_MIGRATION_DATABASE_URL``
(a throwaway schema), else a SQLite file.

    .venv/bin/python benchmarks/sentiment_latency.py [--rate 200] [--seconds 10] [--calls 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

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
    machine,
    migrate,
    percentile,
)

from kernel import create_app, tenant_scope, utcnow
from plugins.calls import Call, TranscriptSegmentRow
from plugins.calls.events import CallTranscribed

JWT_SECRET = "sentiment-benchmark-signing-key-0123456789abcdef"
PASSWORD = "sentiment benchmark password"
ADMIN = "admin@bench.example.com"
GOAL_P99_MS = 100.0
IN_FLIGHT = 10
LINES = (
    ("callee", "Thank you so much, that is wonderful, great service!"),
    ("caller", "I am glad I could help you today."),
    ("callee", "This is terrible, I am furious, the worst experience ever."),
    ("caller", "I am sorry to hear that, let me fix it right away."),
)


@dataclass
class Stamps:
    committed: dict[uuid.UUID, float] = field(default_factory=dict)
    """Segment id -> commit time."""
    order: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    """Call id -> its segments in commit order."""
    on_stream: dict[uuid.UUID, float] = field(default_factory=dict)
    """Segment id -> its calls.call.transcribed on the stream."""
    scored: dict[uuid.UUID, list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """Call id -> (segments counted, arrival) of each sentiment.call.updated."""
    expected: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def sentiment_latencies(self) -> tuple[list[float], int]:
        latencies, missing = [], 0
        for call_id, segments in self.order.items():
            updates = sorted(self.scored.get(call_id, []), key=lambda u: u[1])
            for k, segment_id in enumerate(segments, start=1):
                arrival = next((at for counted, at in updates if counted >= k), None)
                if arrival is None:
                    missing += 1
                else:
                    latencies.append((arrival - self.committed[segment_id]) * 1000)
        return latencies, missing

    def counted(self) -> int:
        return sum(max((c for c, _ in u), default=0) for u in self.scored.values())


async def consume(connection: websockets.ClientConnection, stamps: Stamps) -> None:
    async for raw in connection:
        now = time.perf_counter()
        message = json.loads(raw)
        event = message.get("event")
        if not isinstance(event, dict):
            continue
        data = event.get("data", {})
        if event.get("type") == "calls.call.transcribed":
            stamps.on_stream.setdefault(uuid.UUID(data["segment_id"]), now)
        elif event.get("type") == "sentiment.call.updated":
            stamps.scored[uuid.UUID(data["call_id"])].append((data["segments"], now))
            if stamps.counted() >= stamps.expected:
                stamps.done.set()


async def seed_calls(platform, tenant_id: uuid.UUID, count: int) -> list[Call]:  # type: ignore[no-untyped-def]
    calls = []
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for n in range(count):
                call = Call(
                    direction="outbound",
                    from_number="+14155550100",
                    to_number=f"+1415555{n:04d}",
                    provider="loopback",
                    status="in-progress",
                    answered_at=utcnow(),
                )
                session.add(call)
                calls.append(call)
            await session.commit()
    return calls


async def accept(platform, tenant_id: uuid.UUID, call: Call, seq: int, stamps: Stamps) -> None:  # type: ignore[no-untyped-def]
    """One segment as the calls plugin accepts it: stored and published in one transaction."""
    speaker, text = LINES[seq % len(LINES)]
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            row = TranscriptSegmentRow(
                call_id=call.id,
                speaker=speaker,
                text=text,
                confidence=0.98,
                start_seconds=float(seq),
                end_seconds=float(seq) + 2.0,
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
                    confidence=0.98,
                    start_seconds=row.start_seconds,
                    end_seconds=row.end_seconds,
                ),
            )
            await session.commit()
            stamps.committed[row.id] = time.perf_counter()
            stamps.order[call.id].append(row.id)


async def paced(rate: int, seconds: float, one) -> float:  # type: ignore[no-untyped-def]
    total = int(rate * seconds)
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


def figures(label: str, values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    result = {
        "p50": percentile(ordered, 0.50),
        "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
    }
    print(
        f"  {label:44} n={len(values):6}  p50 {result['p50']:7.1f} ms  p95 {result['p95']:7.1f}"
        f" ms  p99 {result['p99']:7.1f} ms  max {result['max']:7.1f} ms"
    )
    return result


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=200, help="segments per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--calls", type=int, default=50, help="live calls the segments share")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds at the rate first")
    parser.add_argument("--drain", type=float, default=30.0)
    args = parser.parse_args()
    import plugins.ai.plugin
    import plugins.calls.plugin
    import plugins.sentiment.plugin

    backend = Backend.from_environment()
    await backend.create()
    total = int(args.rate * args.seconds)
    try:
        settings, _ = bench_settings(
            backend, jwt_secret=JWT_SECRET, realtime_buffer_events=max(1000, total * 4)
        )
        plugin_list: list[object] = [
            plugins.calls.plugin,
            plugins.ai.plugin,
            plugins.sentiment.plugin,
        ]
        await migrate(settings, plugin_list)
        version = await database_version(settings)
        app = create_app(settings, plugins=plugin_list)
        platform = app.state.platform
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            tenant_id = await create_tenant(platform.database)
            await add_users(platform.database, tenant_id, PASSWORD, {ADMIN: ("admin",)})
            base = await stack.enter_async_context(served(app))
            async with httpx.AsyncClient(base_url=base) as client:
                token = await login(client, ADMIN, PASSWORD)
            calls = await seed_calls(platform, tenant_id, args.calls)
            ws_url = base.replace("http", "ws") + "/api/v1/realtime"
            async with websockets.connect(
                ws_url, subprotocols=["kraliki.v1", f"bearer.{token}"], ping_interval=None
            ) as connection:  # type: ignore[list-item]
                patterns = ["calls.call.transcribed", "sentiment.call.updated"]
                await connection.send(json.dumps({"type": "subscribe", "patterns": patterns}))
                while json.loads(await connection.recv())["type"] != "ready":
                    pass
                if args.warmup > 0:  # connections, caches, VADER's lexicon
                    warm = Stamps(expected=int(args.rate * args.warmup))
                    reader = asyncio.create_task(consume(connection, warm))
                    await paced(
                        args.rate,
                        args.warmup,
                        lambda s: accept(platform, tenant_id, calls[s % len(calls)], s, warm),
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(warm.done.wait(), args.drain)
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
                # The measured run: fresh calls, so counts start at zero.
                calls = await seed_calls(platform, tenant_id, args.calls)
                stamps = Stamps(expected=total)
                reader = asyncio.create_task(consume(connection, stamps))
                reached = await paced(
                    args.rate,
                    args.seconds,
                    lambda s: accept(platform, tenant_id, calls[s % len(calls)], s, stamps),
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stamps.done.wait(), args.drain)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    finally:
        await backend.drop()

    print(f"sentiment latency: {machine(version)}")
    print(
        f"  {args.rate} segments/s for {args.seconds:g} s (reached {reached:.0f}/s) over "
        f"{args.calls} calls; offline model (VADER through the AI gateway)"
    )
    bus = [
        (at - stamps.committed[segment]) * 1000
        for segment, at in stamps.on_stream.items()
        if segment in stamps.committed
    ]
    sentiment, missing = stamps.sentiment_latencies()
    if not bus or not sentiment:
        print("  nothing arrived")
        return 1
    baseline = figures("baseline: commit -> transcribed on stream", bus)
    ours = figures("sentiment: commit -> sentiment.call.updated", sentiment)
    print(
        f"  sentiment / baseline: p50 x{ours['p50'] / baseline['p50']:.2f}, "
        f"p99 x{ours['p99'] / baseline['p99']:.2f}; what sentiment adds at p50: "
        f"{ours['p50'] - baseline['p50']:.1f} ms"
    )
    updates = sum(len(u) for u in stamps.scored.values())
    print(f"  sentiment.call.updated events: {updates} for {len(sentiment)} segments")
    verdict = "PASS" if ours["p99"] < GOAL_P99_MS else "FAIL"
    print(f"  goal: sentiment p99 < {GOAL_P99_MS:g} ms: {verdict}")
    if missing:
        print(f"  {missing} segments never got their sentiment")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
