"""Signed Twilio status callbacks per second through the platform's webhook ingest, against a
bare FastAPI endpoint doing the minimal honest equivalent, in the same run.

Both apps are served by uvicorn on 127.0.0.1, each in its own process(es), on one database:

* kernel: the calls and twilio plugins; ``POST /webhooks/twilio/<tenant id>/status?call=<id>``
  goes through the real path, in one session and one transaction: tenant check, the
  tenant's auth token from the worker's cache of decrypted secrets after a check of its
  stored version (a miss is one audited decryption in a transaction of its own, at most
  every 30 s per worker; docs/adr/0034), ``X-Twilio-Signature`` checked against the
  URL rebuilt from ``KRALIKI_CALLS_PUBLIC_BASE_URL``, the callback parsed, its receipt kept
  (a redelivery is recognised and answered as the first time), the call locked
  (``FOR UPDATE``) and moved by the status machine, a timeline row, the status event in the
  outbox, commit, and the TwiML answer;
* baseline: one FastAPI form endpoint, no kernel: the form parsed (python-multipart), the
  signature checked with ``RequestValidator`` and a constant token, one receipt-like row
  inserted (unique idempotency token, ``ON CONFLICT DO NOTHING``), the call row's status
  updated, commit.

``--calls`` outbound calls are created directly in the database (status ``initiated``, a
Twilio CallSid each) for each app, so only the ingest is measured. Each call then gets the
callbacks Twilio sends, in order, as Twilio signs them (``compute_signature(url, params)``,
``I-Twilio-Idempotency-Token``): ringing, in-progress, completed (with ``SequenceNumber``);
each delivery is repeated exactly (a redelivery) with probability ``--duplicates``. Calls run
``--concurrency`` at a time from one ``httpx.AsyncClient``, in ``--rounds`` rounds (the order
of the apps rotates), after ``--warmup`` calls each. Reported: requests/s (median of rounds),
p50/p99 latency, the server processes' CPU time per request, and the kernel's ratios to the
baseline. At the end the database is checked (every call completed, one receipt per unique
delivery, three status events per call in the outbox); the script fails loudly otherwise.

``--profile`` instead runs the kernel app in this process (httpx over ASGI, one request at a
time) and shows where a request's time goes: stages (secret, tenant check, receipt,
call lookup, status machine, event publish, commits, the rest), the SQL statements per
request, and cProfile's top functions.

PostgreSQL when ``KRALIKI_BENCH_DATABASE_URL`` (app role) and
``KRALIKI_BENCH_MIGRATION_DATABASE_URL`` (owner role) are set, in a throwaway schema dropped
at the end; otherwise a SQLite file in a temporary directory.

    .venv/bin/python benchmarks/webhook_ingest.py [--calls 600] [--duplicates 0.1]
        [--concurrency 16] [--workers 1] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import json
import os
import pstats
import random
import re
import secrets
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from harness import (
    HOST,
    Backend,
    Servers,
    bench_settings,
    create_tenant,
    database_version,
    free_port,
    listening_socket,
    loop_name,
    machine,
    migrate,
    report,
    report_cpu,
    runner,
    start_server,
    wait_ready,
)
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from kernel import Settings, create_app, tenant_scope
from kernel._db import make_engine
from kernel._events.models import EventRecord
from kernel._platform import build_platform

JWT_SECRET = "webhook-ingest-benchmark-signing-key-0123456789"
STATUSES = ("ringing", "in-progress", "completed")
EVENT_NAMES = ("calls.call.ringing", "calls.call.answered", "calls.call.completed")
CALLER = "+14155550100"
T = TypeVar("T")

# --- the baseline -----------------------------------------------------------------------------

BARE = MetaData()
BARE_CALLS = Table(
    "bench_calls",
    BARE,
    Column("id", String(36), primary_key=True),
    Column("provider_call_id", String(128), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("last_sequence", Integer),
)
BARE_RECEIPTS = Table(
    "bench_receipts",
    BARE,
    Column("token", String(64), primary_key=True),  # the unique idempotency token
    Column("call_sid", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payload", Text, nullable=False),
)
BARE_INSERT = text(
    "INSERT INTO bench_receipts (token, call_sid, status, payload) "
    "VALUES (:token, :sid, :status, :payload) ON CONFLICT (token) DO NOTHING"
)
BARE_UPDATE = text(
    "UPDATE bench_calls SET status = :status, last_sequence = :seq WHERE provider_call_id = :sid"
)
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def bare_app(url: str, schema: str | None, public_base: str, token: str, pool: int) -> FastAPI:
    """FastAPI and SQLAlchemy Core: no kernel, no vault, no ORM, no outbox, no tenancy."""
    if url.startswith("sqlite"):
        engine = make_engine(url)  # the kernel's SQLite pragmas (WAL, busy timeout)
    else:
        connect_args = {"server_settings": {"search_path": schema}} if schema else {}
        engine = create_async_engine(
            url, pool_size=pool, max_overflow=pool, connect_args=connect_args
        )
    validator = RequestValidator(token)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webhooks/twilio/{tenant_id}/status")
    async def status(tenant_id: uuid.UUID, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        query = request.url.query
        signed_url = f"{public_base}{request.url.path}" + (f"?{query}" if query else "")
        signature = request.headers.get("x-twilio-signature", "")
        if not validator.validate(signed_url, form, signature):
            return Response(status_code=403)
        values = {
            "token": request.headers.get("i-twilio-idempotency-token", ""),
            "sid": form["CallSid"],
            "status": form["CallStatus"],
            "payload": json.dumps(form),
        }
        async with engine.begin() as connection:
            inserted = (await connection.execute(BARE_INSERT, values)).rowcount
            if inserted:
                sequence = int(form["SequenceNumber"])
                await connection.execute(BARE_UPDATE, values | {"seq": sequence})
        return Response(EMPTY_TWIML, media_type="application/xml")

    return app


# --- server processes -------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestSpec:
    kind: str  # "kernel" or "bare"
    port: int
    settings: dict[str, Any]
    auth_token: str
    dispatch: bool


def serve_ingest(spec: IngestSpec, connection: Connection) -> None:
    """Entry point of one server (worker) process."""
    sock = listening_socket(spec.port)  # connections wait in the backlog until it serves
    public_base = f"http://{HOST}:{spec.port}"
    if spec.kind == "kernel":
        os.environ["KRALIKI_CALLS_PUBLIC_BASE_URL"] = public_base
        import plugins.calls.plugin
        import plugins.twilio.plugin

        settings = Settings(_env_file=None, background_workers=spec.dispatch, **spec.settings)
        app = create_app(settings, plugins=[plugins.calls.plugin, plugins.twilio.plugin])
    else:
        app = bare_app(
            spec.settings["database_url"],
            spec.settings["database_schema"],
            public_base,
            spec.auth_token,
            spec.settings["database_pool_size"],
        )
    threading.Thread(target=report_cpu, args=(connection,), daemon=True).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=600)
    uvicorn.Server(config).run(sockets=[sock])


def start_servers(spec: IngestSpec, workers: int) -> Servers:
    return Servers(
        spec.kind,
        spec.port,
        [
            start_server(spec, serve_ingest, name=f"bench-{spec.kind}-{index}")
            for index in range(workers)
        ],
    )


# --- fixture ----------------------------------------------------------------------------------


@dataclass
class Fixture:
    tenant_id: uuid.UUID
    account_sid: str
    auth_token: str
    kernel_calls: list[tuple[uuid.UUID, str]]  # (call id, CallSid)
    bare_calls: list[tuple[uuid.UUID, str]]


def plugin_list() -> list[object]:
    import plugins.calls.plugin
    import plugins.twilio.plugin

    return [plugins.calls.plugin, plugins.twilio.plugin]


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


async def prepare(settings: Settings, calls: int, *, bare: bool = True) -> Fixture:
    """Migrate; create the tenant, its Twilio credentials in the vault, ``calls`` kernel
    calls and (``bare``) the baseline's tables and calls."""
    from plugins.calls import Call

    await migrate(settings, plugin_list())
    if bare:
        owner = make_engine(settings.owner_database_url, schema=settings.database_schema)
        try:
            async with owner.begin() as connection:
                await connection.run_sync(BARE.create_all)
        finally:
            await owner.dispose()
    platform = build_platform(settings, plugin_list())
    account_sid, auth_token = new_sid("AC"), secrets.token_hex(16)
    try:
        tenant_id = await create_tenant(platform.database)
        placed = datetime.now(UTC) - timedelta(seconds=5)
        kernel_calls = [(uuid.uuid4(), new_sid("CA")) for _ in range(calls)]
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                await platform.vault.put(session, "twilio.account_sid", account_sid, actor="bench")
                await platform.vault.put(session, "twilio.auth_token", auth_token, actor="bench")
                await session.commit()
            async with platform.database.session() as session:
                session.add_all(
                    Call(
                        id=call_id,
                        direction="outbound",
                        from_number=CALLER,
                        to_number=f"+4206011{index:05d}",
                        provider="twilio",
                        provider_call_id=sid,
                        status="initiated",
                        placed_at=placed,
                        tags=[],
                        attributes={},
                        instructions=[],
                        notes="",
                    )
                    for index, (call_id, sid) in enumerate(kernel_calls)
                )
                await session.commit()
        bare_calls: list[tuple[uuid.UUID, str]] = []
        if bare:
            bare_calls = [(uuid.uuid4(), new_sid("CA")) for _ in range(calls)]
            async with platform.database.engine.begin() as connection:
                await connection.execute(
                    BARE_CALLS.insert(),
                    [
                        {"id": str(call_id), "provider_call_id": sid, "status": "initiated"}
                        for call_id, sid in bare_calls
                    ],
                )
    finally:
        await platform.database.dispose()
        platform.tracing.shutdown()
    return Fixture(tenant_id, account_sid, auth_token, kernel_calls, bare_calls)


