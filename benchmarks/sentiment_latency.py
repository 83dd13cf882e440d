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
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import transcripts
import websockets
from harness import Backend, machine
from transcripts import TRANSCRIBED, consume, paced, seed_calls, serving, subscribed

from kernel import Platform
from plugins.calls import Call

JWT_SECRET = "sentiment-benchmark-signing-key-0123456789abcdef"
PASSWORD = "sentiment benchmark password"
GOAL_P99_MS = 100.0
UPDATED = "sentiment.call.updated"
LINES = (
    ("callee", "Thank you so much, that is wonderful, great service!"),
    ("caller", "I am glad I could help you today."),
    ("callee", "This is terrible, I am furious, the worst experience ever."),
    ("caller", "I am sorry to hear that, let me fix it right away."),
)


@dataclass
class Stamps(transcripts.Stamps):
    order: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    """Call id -> its segments in commit order."""
    scored: dict[uuid.UUID, list[tuple[int, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """Call id -> (segments counted, arrival) of each sentiment.call.updated."""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self, kind: str, data: dict[str, Any], now: float) -> None:
        if kind == UPDATED:
            self.scored[uuid.UUID(data["call_id"])].append((data["segments"], now))
            if self.counted() >= self.expected:
                self.done.set()

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


async def accept(
    platform: Platform, tenant_id: uuid.UUID, call: Call, seq: int, stamps: Stamps
) -> None:
    """The ``seq``-th segment: happy and angry sentences in turn, customer and agent."""
    speaker, text = LINES[seq % len(LINES)]
    segment = await transcripts.accept(
        platform,
        tenant_id,
        call,
        stamps,
        speaker=speaker,
        text=text,
        confidence=0.98,
        start_seconds=float(seq),
    )
    stamps.order[call.id].append(segment)


async def segments(
    platform: Platform,
    tenant_id: uuid.UUID,
    connection: websockets.ClientConnection,
    calls: list[Call],
    rate: int,
    total: int,
    drain: float,
) -> tuple[Stamps, float]:
    """``total`` segments at ``rate`` over ``calls`` in turn, then until every one counted
    in a sentiment (at most ``drain`` s): their stamps and the rate reached."""
    stamps = Stamps(expected=total)
    reader = asyncio.create_task(consume(connection, stamps))
    reached = await paced(
        rate, total, lambda s: accept(platform, tenant_id, calls[s % len(calls)], s, stamps)
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stamps.done.wait(), drain)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    return stamps, reached


def figures(label: str, values: list[float]) -> dict[str, float]:
    return transcripts.figures(label, values, width=44)


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
        plugin_list: list[object] = [
            plugins.calls.plugin,
            plugins.ai.plugin,
            plugins.sentiment.plugin,
        ]
        async with serving(
            backend,
            plugin_list,
            jwt_secret=JWT_SECRET,
            password=PASSWORD,
            realtime_buffer_events=max(1000, total * 4),
        ) as live:
            platform, tenant_id, version = live.platform, live.tenant_id, live.version
            calls = await seed_calls(platform, tenant_id, args.calls, direction="outbound")
            async with subscribed(live.base, live.token, [TRANSCRIBED, UPDATED]) as connection:
                if args.warmup > 0:  # connections, caches, VADER's lexicon
                    warm_total = int(args.rate * args.warmup)
                    await segments(
                        platform, tenant_id, connection, calls, args.rate, warm_total, args.drain
                    )
                # The measured run: fresh calls, so counts start at zero.
                calls = await seed_calls(platform, tenant_id, args.calls, direction="outbound")
                stamps, reached = await segments(
                    platform, tenant_id, connection, calls, args.rate, total, args.drain
                )
    finally:
        await backend.drop()

    print(f"sentiment latency: {machine(version)}")
    print(
        f"  {args.rate} segments/s for {args.seconds:g} s (reached {reached:.0f}/s) over "
        f"{args.calls} calls; offline model (VADER through the AI gateway)"
    )
    bus = stamps.bus_latencies()
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
