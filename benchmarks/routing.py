"""Routing decisions at 50 calls/s with 2,000 agents and 200 queues in one tenant, against the
same ``SELECT ... FOR UPDATE SKIP LOCKED`` claim on a bare two-table schema in the same run.

Data (one tenant): ``--agents`` agents (90 % available, idle for up to 15 minutes, the rest
offline), each with 3 of 8 skills at levels 1-10, in teams of 20; ``--queues`` queues: 5 %
ring-all (6 agents each, named directly), 30 % skills-based (one required skill at a minimum
level 3-6, half of them relaxing after 30 s), 25 % round robin, 40 % longest idle; every queue
but the ring-all ones is served by two teams and 5 more agents named directly (an agent
serves about five queues); a tenth of the calls have priority 1.

Load: open-loop arrivals at ``--rate`` calls/s for ``--seconds`` (arrival ``i`` at
``start + i / rate`` whether or not the earlier ones were routed), spread over ``--processes``
processes (arrival ``i`` to process ``i % processes``), each with ``--workers`` routing tasks
on a connection pool of their own. An arrival enters its queue (``plugins.queues``' own
``enter``: the queue row locked, the item, its event, the dispatch wake-up, the queue's
stats) and triggers one routing decision, run by the next free worker of its process:

* routing: one pass of ``plugins.queues.routing.route`` (what the ``queues.dispatch`` job
  runs): a session in the tenant's scope, the waiting items locked best first (``FOR UPDATE
  SKIP LOCKED``), the best eligible available agent locked the same way for each (every
  eligible one for ring-all), the offer written, the agent reserved (its state change,
  history row, event and hook), the item offered, commit;
* baseline: the same claim on two bare tables (items, agents; the same number of agents in
  the same states, the same items as they arrive) through asyncpg (aiosqlite on SQLite):
  waiting items ``FOR UPDATE SKIP LOCKED`` best first, for each the longest-idle available
  agent ``FOR UPDATE SKIP LOCKED``, both rows updated, commit; no queue membership, skills,
  history, events or ORM.

Each offered call's agent answers after 0.5-2 s (the ring; a ring-all call is answered by one
agent and the others' offers are withdrawn), talks 5-15 s and hangs up, back to available
at once (no wrap-up): the platform's own ``answer`` and ``finish``, each a transaction, as the
agent's leg turns run them. An agent freed while calls wait triggers a decision too (the
platform wakes routing when an agent becomes available). No background workers run (the
dispatch job would ring the agents' phones).

Measured: each decision from taking a pooled connection to the commit, after ``--warmup``
seconds: p50/p95/p99/max, and the time from each call's arrival to its offer's commit. The
ratio is routing's p99 over the baseline's. Goal: routing decision p99 < 10 ms (PASS/FAIL).

Checked, every second during the run and at the end: no agent with two live offers, no call
with two live offers outside ring-all, no call answered by two agents, every live offer's
agent reserved (on the call once accepted) and no reserved or on-call agent without one; at
the end each agent's state-change history balances (into and out of every state, from the
seeded state to the final one) and has one ``available -> reserved`` per offer made to the
agent; claims the unique indexes refused (a lock that failed) are counted. The baseline's
tables are checked the same way (no agent holding two calls). Any failure: exit status 1.

PostgreSQL when ``KRALIKI_BENCH_DATABASE_URL`` (app role) and
``KRALIKI_BENCH_MIGRATION_DATABASE_URL`` (owner role) are set, in a throwaway schema; else a
SQLite file in a temporary directory (no row locks there: a locking read takes the database's
write lock, so the decisions of all workers run one at a time).

``--profile`` runs no load: the same tenant, then ``--calls`` calls one at a time in this
process, and what each of ``enter``, ``pass``, ``answer`` and ``finish`` costs the platform in
CPU ms and SQL statements (``routing_profile.py``; ``--sql`` lists the statements,
``--profile-top N [--profile-only pass]`` adds cProfile). Those figures hold on a loaded
machine where the percentiles under load do not.

    .venv/bin/python benchmarks/routing.py [--agents 2000] [--queues 200] [--rate 50]
        [--seconds 60] [--warmup 5] [--processes 2] [--workers 2]
    .venv/bin/python benchmarks/routing.py --profile [--calls 200] [--sql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import random
import re
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any, Protocol

from harness import (
    Backend,
    bench_settings,
    create_tenant,
    database_version,
    machine,
    percentile,
    runner,
)
from sqlalchemy import make_url, text

from kernel import Database, Settings, create_app, tenant_scope
from kernel._db import make_engine
from kernel._migrations import upgrade
from kernel._platform import resolve_plugins
from plugins.agents import Agent, AgentSkill, AgentState, Team, TeamMember
from plugins.queues import Queue
from plugins.queues.caller.entering import Caller, enter, queue_for_update
from plugins.queues.models import QueueAgent, QueueTeam, Strategy
from plugins.queues.routing import RoutingRun, route
from plugins.queues.routing.claim import BATCH
from plugins.queues.routing.conversation import answer, finish
from plugins.queues.routing.offers import UNANSWERED, lock_item, lock_offer

GOAL_P99_MS = 10.0
SKILLS = ("billing", "sales", "support", "technical", "english", "spanish", "german", "french")
TEAM_SIZE = 20
RING_ALL_AGENTS = 6
DIRECT_AGENTS = 5
AVAILABLE_SHARE = 0.9
RING_SECONDS = (0.5, 2.0)
TALK_SECONDS = (5.0, 15.0)
PROVIDER = "fakeline"
LIVE = "('pending', 'ringing', 'accepted')"
HELD = "('pending', 'ringing', 'accepted', 'connected')"
LOST = "lost to another pass"

# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    index: int
    queue: int
    """Index into the queues (routing) / the queue number (baseline)."""
    priority: int


def arrivals(rate: float, seconds: float, queues: int, seed: int) -> list[Arrival]:
    rng = random.Random(seed)
    return [
        Arrival(i, rng.randrange(queues), 1 if rng.random() < 0.1 else 0)
        for i in range(int(rate * seconds))
    ]


def call_times(seed: int, item: str) -> tuple[float, float]:
    """The ring and talk seconds of a call (from its item's id: the process that offers it
    knows them, whichever process let it in)."""
    rng = random.Random(f"{seed}:{item}")
    return rng.uniform(*RING_SECONDS), rng.uniform(*TALK_SECONDS)


@dataclass
class Seeded:
    tenant_id: uuid.UUID
    queue_ids: list[uuid.UUID]
    strategies: Counter[str]
    initial: dict[str, str]
    """Agent id -> seeded state (the history check starts there)."""
    bare_agents: list[tuple[uuid.UUID, str, datetime]]
    seconds: float


async def seed(settings: Settings, agents: int, queues: int, seed_value: int) -> Seeded:
    """The tenant, its agents, skills, teams and queues (written through the models)."""
    started = time.perf_counter()
    rng = random.Random(seed_value)
    database = Database(make_engine(settings.database_url, schema=settings.database_schema))
    now = datetime.now(UTC)
    try:
        tenant_id = await create_tenant(database)
        with tenant_scope(tenant_id):
            async with database.session() as session:
                rows = []
                for n in range(agents):
                    available = rng.random() < AVAILABLE_SHARE
                    idle = now - timedelta(seconds=rng.uniform(1, 900))
                    rows.append(
                        Agent(
                            display_name=f"agent-{n}",
                            reach_kind="phone",
                            reach_address=f"+1555{n:07d}",
                            auto_accept=True,
                            state=(AgentState.AVAILABLE if available else AgentState.OFFLINE).value,
                            state_since=idle,
                            idle_since=idle if available else None,
                        )
                    )
                session.add_all(rows)
                await session.flush()
                for one in rows:
                    for skill in rng.sample(SKILLS, 3):
                        session.add(
                            AgentSkill(agent_id=one.id, skill=skill, level=rng.randint(1, 10))
                        )
                teams = [Team(name=f"team-{t}") for t in range(max(1, agents // TEAM_SIZE))]
                session.add_all(teams)
                await session.flush()
                for n, one in enumerate(rows):
                    session.add(
                        TeamMember(team_id=teams[n // TEAM_SIZE % len(teams)].id, agent_id=one.id)
                    )
                made: list[Queue] = []
                strategies: Counter[str] = Counter()
                for q in range(queues):
                    kind = strategy_of(q)
                    strategies[kind.value] += 1
                    values: dict[str, Any] = {}
                    if kind is Strategy.SKILLS:
                        values["required_skills"] = [
                            {"skill": SKILLS[q % len(SKILLS)], "min_level": 3 + q % 4}
                        ]
                        values["relax_skills_after_seconds"] = 30 if q % 2 else None
                    queue = Queue(
                        name=f"queue-{q}",
                        strategy=kind.value,
                        priority=1 if q % 7 == 0 else 0,
                        wrap_up_seconds=0,
                        **values,
                    )
                    session.add(queue)
                    made.append(queue)
                await session.flush()
                for q, queue in enumerate(made):
                    if queue.strategy == Strategy.RING_ALL.value:
                        direct = rng.sample(rows, min(RING_ALL_AGENTS, len(rows)))
                    else:
                        for t in (2 * q, 2 * q + 1):
                            session.add(
                                QueueTeam(queue_id=queue.id, team_id=teams[t % len(teams)].id)
                            )
                        direct = rng.sample(rows, min(DIRECT_AGENTS, len(rows)))
                    for one in direct:
                        session.add(QueueAgent(queue_id=queue.id, agent_id=one.id))
                await session.flush()
                # A member of a team serving the queue may be named directly too: one row.
                await session.commit()
                initial = {str(one.id): one.state for one in rows}
                bare = [(one.id, one.state, one.idle_since or now) for one in rows]
                queue_ids = [queue.id for queue in made]
    finally:
        await database.dispose()
    return Seeded(tenant_id, queue_ids, strategies, initial, bare, time.perf_counter() - started)


def strategy_of(q: int) -> Strategy:
    slot = q % 20
    if slot == 0:
        return Strategy.RING_ALL
    if slot <= 6:
        return Strategy.SKILLS
    if slot <= 11:
        return Strategy.ROUND_ROBIN
    return Strategy.LONGEST_IDLE


# --- the bare schema (baseline) -------------------------------------------------------------

BARE_TABLES = (
    "CREATE TABLE bench_agents (id {uuid} PRIMARY KEY, state {text} NOT NULL, "
    "idle_since {ts}, last_offered_at {ts})",
    "CREATE INDEX bench_agents_claim ON bench_agents (state, idle_since, id)",
    "CREATE TABLE bench_items (id {uuid} PRIMARY KEY, queue integer NOT NULL, "
    "priority integer NOT NULL, status {text} NOT NULL, entered_at {ts} NOT NULL, "
    "agent_id {uuid}, offered_at {ts})",
    "CREATE INDEX bench_items_claim ON bench_items (status, priority DESC, entered_at, id)",
)
BARE_CLAIM_ITEMS = (
    "SELECT id FROM bench_items WHERE status = 'waiting' ORDER BY priority DESC, entered_at, id "
    f"LIMIT {BATCH} FOR UPDATE SKIP LOCKED"
)
BARE_CLAIM_AGENT = (
    "SELECT id FROM bench_agents WHERE state = 'available' ORDER BY idle_since, id "
    "LIMIT 1 FOR UPDATE SKIP LOCKED"
)
BARE_RESERVE = "UPDATE bench_agents SET state = 'reserved', last_offered_at = $2 WHERE id = $1"
BARE_OFFER = (
    "UPDATE bench_items SET status = 'offered', agent_id = $2, offered_at = $3 WHERE id = $1"
)


class Bare:
    """One bare connection: asyncpg on PostgreSQL, aiosqlite on SQLite (``$n`` placeholders
    become ``?``, ``FOR UPDATE SKIP LOCKED`` goes: ``BEGIN IMMEDIATE`` takes the database's
    write lock instead)."""

    def __init__(self, connection: Any, postgres: bool) -> None:
        self.connection = connection
        self.postgres = postgres
        self._transaction: Any = None

    @classmethod
    async def open(cls, url: str, schema: str | None) -> Bare:
        if url.startswith("postgresql"):
            import asyncpg

            dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            connection = await asyncpg.connect(
                dsn, server_settings={"search_path": schema or "public"}
            )
            return cls(connection, True)
        import aiosqlite

        path = make_url(url).database
        assert path is not None
        connection = await aiosqlite.connect(path, isolation_level=None)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA busy_timeout=5000")
        return cls(connection, False)

    def _sql(self, sql: str) -> str:
        return re.sub(r"\$\d+", "?", re.sub(r" FOR UPDATE( SKIP LOCKED)?", "", sql))

    def _args(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """SQLite's ``?`` take the values in the order the ``$n`` appear."""
        return [
            str(a) if isinstance(a, uuid.UUID) else a.isoformat() if isinstance(a, datetime) else a
            for a in (args[int(n) - 1] for n in re.findall(r"\$(\d+)", sql))
        ]

    async def begin(self) -> None:
        if self.postgres:
            self._transaction = self.connection.transaction()
            await self._transaction.start()
        else:
            await self.connection.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        if self.postgres:
            await self._transaction.commit()
        else:
            await self.connection.execute("COMMIT")

    async def rollback(self) -> None:
        if self.postgres:
            if self._transaction is not None:
                await self._transaction.rollback()
        else:
            await self.connection.execute("ROLLBACK")

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.postgres:
            return [tuple(row) for row in await self.connection.fetch(sql, *args)]
        async with self.connection.execute(self._sql(sql), self._args(sql, args)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def execute(self, sql: str, *args: Any) -> None:
        if self.postgres:
            await self.connection.execute(sql, *args)
        else:
            await self.connection.execute(self._sql(sql), self._args(sql, args))

    async def close(self) -> None:
        await self.connection.close()


@contextlib.asynccontextmanager
async def bare_transaction(bare: Bare) -> AsyncIterator[Bare]:
    await bare.begin()
    try:
        yield bare
    except BaseException:
        await bare.rollback()
        raise
    await bare.commit()


async def create_bare(settings: Settings, backend: Backend, seeded: Seeded) -> None:
    """The baseline's two tables, made by the owner role, and its agents."""
    postgres = backend.dialect == "postgresql"
    types = (
        {"uuid": "uuid", "text": "text", "ts": "timestamptz"}
        if postgres
        else {"uuid": "TEXT", "text": "TEXT", "ts": "TEXT"}
    )
    engine = backend.owner_engine() if postgres else make_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            prefix = f'SET search_path TO "{backend.schema}"; ' if postgres else ""
            if prefix:
                await connection.execute(text(prefix.strip(" ;")))
            for statement in BARE_TABLES:
                await connection.execute(text(statement.format(**types)))
    finally:
        await engine.dispose()
    bare = await Bare.open(settings.database_url, backend.schema)
    try:
        async with bare_transaction(bare):
            for agent_id, state, idle in seeded.bare_agents:
                await bare.execute(
                    "INSERT INTO bench_agents (id, state, idle_since) VALUES ($1, $2, $3)",
                    agent_id,
                    state,
                    idle,
                )
    finally:
        await bare.close()


# --- the systems under load -----------------------------------------------------------------

Made = list[tuple[str, str]]
"""Offers a decision made: (item id, offer reference)."""


class System(Protocol):
    async def enqueue(self, arrival: Arrival) -> str: ...

    async def decide(self) -> tuple[Made, bool, bool]:
        """One decision; the offers made, whether calls it looked at still wait, and whether
        it stopped at its batch size (more calls may wait)."""
        ...

    async def answer(self, offer: str) -> bool: ...

    async def finish(self, item: str) -> bool: ...

    async def close(self) -> None: ...


class Routing:
    """The platform: ``plugins.queues``' entering, routing pass, answer and finish."""

    def __init__(self, platform: Any, queue_ids: list[uuid.UUID], deciding: Database) -> None:
        self.platform = platform
        self.queue_ids = queue_ids
        self.deciding = deciding
        """The workers' own pool (one connection each), as the baseline's."""

    async def enqueue(self, arrival: Arrival) -> str:
        async with self.platform.database.session() as session:
            queue = await queue_for_update(session, self.queue_ids[arrival.queue])
            assert queue is not None
            caller = Caller(
                call_id=uuid.uuid4(),
                provider=PROVIDER,
                caller_number=f"+1555{arrival.index:07d}",
                called_number="+15550001000",
                priority=arrival.priority,
            )
            item, _place = await enter(self.platform, session, queue, caller)
            await session.commit()
            return str(item.id)

    async def decide(self) -> tuple[Made, bool, bool]:
        run = RoutingRun()
        async with self.deciding.session() as session:
            offers = await route(self.platform, session, run=run)
            made = [(str(offer.item_id), str(offer.id)) for offer in offers]
            await session.commit()
        return made, len(run.seen) > len({item for item, _ in made}), run.full_batch

    async def answer(self, offer: str) -> bool:
        async with self.platform.database.session() as session:
            locked = await lock_offer(session, uuid.UUID(offer))
            if (
                locked is None
                or locked.offer.status not in UNANSWERED
                or locked.agent.state != AgentState.RESERVED.value
            ):
                return False
            await answer(self.platform, session, locked, uuid.uuid4())
            await session.commit()
            return True

    async def finish(self, item: str) -> bool:
        async with self.platform.database.session() as session:
            locked = await lock_item(session, uuid.UUID(item))
            if locked is None or locked.status != "connected":
                return False
            await finish(self.platform, session, locked)
            await session.commit()
            return True

    async def close(self) -> None:
        return None


class Baseline:
    """The bare claim: one connection per worker, a few more for arrivals and agents."""

    def __init__(self, deciders: list[Bare], others: list[Bare]) -> None:
        self.deciders: asyncio.Queue[Bare] = asyncio.Queue()
        self.others: asyncio.Queue[Bare] = asyncio.Queue()
        for bare in deciders:
            self.deciders.put_nowait(bare)
        for bare in others:
            self.others.put_nowait(bare)
        self.all = [*deciders, *others]

    @contextlib.asynccontextmanager
    async def _one(self, pool: asyncio.Queue[Bare]) -> AsyncIterator[Bare]:
        bare = await pool.get()
        try:
            async with bare_transaction(bare):
                yield bare
        finally:
            pool.put_nowait(bare)

    async def enqueue(self, arrival: Arrival) -> str:
        item = uuid.uuid4()
        async with self._one(self.others) as bare:
            await bare.execute(
                "INSERT INTO bench_items (id, queue, priority, status, entered_at) "
                "VALUES ($1, $2, $3, 'waiting', $4)",
                item,
                arrival.queue,
                arrival.priority,
                datetime.now(UTC),
            )
        return str(item)

    async def decide(self) -> tuple[Made, bool, bool]:
        made: Made = []
        async with self._one(self.deciders) as bare:
            items = await bare.fetch(BARE_CLAIM_ITEMS)
            now = datetime.now(UTC)
            for (item,) in items:
                agent = await bare.fetch(BARE_CLAIM_AGENT)
                if not agent:
                    break
                await bare.execute(BARE_RESERVE, agent[0][0], now)
                await bare.execute(BARE_OFFER, item, agent[0][0], now)
                made.append((str(item), f"{item}/{agent[0][0]}"))
        return made, len(items) > len(made), len(items) >= BATCH

    async def answer(self, offer: str) -> bool:
        item, agent = (uuid.UUID(part) for part in offer.split("/"))
        async with self._one(self.others) as bare:
            await bare.execute("UPDATE bench_agents SET state = 'on_call' WHERE id = $1", agent)
            await bare.execute("UPDATE bench_items SET status = 'connected' WHERE id = $1", item)
        return True

    async def finish(self, item: str) -> bool:
        async with self._one(self.others) as bare:
            rows = await bare.fetch(
                "SELECT agent_id FROM bench_items WHERE id = $1 FOR UPDATE", uuid.UUID(item)
            )
            await bare.execute(
                "UPDATE bench_items SET status = 'completed' WHERE id = $1", uuid.UUID(item)
            )
            await bare.execute(
                "UPDATE bench_agents SET state = 'available', idle_since = $2 WHERE id = $1",
                uuid.UUID(str(rows[0][0])),
                datetime.now(UTC),
            )
        return True

    async def close(self) -> None:
        for bare in self.all:
            await bare.close()


# --- one load process -----------------------------------------------------------------------


@dataclass
class Spec:
    phase: str  # "routing" or "baseline"
    index: int
    processes: int
    workers: int
    rate: float
    seed: int
    values: dict[str, Any]
    tenant_id: uuid.UUID
    queue_ids: list[uuid.UUID]
    arrivals: list[Arrival]


@dataclass
class Outcome:
    """What one load process saw (wall-clock times, seconds)."""

    decisions: list[tuple[float, float, int, str, float]] = field(default_factory=list)
    """(started, seconds, offers made, trigger, seconds the trigger waited for a worker)."""
    entered: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Item -> (scheduled arrival, entered)."""
    offered: dict[str, float] = field(default_factory=dict)
    """Item -> its (first) offer committed."""
    answered: int = 0
    finished: int = 0
    refused: int = 0
    """Agent actions the platform refused (an offer or call no longer there)."""
    lost: int = 0
    """Claims the unique indexes refused."""
    coalesced: int = 0
    """Triggers served by a pass already due (queued while all workers were busy)."""
    errors: list[str] = field(default_factory=list)


class LostClaims(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if LOST in record.getMessage():
            self.count += 1


async def drive(system: System, spec: Spec, start_at: float) -> Outcome:
    """The arrivals on their schedule, the workers deciding, the agents answering."""
    outcome = Outcome()
    triggers: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue()
    stop = asyncio.Event()
    backlog = False
    agents: set[asyncio.Task[None]] = set()

    async def pause(seconds: float) -> bool:
        """Sleep; False when the run is over meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        return not stop.is_set()

    def trigger(kind: str) -> None:
        if not stop.is_set():
            triggers.put_nowait((kind, time.perf_counter()))

    async def arrive(arrival: Arrival, scheduled: float) -> None:
        try:
            item = await system.enqueue(arrival)
        except Exception as exc:
            outcome.errors.append(f"enqueue: {exc!r}")
            return
        outcome.entered[item] = (scheduled, time.time())
        trigger("arrival")

    async def agent(item: str, offers: list[str]) -> None:
        ring, talk = call_times(spec.seed, item)
        try:
            if not await pause(ring):
                return
            if not await system.answer(offers[0]):
                outcome.refused += 1
                return
            outcome.answered += 1
            if len(offers) > 1 and backlog:
                trigger("freed")  # the ring-all's other agents are available again
            if not await pause(talk):
                return
            if not await system.finish(item):
                outcome.refused += 1
                return
            outcome.finished += 1
            if backlog:
                trigger("freed")
        except Exception as exc:
            outcome.errors.append(f"agent: {exc!r}")

    async def worker() -> None:
        nonlocal backlog
        while (job := await triggers.get()) is not None:
            kind, queued = job
            # Triggers queued meanwhile are served by this pass, as the dispatch job's
            # wake-ups are by its next run (their calls were committed before them).
            while not triggers.empty():
                extra = triggers.get_nowait()
                if extra is None:
                    triggers.put_nowait(None)
                    break
                outcome.coalesced += 1
            began_wall, began = time.time(), time.perf_counter()
            try:
                made, left, full = await system.decide()
            except Exception as exc:
                outcome.errors.append(f"decide: {exc!r}")
                continue
            seconds = time.perf_counter() - began
            committed = time.time()
            outcome.decisions.append((began_wall, seconds, len(made), kind, began - queued))
            backlog = left
            if full:
                trigger("more")
            by_item: dict[str, list[str]] = defaultdict(list)
            for item, offer in made:
                by_item[item].append(offer)
            for item, offers in by_item.items():
                outcome.offered.setdefault(item, committed)
                task = asyncio.create_task(agent(item, offers))
                agents.add(task)
                task.add_done_callback(agents.discard)

    workers = [asyncio.create_task(worker()) for _ in range(spec.workers)]
    arriving = []
    for arrival in spec.arrivals:
        scheduled = start_at + arrival.index / spec.rate
        delay = scheduled - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        arriving.append(asyncio.create_task(arrive(arrival, scheduled)))
    await asyncio.gather(*arriving)
    for _ in workers:
        triggers.put_nowait(None)
    await asyncio.gather(*workers)
    stop.set()
    await asyncio.gather(*list(agents))
    return outcome


def load_process(spec: Spec, connection: Connection) -> None:
    """Entry point of one load process: ready, wait for the start time, run, report."""
    logging.basicConfig(level=logging.WARNING)
    lost = LostClaims()
    logging.getLogger("plugins.queues.routing.claim").addHandler(lost)
    with runner() as run:
        outcome = run(load(spec, connection))
    outcome.lost = lost.count
    connection.send(asdict(outcome))  # plain values: this module is __mp_main__ here
    connection.close()


async def load(spec: Spec, connection: Connection) -> Outcome:
    settings = Settings(_env_file=None, background_workers=False, **spec.values)
    if spec.phase == "routing":
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            deciding = Database(
                make_engine(
                    settings.database_url,
                    schema=settings.database_schema,
                    pool_size=spec.workers,
                )
            )
            try:
                with tenant_scope(spec.tenant_id):
                    system = Routing(app.state.platform, spec.queue_ids, deciding)
                    await system.decide()  # a first pass: connections, statements, caches
                    return await started(system, spec, connection)
            finally:
                await deciding.dispose()
    deciders = [
        await Bare.open(settings.database_url, settings.database_schema)
        for _ in range(spec.workers)
    ]
    others = [await Bare.open(settings.database_url, settings.database_schema) for _ in range(4)]
    system_bare = Baseline(deciders, others)
    try:
        await system_bare.decide()
        return await started(system_bare, spec, connection)
    finally:
        await system_bare.close()


async def started(system: System, spec: Spec, connection: Connection) -> Outcome:
    connection.send("ready")
    start_at: float = await asyncio.to_thread(connection.recv)
    return await drive(system, spec, start_at)


# --- checks ---------------------------------------------------------------------------------

ROUTING_SNAPSHOT = f"""
SELECT
  (SELECT count(*) FROM (SELECT agent_id FROM queues_offers WHERE status IN {LIVE}
     GROUP BY agent_id HAVING count(*) > 1) AS a),
  (SELECT count(*) FROM (SELECT item_id FROM queues_offers WHERE status IN {LIVE}
     AND NOT ring_all GROUP BY item_id HAVING count(*) > 1) AS i),
  (SELECT count(*) FROM queues_offers o JOIN agents_agents a ON a.id = o.agent_id
     WHERE (o.status IN ('pending', 'ringing') AND a.state <> 'reserved')
        OR (o.status IN ('accepted', 'connected') AND a.state <> 'on_call')),
  (SELECT count(*) FROM agents_agents a WHERE a.state IN ('reserved', 'on_call')
     AND NOT EXISTS (SELECT 1 FROM queues_offers o WHERE o.agent_id = a.id
                     AND o.status IN {HELD}))
"""
BASELINE_SNAPSHOT = """
SELECT
  (SELECT count(*) FROM (SELECT agent_id FROM bench_items
     WHERE status IN ('offered', 'connected') GROUP BY agent_id HAVING count(*) > 1) AS a),
  0,
  (SELECT count(*) FROM bench_items i JOIN bench_agents a ON a.id = i.agent_id
     WHERE (i.status = 'offered' AND a.state <> 'reserved')
        OR (i.status = 'connected' AND a.state <> 'on_call')),
  (SELECT count(*) FROM bench_agents a WHERE a.state IN ('reserved', 'on_call')
     AND NOT EXISTS (SELECT 1 FROM bench_items i WHERE i.agent_id = a.id
                     AND i.status IN ('offered', 'connected')))
"""
CHECKS = (
    "agents with two live offers",
    "calls with two live offers (not ring-all)",
    "live offers whose agent is not reserved / on the call",
    "reserved or on-call agents without a live offer",
)


@dataclass
class Checks:
    snapshots: int = 0
    worst: list[int] = field(default_factory=lambda: [0] * len(CHECKS))
    end: dict[str, int] = field(default_factory=dict)

    def add(self, counts: Sequence[int]) -> None:
        self.snapshots += 1
        self.worst = [max(a, int(b)) for a, b in zip(self.worst, counts, strict=True)]

    def failures(self) -> int:
        return sum(self.worst) + sum(self.end.values())


async def snapshot(database: Database, sql: str) -> list[int]:
    async with database.session() as session:
        row = (await session.execute(text(sql))).one()
        return [int(value) for value in row]


async def monitor(database: Database, sql: str, checks: Checks, done: asyncio.Event) -> None:
    while not done.is_set():
        checks.add(await snapshot(database, sql))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 1.0)