# --- deliveries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]
    duplicate: bool


def rfc2822(moment: datetime) -> str:
    from email.utils import format_datetime

    return format_datetime(moment)


def call_deliveries(
    base_url: str,
    tenant_id: uuid.UUID,
    call_id: uuid.UUID,
    sid: str,
    fixture: Fixture,
    index: int,
    duplicates: float,
    rng: random.Random,
) -> list[Delivery]:
    """The status callbacks Twilio sends for one answered call, signed as Twilio signs them;
    each repeated exactly (same body, signature and idempotency token) with probability
    ``duplicates``, right after the first delivery (Twilio retrying a slow answer)."""
    path = f"/webhooks/twilio/{tenant_id}/status?call={call_id}"
    validator = RequestValidator(fixture.auth_token)
    started = datetime.now(UTC)
    base = {
        "AccountSid": fixture.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "Called": f"+4206011{index:05d}",
        "Caller": CALLER,
        "Direction": "outbound-api",
        "From": CALLER,
        "To": f"+4206011{index:05d}",
    }
    deliveries: list[Delivery] = []
    for sequence, status in enumerate(STATUSES):
        form = base | {
            "CallStatus": status,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": rfc2822(started + timedelta(seconds=3 * sequence)),
        }
        if status == "completed":
            form |= {"CallDuration": "3", "Duration": "1"}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": validator.compute_signature(base_url + path, form),
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        body = urlencode(form).encode()
        deliveries.append(Delivery(path, body, headers, duplicate=False))
        if rng.random() < duplicates:
            deliveries.append(Delivery(path, body, headers, duplicate=True))
    return deliveries


