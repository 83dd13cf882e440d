"""Per-request cost of the rate limit shared through Redis against the in-process one.

Every authenticated request asks the tenant's limiter (and an API key's) for a slot. Without
``KRALIKI_REDIS_URL`` that is a dictionary update in the worker; with it, one EVALSHA round
trip to Redis running the same algorithm (ADR 0032). Targets, each ``--calls`` decisions on
``--keys`` tenants, one after the other and then ``--concurrency`` at a time on one event loop:

* baseline: the in-process limiter (``RateLimiter.acquire``, what a worker does without Redis);
* embedded default: the same through ``SharedRateLimiter`` without a store (the async path
  the request takes when Redis is not configured);
* Redis PING: the floor of any Redis round trip from this process;
* shared limiter: ``SharedRateLimiter`` on Redis (one script call per decision);
* shared attempt throttle: ``AsyncAttemptThrottle.attempt`` on Redis (logins, sign-ups).

Redis from ``KRALIKI_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/1``); keys under a
throwaway prefix, deleted at the end. No Redis answering: says so and exits 0.

    .venv/bin/python benchmarks/shared_limits.py [--calls 20000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from harness import percentile, runner
from redis.asyncio import Redis

from kernel._identity.throttle import FailureThrottle, RateLimiter
from kernel._metrics import Metrics
from kernel._shared.limits import AsyncAttemptThrottle, SharedRateLimiter
from kernel._shared.store import SharedStore

URL_ENV = "KRALIKI_BENCH_REDIS_URL"
PER_MINUTE = 10**9  # never refuses: the cost of a decision, not of a 429


async def timed(call: Callable[[int], Awaitable[object]], calls: int) -> tuple[list[float], float]:
    """Each call's latency, and this process's CPU seconds per call (what a worker pays,
    unlike the latency hardly moved by other load on the machine)."""
    latencies = []
    cpu = time.process_time()
    for i in range(calls):
        start = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - start)
    return latencies, (time.process_time() - cpu) / calls


async def concurrent_rate(
    call: Callable[[int], Awaitable[object]], calls: int, concurrency: int
) -> float:
    async def worker(offset: int) -> None:
        for i in range(offset, calls, concurrency):
            await call(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return calls / (time.perf_counter() - start)


async def main(args: argparse.Namespace) -> int:
    url = os.environ.get(URL_ENV, "redis://127.0.0.1:6379/1")
    redis = Redis.from_url(url, decode_responses=True, socket_timeout=2)
    try:
        await redis.ping()
    except Exception as exc:
        print(f"shared_limits: no Redis at {URL_ENV} ({type(exc).__name__}); skipped")
        await redis.aclose()
        return 0
    prefix = f"kraliki-bench:{uuid.uuid4().hex[:12]}:"
    store = SharedStore(redis, prefix=prefix, retry_seconds=5, metrics=Metrics())
    tenants = [str(uuid.uuid4()) for _ in range(args.keys)]
    local = RateLimiter(PER_MINUTE)
    embedded = SharedRateLimiter(RateLimiter(PER_MINUTE), None, "tenant")
    shared = SharedRateLimiter(RateLimiter(PER_MINUTE), store, "tenant")
    throttle = AsyncAttemptThrottle(FailureThrottle(10**9, 60.0), store, "bench")

    async def baseline(i: int) -> object:
        return local.acquire(tenants[i % args.keys])

    targets: list[tuple[str, Callable[[int], Awaitable[object]]]] = [
        ("in-process limiter (baseline)", baseline),
        ("embedded default (no Redis)", lambda i: embedded.acquire(tenants[i % args.keys])),
        ("Redis PING (floor)", lambda i: redis.ping()),
        ("shared limiter (Redis)", lambda i: shared.acquire(tenants[i % args.keys])),
        ("shared attempt throttle (Redis)", lambda i: throttle.attempt(f"10.0.{i % 250}.1")),
    ]
    try:
        for _, call in targets:  # warm up: connections, scripts loaded
            await timed(call, min(500, args.calls))
        rows = []
        for label, call in targets:
            latencies, cpu = await timed(call, args.calls)
            rate = await concurrent_rate(call, args.calls, args.concurrency)
            rows.append((label, sorted(latencies), cpu, rate))
        info = await redis.info("server")
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
        await store.aclose()

    base = percentile(rows[0][1], 0.5)
    print(
        f"machine: {os.cpu_count()} CPUs, CPython {sys.version.split()[0]}, Redis "
        f"{info.get('redis_version')} on {url.rsplit('@', 1)[-1]}; client and Redis share them"
    )
    print(f"{args.calls} decisions over {args.keys} keys; concurrency {args.concurrency}")
    print()
    header = f"{'target':<34} {'p50 us':>7} {'p99 us':>8} {'mean us':>8} {'x base':>7}"
    print(f"{header} {'CPU us':>7} {'calls/s':>8}")
    print("-" * 84)
    for label, latencies, cpu, rate in rows:
        p50 = percentile(latencies, 0.5)
        print(
            f"{label:<34} {p50 * 1e6:7.1f} {percentile(latencies, 0.99) * 1e6:8.1f} "
            f"{statistics.mean(latencies) * 1e6:8.1f} {p50 / base:7.0f} {cpu * 1e6:7.1f} "
            f"{rate:8.0f}"
        )
    latency = percentile(rows[3][1], 0.5) - percentile(rows[1][1], 0.5)
    cpu = rows[3][2] - rows[1][2]
    print()
    print(
        f"sharing the tenant limit adds per authenticated request: {latency * 1e6:.0f} us "
        f"at p50 and {cpu * 1e6:.0f} us of the worker's CPU (twice with an API key: its own "
        "limit and its tenant's)"
    )
    print("x base: p50 / the in-process limiter's p50. CPU us: this process's CPU per call.")
    print("calls/s: all calls with --concurrency tasks at a time on one event loop.")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000, help="decisions per target")
    parser.add_argument("--keys", type=int, default=100, help="distinct tenants (keys)")
    parser.add_argument("--concurrency", type=int, default=32, help="tasks at a time")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with runner() as run:
        sys.exit(run(main(parse())))