async def history_checks(database: Database, initial: dict[str, str]) -> dict[str, int]:
    """What the finished run left: calls answered twice, and each agent's history."""
    async with database.session() as session:
        taken_twice = await session.scalar(
            text(
                "SELECT count(*) FROM (SELECT item_id FROM queues_offers WHERE status IN "
                "('accepted', 'connected', 'ended') GROUP BY item_id HAVING count(*) > 1) AS t"
            )
        )
        moves = await session.execute(
            text(
                "SELECT agent_id, from_state, to_state, count(*) FROM agents_state_changes "
                "GROUP BY agent_id, from_state, to_state"
            )
        )
        balance: dict[str, Counter[str]] = defaultdict(Counter)
        reservations: Counter[str] = Counter()
        for agent_id, source, target, count in moves:
            key = str(uuid.UUID(str(agent_id)))
            balance[key][source] -= count
            balance[key][target] += count
            if (source, target) == ("available", "reserved"):
                reservations[key] += count
        offers = Counter(
            {
                str(uuid.UUID(str(agent_id))): count
                for agent_id, count in await session.execute(
                    text("SELECT agent_id, count(*) FROM queues_offers GROUP BY agent_id")
                )
            }
        )
        final = {
            str(uuid.UUID(str(agent_id))): state
            for agent_id, state in await session.execute(
                text("SELECT id, state FROM agents_agents")
            )
        }
    unbalanced = 0
    for agent_id, state in final.items():
        expected: Counter[str] = Counter({state: 1})
        expected[initial[agent_id]] -= 1
        got = balance.get(agent_id, Counter())
        if any(got[s] != expected[s] for s in set(got) | set(expected)):
            unbalanced += 1
    mismatched = sum(1 for a in set(offers) | set(reservations) if offers[a] != reservations[a])
    return {
        "calls answered by two agents": int(taken_twice or 0),
        "agents whose history does not balance": unbalanced,
        "agents with offers != available->reserved changes": mismatched,
    }


