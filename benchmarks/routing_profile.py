"""``routing.py --profile``: what one call costs the platform, operation by operation.

The same tenant as the load run (agents, skills, teams, queues), then ``--calls`` calls one
at a time in this process, each through the four transactions the load run times or drives:
``enter`` (the queue locked, the caller put in line, commit), ``pass`` (one routing pass that
offers it, commit), ``answer`` and ``finish``. For each operation: the process's CPU time
(``time.process_time``: the platform's Python, not the database's), wall time, and the SQL
statements sent (a ``before_cursor_execute`` listener; transaction control, ``BEGIN`` and
``COMMIT``, is not among them). Nothing runs concurrently, so these figures hold on a loaded
machine where percentiles under load do not. ``--profile-top N`` adds cProfile's top
functions over the measured calls, ``--sql`` the statements of the last call's operations.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from kernel import Settings, create_app, tenant_scope

OPERATIONS = ("enter", "pass", "answer", "finish")


@dataclass
class Tally:
    """Per operation: CPU and wall seconds, statements, and the last one's SQL."""

    cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    wall: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statements: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    last_sql: dict[str, list[str]] = field(default_factory=dict)


class Counter:
    """Statements sent on an engine, and their text (``before_cursor_execute``)."""

    def __init__(self, engine: Any) -> None:
        self.sql: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.sql.append(" ".join(str(args[2]).split()))


@dataclass
class Profiled:
    """cProfile over the operations named (all: empty), enabled by :func:`measure`."""

    profiler: cProfile.Profile | None = None
    operations: tuple[str, ...] = ()
    on: bool = False


PROFILED = Profiled()


async def measure(
    tally: Tally, counter: Counter, name: str, step: Callable[[], Awaitable[Any]], keep: bool
) -> Any:
    counter.sql.clear()
    profiler = PROFILED.profiler if PROFILED.on and name in PROFILED.operations else None
    if profiler is not None:
        profiler.enable()
    cpu, wall = time.process_time(), time.perf_counter()
    result = await step()
    if profiler is not None:
        profiler.disable()
    if keep:
        tally.cpu[name].append(time.process_time() - cpu)
        tally.wall[name].append(time.perf_counter() - wall)
        tally.statements[name].append(len(counter.sql))
        tally.last_sql[name] = list(counter.sql)
    return result


async def one_call(
    system: Any, tally: Tally, counter: Counter, arrival: Any, keep: bool
) -> list[str]:
    """Enter, offer, answer and finish one call; problems found (empty: none)."""
    item = await measure(tally, counter, "enter", lambda: system.enqueue(arrival), keep)
    made, _left, _full = await measure(tally, counter, "pass", system.decide, keep)
    offers = [offer for made_item, offer in made if made_item == item]
    if not offers:
        return [f"call {arrival.index}: no offer (offers made: {len(made)})"]
    if not await measure(tally, counter, "answer", lambda: system.answer(offers[0]), keep):
        return [f"call {arrival.index}: answer refused"]
    if not await measure(tally, counter, "finish", lambda: system.finish(item), keep):
        return [f"call {arrival.index}: finish refused"]
    return []


async def profile(
    values: dict[str, Any], seeded: Any, args: argparse.Namespace, routing: Any
) -> tuple[Tally, cProfile.Profile | None, list[str]]:
    """Warm-up calls, then ``--calls`` measured ones (the last ``--calls`` under cProfile
    when asked: the profiler's cost stays out of the figures)."""
    app = create_app(Settings(_env_file=None, background_workers=False, **values))
    tally = Tally()
    problems: list[str] = []
    rng = random.Random(args.seed)
    profiler = cProfile.Profile(time.process_time) if args.profile_top else None
    PROFILED.operations = tuple(args.profile_only or OPERATIONS)
    async with app.router.lifespan_context(app):
        platform = app.state.platform
        counter = Counter(platform.database.engine)
        system = routing.Routing(platform, seeded.queue_ids, platform.database)
        plan = [
            routing.Arrival(i, rng.randrange(len(seeded.queue_ids)), 0)
            for i in range(args.warm + args.calls * (2 if profiler else 1))
        ]
        with tenant_scope(seeded.tenant_id):
            for n, arrival in enumerate(plan):
                measured = args.warm <= n < args.warm + args.calls
                if profiler is not None and n == args.warm + args.calls:
                    PROFILED.profiler, PROFILED.on = profiler, True
                problems += await one_call(system, tally, counter, arrival, measured)
    return tally, profiler, problems


def report(tally: Tally, profiler: cProfile.Profile | None, args: argparse.Namespace) -> None:
    print(f"{args.calls} calls one at a time after {args.warm} warm-up calls")
    print(
        f"{'operation':<10} {'CPU ms':>8} {'median':>8} {'p90':>8} {'wall ms':>8} "
        f"{'statements':>11}"
    )
    total_cpu = 0.0
    for name in OPERATIONS:
        cpu = sorted(tally.cpu[name])
        if not cpu:
            continue
        mean = statistics.fmean(cpu) * 1e3
        total_cpu += mean
        print(
            f"{name:<10} {mean:8.2f} {statistics.median(cpu) * 1e3:8.2f} "
            f"{cpu[int(0.9 * (len(cpu) - 1))] * 1e3:8.2f} "
            f"{statistics.fmean(tally.wall[name]) * 1e3:8.2f} "
            f"{statistics.fmean(tally.statements[name]):11.1f}"
        )
    print(f"{'per call':<10} {total_cpu:8.2f}")
    if args.sql:
        for name in OPERATIONS:
            print(f"\n{name}: {len(tally.last_sql.get(name, []))} statements")
            for sql in tally.last_sql.get(name, []):
                print(f"  {sql[:160]}")
    if profiler is not None:
        output = io.StringIO()
        stats = pstats.Stats(profiler, stream=output)
        stats.sort_stats("tottime").print_stats(args.profile_top)
        only = ", ".join(args.profile_only or OPERATIONS)
        print(f"\ncProfile of {only} over {args.calls} more calls, top {args.profile_top}:")
        print(output.getvalue())
        stats = pstats.Stats(profiler, stream=(output := io.StringIO()))
        stats.sort_stats("cumulative").print_stats(args.profile_top)
        print(f"top {args.profile_top} by cumulative CPU:")
        print(output.getvalue())
        if args.profile_out:
            stats.dump_stats(args.profile_out)
            print(f"full profile: {args.profile_out} (python -m pstats)")


def problems_of(found: list[str]) -> int:
    for problem in found[:10]:
        print(f"problem: {problem}")
    return 1 if found else 0