def plan(
    base_url: str,
    fixture: Fixture,
    calls: Sequence[tuple[uuid.UUID, str]],
    duplicates: float,
    seed: int,
) -> list[list[Delivery]]:
    rng = random.Random(seed)
    return [
        call_deliveries(base_url, fixture.tenant_id, call_id, sid, fixture, index, duplicates, rng)
        for index, (call_id, sid) in enumerate(calls)
    ]


# --- load -------------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    servers: Servers
    chains: list[list[Delivery]]
    throughputs: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    requests: int = 0
    next_chain: int = 0

    def take(self, count: int) -> list[list[Delivery]]:
        taken = self.chains[self.next_chain : self.next_chain + count]
        self.next_chain += count
        return taken


async def drive(
    client: httpx.AsyncClient, label: str, chains: Sequence[Sequence[Delivery]], concurrency: int
) -> tuple[float, list[float], int]:
    """Send each call's deliveries in order, ``concurrency`` calls at a time: (elapsed
    seconds, latencies, requests)."""
    latencies: list[float] = []
    pending = iter(chains)
    failures: list[str] = []

    async def worker() -> None:
        for chain in pending:
            for delivery in chain:
                started = time.perf_counter()
                response = await client.post(
                    delivery.path, content=delivery.body, headers=delivery.headers
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 and len(failures) < 5:
                    failures.append(f"{response.status_code} {response.text[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{label}: requests failed: {failures}")
    return elapsed, latencies, len(latencies)


async def measure(targets: list[Target], args: argparse.Namespace) -> float:
    """Warm up, then the rounds; the client's CPU seconds per request."""
    clients = {
        target.label: httpx.AsyncClient(
            base_url=target.servers.base_url,
            limits=httpx.Limits(
                max_connections=args.concurrency, max_keepalive_connections=args.concurrency
            ),
            timeout=120.0,
        )
        for target in targets
    }
    per_round = args.calls // args.rounds
    cpu, sent = 0.0, 0
    try:
        for target in targets:
            await drive(
                clients[target.label], target.label, target.take(args.warmup), args.concurrency
            )
        for round_index in range(args.rounds):
            shift = round_index % len(targets)
            for target in targets[shift:] + targets[:shift]:
                chains = target.take(per_round)
                server_before, client_before = target.servers.cpu_seconds(), time.process_time()
                elapsed, latencies, requests = await drive(
                    clients[target.label], target.label, chains, args.concurrency
                )
                cpu += time.process_time() - client_before
                sent += requests
                target.server_cpu += target.servers.cpu_seconds() - server_before
                target.throughputs.append(requests / elapsed)
                target.latencies.extend(latencies)
                target.requests += requests
    finally:
        for client in clients.values():
            await client.aclose()
    return cpu / max(sent, 1)


# --- correctness ------------------------------------------------------------------------------


def expected_counts(chains: Sequence[Sequence[Delivery]]) -> tuple[int, int, int]:
    """(calls, unique deliveries, duplicates) of the chains that were sent."""
    unique = sum(1 for chain in chains for d in chain if not d.duplicate)
    duplicates = sum(1 for chain in chains for d in chain if d.duplicate)
    return len(chains), unique, duplicates


async def verify_kernel(settings: Settings, fixture: Fixture, sent: int) -> list[str]:
    """Problems found in the kernel's tables (none: every call completed, one receipt per
    unique delivery, three status events per call in the outbox and on the timeline)."""
    from plugins.calls import Call, CallEvent, WebhookReceipt

    platform = build_platform(settings, plugin_list())
    problems: list[str] = []
    try:
        with tenant_scope(fixture.tenant_id):
            async with platform.database.session() as session:

                async def count(query: Any) -> int:
                    return int(await session.scalar(query) or 0)

                statuses = dict(
                    (
                        await session.execute(
                            select(Call.status, func.count()).group_by(Call.status)
                        )
                    ).all()
                )
                receipts = await count(select(func.count()).select_from(WebhookReceipt))
                timeline = dict(
                    (
                        await session.execute(
                            select(CallEvent.kind, func.count()).group_by(CallEvent.kind)
                        )
                    ).all()
                )
                names = dict(
                    (
                        await session.execute(
                            select(EventRecord.name, func.count()).group_by(EventRecord.name)
                        )
                    ).all()
                )
                per_call = Counter(
                    (
                        await session.scalars(
                            select(EventRecord.aggregate).where(EventRecord.name.in_(EVENT_NAMES))
                        )
                    ).all()
                )
    finally:
        await platform.database.dispose()
        platform.tracing.shutdown()
    calls = len(fixture.kernel_calls)
    if statuses.get("completed", 0) != sent or len(statuses) > 1 + (sent < calls):
        problems.append(f"kernel: call statuses {statuses}, expected {sent} completed")
    if receipts != 3 * sent:
        problems.append(f"kernel: {receipts} receipts, expected {3 * sent} (unique deliveries)")
    if timeline != {"status": 3 * sent}:
        problems.append(f"kernel: timeline entries {timeline}, expected {3 * sent} status")
    if names != dict.fromkeys(EVENT_NAMES, sent):
        problems.append(f"kernel: outbox events {names}, expected {sent} of each status event")
    if len(per_call) != sent or set(per_call.values()) != {3}:
        problems.append(f"kernel: {len(per_call)} calls with events, not 3 each for {sent}")
    return problems


async def verify_bare(settings: Settings, sent: int) -> list[str]:
    engine = make_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with engine.connect() as connection:
            receipts = await connection.scalar(select(func.count()).select_from(BARE_RECEIPTS))
            statuses = dict(
                (
                    await connection.execute(
                        select(BARE_CALLS.c.status, func.count()).group_by(BARE_CALLS.c.status)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    problems = []
    if receipts != 3 * sent:
        problems.append(f"baseline: {receipts} receipts, expected {3 * sent}")
    if statuses.get("completed", 0) != sent:
        problems.append(f"baseline: call statuses {statuses}, expected {sent} completed")
    return problems


# --- report -----------------------------------------------------------------------------------


# --- profile ------------------------------------------------------------------------------


class Stages:
    """Wall and CPU time of each stage of a request, exclusive of the stages nested in it
    (requests are sent one at a time, so a plain stack is enough; the CPU time is this
    process's, so on SQLite it includes the database's work in aiosqlite's thread)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.counts: Counter[str] = Counter()
        self.enabled = True
        self._stack: list[list[Any]] = []

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        frame: list[Any] = [label, 0.0, 0.0]  # label, nested wall, nested CPU
        self._stack.append(frame)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            self._stack.pop()
            self.seconds[label] += elapsed - frame[1]
            self.cpu[label] += cpu - frame[2]
            self.counts[label] += 1
            if self._stack:
                self._stack[-1][1] += elapsed
                self._stack[-1][2] += cpu

    @property
    def parent(self) -> str:
        return self._stack[-1][0] if self._stack else "-"

    def wrap(
        self, label: str | Callable[[], str], function: Callable[..., Awaitable[T]]
    ) -> Callable[..., Coroutine[Any, Any, T]]:
        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> T:
            with self.stage(label() if callable(label) else label):
                return await function(*args, **kwargs)

        return wrapper

    def wrap_sync(self, label: str, function: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            with self.stage(label):
                return function(*args, **kwargs)

        return wrapper


class Statements:
    """Time and count of SQL statements, by verb and table."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: Counter[str] = Counter()
        self.log: list[list[str]] = []
        """The statements of each request, in order."""
        self._started: list[float] = []

    @staticmethod
    def kind(statement: str) -> str:
        sql = " ".join(statement.split())
        match = re.match(r"(INSERT INTO|UPDATE|DELETE FROM)\s+(\S+)", sql, re.IGNORECASE)
        if match:
            return f"{match.group(1).upper()} {match.group(2)}"
        if sql.upper().startswith("SELECT"):
            source = re.search(r"\bFROM\s+(\S+)", sql, re.IGNORECASE)
            what = source.group(1) if source else sql[7:40]
            return f"SELECT {what}" + (" FOR UPDATE" if "FOR UPDATE" in sql.upper() else "")
        return " ".join(sql.split()[:2])

    def before(self, *_: Any) -> None:
        self._started.append(time.perf_counter())

    def after(self, _connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        kind = self.kind(statement)
        self.seconds[kind] += time.perf_counter() - self._started.pop()
        self.counts[kind] += 1
        if self.log:
            self.log[-1].append(kind)


def instrument(platform: Any, stages: Stages) -> None:
    """Put stage timers around the ingest's steps (in this process only)."""
    from plugins.calls import ingest, service, webhooks
    from plugins.twilio.provider import TwilioProvider

    vault, events = platform.vault, platform.events
    vault._reveal = stages.wrap("vault decrypt + audit row (a cache fill)", vault._reveal)
    vault.reveal_cached = stages.wrap("secret: version check, worker cache", vault.reveal_cached)
    events.publish = stages.wrap(
        "event publish (outbox row; pg_notify autoflushes)", events.publish
    )
    webhooks._check_tenant = stages.wrap("session opens, tenant check", webhooks._check_tenant)
    webhooks._webhook_request = stages.wrap_sync(
        "form parse, URL rebuilt", webhooks._webhook_request
    )
    webhooks.process = stages.wrap("ingest session (rest)", webhooks.process)
    ingest._claim = stages.wrap("receipt insert", ingest._claim)
    ingest._redelivered = stages.wrap("redelivery: stored answer read", ingest._redelivered)
    ingest._run = stages.wrap("answer kept on the receipt", ingest._run)
    service.find_call = stages.wrap("call lookup FOR UPDATE", service.find_call)
    service.apply_progress = stages.wrap(
        "status machine (timeline row added)", service.apply_progress
    )
    TwilioProvider.verify_webhook = stages.wrap(  # type: ignore[method-assign]
        "signature check (RequestValidator)", TwilioProvider.verify_webhook
    )
    TwilioProvider.parse_webhook = stages.wrap_sync(  # type: ignore[method-assign]
        "parse_webhook (normalize)", TwilioProvider.parse_webhook
    )
    commit = AsyncSession.commit
    AsyncSession.commit = stages.wrap(  # type: ignore[method-assign]
        lambda: f"commit ({stages.parent.split(' (')[0]}): flush + COMMIT", commit
    )


def cpu_by_package(stats: pstats.Stats) -> Counter[str]:
    """Own CPU time summed by where the code lives (a package, or a module of this project)."""
    seconds: Counter[str] = Counter()
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        if "site-packages/" in filename:
            where = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        elif filename.startswith(("~", "<")):
            where = "builtins: socket I/O" if "socket" in name else "builtins: other"
        elif "/kernel/" in filename or "/plugins/" in filename or "/benchmarks/" in filename:
            project = filename.rsplit("/kernel/", 1) if "/kernel/" in filename else None
            if project is not None:
                where = "kernel/" + project[1].split("/", 1)[0]
            else:
                tail = filename.split("/plugins/", 1)[-1] if "/plugins/" in filename else None
                where = f"plugins/{tail.split('/', 1)[0]}" if tail else "benchmarks"
        elif "/asyncio/" in filename:
            where = "asyncio (stdlib)"
        else:
            where = "stdlib, other"
        seconds[where] += own
    return seconds


@dataclass
class InProcessRun:
    """What :func:`run_in_process` measured: stage and statement timers over the timed
    requests, and a CPU profile over the profiled ones."""

    stages: Stages
    statements: Statements
    profiler: cProfile.Profile
    timed_requests: int
    profiled_requests: int
    cpu: float
    wall: float


async def run_in_process(
    app: FastAPI,
    base_url: str,
    *,
    phases: tuple[
        Sequence[Sequence[Delivery]], Sequence[Sequence[Delivery]], Sequence[Sequence[Delivery]]
    ],
    accepted: Callable[[httpx.Response], bool],
    instrument_stages: Callable[[Stages], None],
    prelude: Sequence[Sequence[Delivery]] = (),
) -> InProcessRun:
    """Send the warm-up, timed and profiled deliveries of ``phases`` one at a time through
    ``app`` in this process (after ``prelude``, untimed): stage timers and SQL statements over
    the timed ones, cProfile over the profiled ones. A response ``accepted`` refuses stops."""
    from sqlalchemy import event

    warm, timed, profiled = phases
    platform = app.state.platform
    stages, statements = Stages(), Statements()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:

            async def send(chain_list: Sequence[Sequence[Delivery]], timer: Stages | None) -> int:
                sent = 0
                for chain in chain_list:
                    for delivery in chain:
                        if timer is None:
                            response = await client.post(
                                delivery.path, content=delivery.body, headers=delivery.headers
                            )
                        else:
                            statements.log.append([])
                            with timer.stage("rest: httpx, ASGI, middleware, routing, answer"):
                                response = await client.post(
                                    delivery.path, content=delivery.body, headers=delivery.headers
                                )
                        if not accepted(response):
                            raise SystemExit(f"{response.status_code} {response.text[:300]}")
                        sent += 1
                return sent

            await send(prelude, None)
            await send(warm, None)
            instrument(platform, stages)
            instrument_stages(stages)
            engine = platform.database.engine.sync_engine
            event.listen(engine, "before_cursor_execute", statements.before)
            event.listen(engine, "after_cursor_execute", statements.after)
            cpu, wall = time.process_time(), time.perf_counter()
            timed_requests = await send(timed, stages)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            event.remove(engine, "before_cursor_execute", statements.before)
            event.remove(engine, "after_cursor_execute", statements.after)
            stages.enabled = False
            profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
            profiler.enable()
            profiled_requests = await send(profiled, None)
            profiler.disable()
    return InProcessRun(stages, statements, profiler, timed_requests, profiled_requests, cpu, wall)


def print_in_process(
    run: InProcessRun,
    args: argparse.Namespace,
    *,
    first_request: str,
    label_width: int = 50,
    packages: int = 14,
) -> None:
    """The tables of an :class:`InProcessRun`: stages, SQL statements (and those of the
    ``first_request`` in order), CPU by package, and the top functions when asked."""
    stages, statements, timed_requests = run.stages, run.statements, run.timed_requests
    total = sum(stages.seconds.values())
    width = label_width
    print()
    print(
        f"{'stage (exclusive of nested stages)':<{width}} {'wall ms':>8} {'share':>6} "
        f"{'CPU ms':>7} {'per req':>7}"
    )
    for label, seconds in sorted(stages.seconds.items(), key=lambda item: -item[1]):
        print(
            f"{label[:width]:<{width}} {seconds / timed_requests * 1e3:8.3f} "
            f"{seconds / total:6.1%} {stages.cpu[label] / timed_requests * 1e3:7.3f} "
            f"{stages.counts[label] / timed_requests:7.2f}"
        )
    print(
        f"{'all':<{width}} {total / timed_requests * 1e3:8.3f} {1:6.1%} "
        f"{sum(stages.cpu.values()) / timed_requests * 1e3:7.3f}"
    )
    print()
    print(f"{'SQL statement (driver round trip)':<52} {'ms/request':>10} {'per request':>11}")
    for kind, seconds in sorted(statements.seconds.items(), key=lambda item: -item[1]):
        print(
            f"{kind[:52]:<52} {seconds / timed_requests * 1e3:10.3f} "
            f"{statements.counts[kind] / timed_requests:11.2f}"
        )
    print(
        f"{'all statements':<52} {sum(statements.seconds.values()) / timed_requests * 1e3:10.3f} "
        f"{sum(statements.counts.values()) / timed_requests:11.2f}"
    )
    print("(BEGIN, COMMIT and the pool's pre-ping are not cursor statements: in the stages.)")
    print()
    print(f"statements of one {first_request}, in order:")
    for kind in statements.log[0]:
        print(f"  {kind}")
    print()
    output = io.StringIO()
    stats = pstats.Stats(run.profiler, stream=output)
    by_package = cpu_by_package(stats)
    cpu_total = sum(by_package.values())
    profiled_requests = run.profiled_requests
    print(
        f"cProfile, {profiled_requests} requests: own CPU time by package "
        f"({cpu_total / profiled_requests * 1e3:.2f} ms per request in all, the httpx client "
        "and the profiler's own cost included)"
    )
    for package, seconds in by_package.most_common(packages):
        print(
            f"  {package:<50} {seconds / profiled_requests * 1e3:8.3f} ms "
            f"{seconds / cpu_total:6.1%}"
        )
    if args.profile_top:
        stats.sort_stats("tottime").print_stats(args.profile_top)
        print()
        print(f"top {args.profile_top} functions by own CPU time:")
        print("\n".join(output.getvalue().splitlines()[4:]))
    if args.profile_out:
        stats.dump_stats(args.profile_out)
        print(f"full profile: {args.profile_out} (python -m pstats)")


def in_process_app(settings: Settings, public_base: str, plugins: list[object]) -> FastAPI:
    """The kernel app for a profile in this process: no background workers, quiet logs."""
    os.environ["KRALIKI_CALLS_PUBLIC_BASE_URL"] = public_base
    return create_app(
        Settings(
            _env_file=None,
            **{**settings.model_dump(), "background_workers": False, "log_level": "WARNING"},
        ),
        plugins=plugins,
    )


async def profile(args: argparse.Namespace, settings: Settings, fixture: Fixture) -> None:
    """The kernel app in this process, one request at a time: stages, SQL, cProfile."""
    public_base = "http://ingest.bench"
    app = in_process_app(settings, public_base, plugin_list())
    chains = plan(public_base, fixture, fixture.kernel_calls, args.duplicates, args.seed)
    half = args.warmup + args.calls // 2
    timed = chains[args.warmup : half]
    run = await run_in_process(
        app,
        public_base,
        phases=(chains[: args.warmup], timed, chains[half : args.warmup + args.calls]),
        accepted=lambda response: response.status_code == 200,
        instrument_stages=lambda _stages: None,
    )
    _, unique, duplicates = expected_counts(timed)
    print(
        f"Kernel ingest in one process ({app.state.platform.database.dialect}), one request "
        f"at a time: {run.timed_requests} requests ({unique} unique, {duplicates} "
        f"redeliveries), {run.wall / run.timed_requests * 1e3:.2f} ms wall and "
        f"{run.cpu / run.timed_requests * 1e3:.2f} ms CPU per request (this process; with "
        "SQLite that includes the database's work)"
    )
    print_in_process(run, args, first_request="first delivery")


# --- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=600, help="measured calls per app")
    parser.add_argument(
        "--duplicates",
        type=float,
        default=0.1,
        help="probability that a delivery is redelivered exactly (0 to 1)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight")
    parser.add_argument("--workers", type=int, default=1, help="server processes per app")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (app order rotates)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up calls per app")
    parser.add_argument(
        "--pool-size", type=int, default=10, help="PostgreSQL pool size (and overflow), both apps"
    )
    parser.add_argument(
        "--dispatch",
        action="store_true",
        help="run the event dispatcher and job workers in the kernel's server process(es), "
        "as `kraliki serve` does by default (off: events stay in the outbox, as with "
        "dedicated `kraliki worker` processes)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the redelivery choice")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the kernel path in this process instead (stages, SQL, cProfile)",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="cProfile rows shown")
    parser.add_argument("--profile-out", help="write the full cProfile data to this file")
    args = parser.parse_args()
    if min(args.calls, args.concurrency, args.workers, args.rounds, args.pool_size) < 1:
        parser.error("--calls, --concurrency, --workers, --rounds and --pool-size must be >= 1")
    if args.warmup < 0 or not 0 <= args.duplicates <= 1:
        parser.error("--warmup must be >= 0 and --duplicates between 0 and 1")
    if not args.profile and args.calls < args.rounds:
        parser.error("--calls must be at least --rounds")
    return args


def main() -> None:
    args = parse_args()
    backend = Backend.from_environment()
    settings, settings_values = bench_settings(
        backend, jwt_secret=JWT_SECRET, pool_size=args.pool_size
    )
    calls = args.warmup + args.calls
    servers: list[Servers] = []
    with runner(profile=args.profile) as run:
        try:
            run(backend.create())
            version = run(database_version(settings))
            if args.profile:
                fixture = run(prepare(settings, calls, bare=False))
                run(profile(args, settings, fixture))
                print()
                print(machine(version))
                return
            fixture = run(prepare(settings, calls))
            kernel = start_servers(
                IngestSpec("kernel", free_port(), settings_values, "", args.dispatch),
                args.workers,
            )
            servers.append(kernel)
            bare = start_servers(
                IngestSpec("bare", free_port(), settings_values, fixture.auth_token, False),
                args.workers,
            )
            servers.append(bare)
            for group in servers:
                run(wait_ready(group.workers[0]))
            targets = [
                Target(
                    "bare FastAPI + Core (baseline)",
                    bare,
                    plan(bare.base_url, fixture, fixture.bare_calls, args.duplicates, args.seed),
                ),
                Target(
                    "kernel webhook ingest",
                    kernel,
                    plan(
                        kernel.base_url, fixture, fixture.kernel_calls, args.duplicates, args.seed
                    ),
                ),
            ]
            client_cpu = run(measure(targets, args))
            for group in servers:
                group.stop()
            sent = [target.chains[: target.next_chain] for target in targets]
            problems = run(verify_bare(settings, len(sent[0])))
            problems += run(verify_kernel(settings, fixture, len(sent[1])))
        finally:
            for group in servers:
                group.stop()
            run(backend.drop())
    if problems:
        raise SystemExit("CORRECTNESS CHECK FAILED:\n  " + "\n  ".join(problems))
    _, unique, duplicates = expected_counts(sent[1])
    if backend.schema:
        database = f"postgresql (schema {backend.schema}), pool {args.pool_size}+{args.pool_size}"
    else:
        database = "sqlite (file, WAL; SQLAlchemy's default pool, as the kernel's engine)"
    loop = loop_name()
    report(
        targets,
        [
            "Webhook ingest: signed Twilio status callbacks (ringing, in-progress, completed)",
            f"database: {database}",
            f"load: {args.calls // args.rounds * args.rounds} calls per app in {args.rounds} "
            f"rounds after {args.warmup} warm-up calls, {unique + duplicates} requests per app "
            f"({unique} unique, {duplicates} redeliveries, --duplicates {args.duplicates}), "
            f"concurrency {args.concurrency} calls, {args.workers} worker process(es) per app, "
            f"dispatcher {'on' if args.dispatch else 'off'}; one httpx.AsyncClient ({loop}, "
            f"{client_cpu * 1e6:.0f} us CPU/request)",
            machine(version),
        ],
        compare=True,
    )
    print(
        f"checked: {len(sent[1])} kernel calls completed, {unique} receipts, "
        f"{3 * len(sent[1])} status events in the outbox (3 per call), redeliveries answered "
        "200 and changing nothing; the baseline's receipts and calls likewise"
    )


if __name__ == "__main__":
    main()