# --- a phase --------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    outcomes: list[Outcome]
    checks: Checks
    start_at: float
    warmup: float
    seconds: float
    offers_total: int = 0

    def measured(self) -> list[tuple[float, float, int, str, float]]:
        since = self.start_at + self.warmup
        return [d for o in self.outcomes for d in o.decisions if d[0] >= since]

    def waits(self) -> list[float]:
        """Arrival (scheduled) -> offer committed, for the calls after the warm-up."""
        offered: dict[str, float] = {}
        for o in self.outcomes:
            for item, at in o.offered.items():
                offered[item] = min(at, offered.get(item, at))
        since = self.start_at + self.warmup
        return [
            offered[item] - scheduled
            for o in self.outcomes
            for item, (scheduled, _entered) in o.entered.items()
            if scheduled >= since and item in offered
        ]


async def run_phase(
    name: str, args: argparse.Namespace, base: Spec, database: Database, initial: dict[str, str]
) -> Phase:
    context = multiprocessing.get_context("spawn")
    processes = []
    for index in range(args.processes):
        mine = [a for a in base.arrivals if a.index % args.processes == index]
        spec = Spec(**{**base.__dict__, "phase": name, "index": index, "arrivals": mine})
        parent, child = context.Pipe()
        process = context.Process(target=load_process, args=(spec, child), name=f"{name}-{index}")
        process.start()
        child.close()
        processes.append((process, parent))
    for _process, parent in processes:
        message = await asyncio.to_thread(parent.recv)
        assert message == "ready", message
    start_at = time.time() + 0.5
    for _process, parent in processes:
        parent.send(start_at)
    checks = Checks()
    done = asyncio.Event()
    sql = ROUTING_SNAPSHOT if name == "routing" else BASELINE_SNAPSHOT
    watcher = asyncio.create_task(monitor(database, sql, checks, done))
    outcomes = [Outcome(**await asyncio.to_thread(parent.recv)) for _process, parent in processes]
    done.set()
    await watcher
    for process, _parent in processes:
        process.join(30)
    checks.add(await snapshot(database, sql))
    if name == "routing":
        checks.end = await history_checks(database, initial)
    phase = Phase(name, outcomes, checks, start_at, args.warmup, args.seconds)
    print(f"  {name}: done", file=sys.stderr)
    return phase


# --- the report -----------------------------------------------------------------------------


def figures(samples: Sequence[float]) -> str:
    if not samples:
        return f"{'-':>7} {'-':>7} {'-':>7} {'-':>7} {'-':>7}"
    ordered = sorted(samples)
    p50, p95, p99 = (percentile(ordered, f) * 1e3 for f in (0.5, 0.95, 0.99))
    return (
        f"{p50:7.2f} {p95:7.2f} {p99:7.2f} {ordered[-1] * 1e3:7.1f} "
        f"{statistics.fmean(ordered) * 1e3:7.2f}"
    )


def row(
    label: str, samples: Sequence[float], count: int | None = -1, offers: int | None = None
) -> str:
    """A line of the table (``count`` -1: the number of samples; None: left blank)."""
    shown = len(samples) if count == -1 else count
    return (
        f"{label:<36} {'' if shown is None else shown:>9} {'' if offers is None else offers:>7} "
        f"{figures(samples)}"
    )


def p99_of(samples: Sequence[float]) -> float:
    return percentile(sorted(samples), 0.99) * 1e3 if samples else float("nan")


def report(
    args: argparse.Namespace,
    backend: Backend,
    version: str,
    seeded: Seeded,
    phases: dict[str, Phase],
) -> int:
    print("Routing: one routing decision (claim + offer + commit) per call arriving")
    strategies = ", ".join(f"{n} {s}" for s, n in sorted(seeded.strategies.items()))
    print(
        f"data: one tenant, {args.agents:,} agents ({AVAILABLE_SHARE:.0%} available, 3 of "
        f"{len(SKILLS)} skills each, teams of {TEAM_SIZE}), {args.queues} queues ({strategies}); "
        f"seeded in {seeded.seconds:.1f} s"
    )
    print(
        f"load: {args.rate:g} calls/s open-loop for {args.seconds:g} s (first {args.warmup:g} s "
        f"not measured), {args.processes} processes x {args.workers} workers; ring "
        f"{RING_SECONDS[0]:g}-{RING_SECONDS[1]:g} s, talk {TALK_SECONDS[0]:g}-"
        f"{TALK_SECONDS[1]:g} s, no wrap-up"
    )
    print(f"database: {backend.describe()}, {version}")
    print(machine(version))
    print()
    header = (
        f"{'target':<36} {'decisions':>9} {'offers':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'mean ms':>7}"
    )
    print(header)
    print("-" * len(header))
    p99: dict[str, float] = {}
    for name, label in (
        ("baseline", "baseline: bare SKIP LOCKED claim"),
        ("routing", "routing: route() pass"),
    ):
        phase = phases[name]
        decisions = phase.measured()
        seconds = [d[1] for d in decisions]
        offers = sum(d[2] for d in decisions)
        p99[name] = p99_of(seconds)
        print(row(label, seconds, len(decisions), offers))
        print(row("  of which made an offer", [d[1] for d in decisions if d[2]]))
        freed = [d[1] for d in decisions if d[3] == "freed"]
        if freed:
            print(row("  of which an agent freed", freed))
        print(row("  trigger waited for a worker", [d[4] for d in decisions], None))
        print(row("  call arrival -> offer committed", phase.waits(), None))
    print()
    ratio = p99["routing"] / p99["baseline"]
    print(f"routing / baseline: p99 x{ratio:.1f}")
    print()
    failed = 0
    for name in ("baseline", "routing"):
        phase = phases[name]
        entered = sum(len(o.entered) for o in phase.outcomes)
        offered = len({i for o in phase.outcomes for i in o.offered})
        answered = sum(o.answered for o in phase.outcomes)
        finished = sum(o.finished for o in phase.outcomes)
        refused = sum(o.refused for o in phase.outcomes)
        lost = sum(o.lost for o in phase.outcomes)
        coalesced = sum(o.coalesced for o in phase.outcomes)
        errors = [e for o in phase.outcomes for e in o.errors]
        print(
            f"{name}: calls {entered}, offered {offered}, answered {answered}, "
            f"finished {finished}; triggers served by a pass already due {coalesced}; agent "
            f"actions refused {refused}; errors {len(errors)}"
        )
        for error in errors[:5]:
            print(f"  error: {error}")
        checks = phase.checks
        kinds = CHECKS if name == "routing" else (CHECKS[0], CHECKS[2], CHECKS[3])
        worst = checks.worst if name == "routing" else [checks.worst[0], *checks.worst[2:]]
        listed = ", ".join(f"{k} {w}" for k, w in zip(kinds, worst, strict=True))
        print(f"  checked {checks.snapshots} times during the run and at the end: {listed}")
        if checks.end:
            ends = ", ".join(f"{k} {v}" for k, v in checks.end.items())
            print(f"  at the end: {ends}; claims the unique indexes refused {lost}")
        doubles = checks.failures() + lost
        print(f"  double offers: {doubles}")
        failed += doubles + len(errors)
    print()
    verdict = "PASS" if p99["routing"] < GOAL_P99_MS else "FAIL"
    print(
        f"goal: routing decision p99 < {GOAL_P99_MS:.0f} ms: {p99['routing']:.2f} ms -> {verdict}"
    )
    return 1 if failed else 0


# --- main -----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--queues", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="calls arriving per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="arrivals for this long")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds not measured")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="routing tasks per process")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead: calls one at a time in this process, CPU ms and SQL statements per "
        "enter, pass, answer and finish (routing_profile.py)",
    )
    parser.add_argument("--calls", type=int, default=200, help="--profile: calls measured")
    parser.add_argument("--warm", type=int, default=30, help="--profile: warm-up calls")
    parser.add_argument(
        "--profile-top", type=int, default=0, help="--profile: cProfile's top N functions too"
    )
    parser.add_argument(
        "--profile-only",
        action="append",
        choices=("enter", "pass", "answer", "finish"),
        help="--profile-top: of this operation only (repeatable)",
    )
    parser.add_argument("--profile-out", help="--profile-top: the whole profile to this file")
    parser.add_argument("--sql", action="store_true", help="--profile: the statements too")
    args = parser.parse_args()
    if args.agents < TEAM_SIZE or args.queues < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error(f"--agents >= {TEAM_SIZE}, --queues >= 1, --rate and --seconds > 0")
    if args.processes < 1 or args.workers < 1 or not 0 <= args.warmup < args.seconds:
        parser.error("--processes and --workers >= 1, 0 <= --warmup < --seconds")
    return args


async def prepare(settings: Settings, backend: Backend, args: argparse.Namespace) -> Seeded:
    await upgrade(settings, resolve_plugins(settings))
    seeded = await seed(settings, args.agents, args.queues, args.seed)
    await create_bare(settings, backend, seeded)
    return seeded


async def phases_of(
    settings: Settings, values: dict[str, Any], args: argparse.Namespace, seeded: Seeded
) -> dict[str, Phase]:
    base = Spec(
        phase="",
        index=0,
        processes=args.processes,
        workers=args.workers,
        rate=args.rate,
        seed=args.seed,
        values=values,
        tenant_id=seeded.tenant_id,
        queue_ids=seeded.queue_ids,
        arrivals=arrivals(args.rate, args.seconds, args.queues, args.seed),
    )
    database = Database(make_engine(settings.database_url, schema=settings.database_schema))
    try:
        with tenant_scope(seeded.tenant_id):
            return {
                name: await run_phase(name, args, base, database, seeded.initial)
                for name in ("baseline", "routing")
            }
    finally:
        await database.dispose()


def main() -> int:
    args = parse_args()
    backend = Backend.from_environment()
    pool = args.workers + 4
    settings, values = bench_settings(
        backend, jwt_secret="routing-bench-" + "x" * 32, pool_size=pool
    )
    if args.profile:
        return profile_main(args, backend, settings, values)
    with runner() as run:
        try:
            run(backend.create())
            version = run(database_version(settings))
            seeded = run(prepare(settings, backend, args))
            phases = run(phases_of(settings, values, args, seeded))
        finally:
            run(backend.drop())
    return report(args, backend, version, seeded, phases)


def profile_main(
    args: argparse.Namespace, backend: Backend, settings: Settings, values: dict[str, Any]
) -> int:
    """``--profile``: the tenant seeded as for a run, then ``routing_profile``."""
    import routing_profile

    print(f"{backend.describe()}; {args.agents} agents, {args.queues} queues")
    with runner(profile=True) as run:
        try:
            run(backend.create())
            print(run(database_version(settings)))
            seeded = run(prepare(settings, backend, args))
            tally, profiler, problems = run(
                routing_profile.profile(values, seeded, args, sys.modules[__name__])
            )
        finally:
            run(backend.drop())
    routing_profile.report(tally, profiler, args)
    return routing_profile.problems_of(problems)


if __name__ == "__main__":
    raise SystemExit(main())
