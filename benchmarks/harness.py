"""What the benchmarks share: the database (a throwaway PostgreSQL schema or SQLite file),
the platform's settings, a migrated tenant, tokens, server processes whose CPU time can be
read, and the report of each measured target against the baseline measured in the same run.

A benchmark measures the platform's code and a baseline in the same process, on the same
machine, at the same moment, and reports the ratio (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import platform as host_platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol, TypeVar

import httpx
import uvicorn
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kernel import Database, Settings, Tenant, add_user, tenant_scope
from kernel._db import make_engine
from kernel._migrations import upgrade
from kernel._platform import resolve_plugins
from kernel._vault.keys import new_master_key
from kernel.testing import schema_grants

APP_URL_ENV = "KRALIKI_BENCH_DATABASE_URL"
OWNER_URL_ENV = "KRALIKI_BENCH_MIGRATION_DATABASE_URL"
HOST = "127.0.0.1"
TENANT_SLUG = "bench"
T = TypeVar("T")

# --- database ---------------------------------------------------------------------------------


@dataclass
class Backend:
    """PostgreSQL when ``KRALIKI_BENCH_DATABASE_URL`` (app role) and
    ``KRALIKI_BENCH_MIGRATION_DATABASE_URL`` (owner role) are set, in a throwaway schema;
    otherwise a SQLite file in a temporary directory. Both are removed by :meth:`drop`."""

    dialect: str
    app_url: str
    owner_url: str
    schema: str | None = None
    directory: str | None = None

    @classmethod
    def from_environment(cls) -> Backend:
        app_url, owner_url = os.environ.get(APP_URL_ENV), os.environ.get(OWNER_URL_ENV)
        if app_url:
            return cls(
                "postgresql", app_url, owner_url or app_url, f"bench_{uuid.uuid4().hex[:12]}"
            )
        directory = tempfile.mkdtemp(prefix="kraliki-bench-")
        url = f"sqlite+aiosqlite:///{directory}/bench.db"
        return cls("sqlite", url, url, directory=directory)

    def owner_engine(self) -> AsyncEngine:
        url = Settings(_env_file=None, database_url=self.owner_url).database_url
        return create_async_engine(url, poolclass=NullPool)

    async def create(self) -> None:
        if self.schema is None:
            return
        app_role = make_url(self.app_url).username
        owner_role = make_url(self.owner_url).username
        engine = self.owner_engine()
        try:
            async with engine.begin() as connection:
                await connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
                if app_role and app_role != owner_role:
                    for statement in schema_grants(self.schema, app_role):
                        await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def drop(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        if self.schema is None:
            return
        engine = self.owner_engine()
        try:
            async with engine.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        finally:
            await engine.dispose()

    def describe(self, pool_size: int | None = None) -> str:
        if self.schema is None:
            return "sqlite (file; SQLAlchemy's default pool, as the kernel's engine)"
        pool = f", pool {pool_size}+{pool_size}" if pool_size else ""
        return f"postgresql (schema {self.schema}){pool}"


def bench_settings(
    backend: Backend, *, jwt_secret: str, pool_size: int = 10, **extra: Any
) -> tuple[Settings, dict[str, Any]]:
    """The platform's settings for a benchmark (a fresh vault key, no rate limits, quiet
    logs), and the same as plain values for server processes (URLs normalized)."""
    values: dict[str, Any] = {
        "database_url": backend.app_url,
        "migration_database_url": backend.owner_url,
        "database_schema": backend.schema,
        "database_pool_size": pool_size,
        "master_key": new_master_key(),
        "jwt_secret": jwt_secret,
        "access_token_ttl_seconds": 3600,
        "rate_limit_tenant_per_minute": 0,
        "rate_limit_api_key_per_minute": 0,
        "log_level": "WARNING",
        **extra,
    }
    settings = Settings(_env_file=None, **values)
    values["database_url"] = settings.database_url  # the normalized driver scheme
    values["migration_database_url"] = settings.migration_database_url
    return settings, values


async def migrate(settings: Settings, plugins: list[object]) -> None:
    """Every branch of the kernel, ``tenants`` and ``plugins``, as the owner role."""
    await upgrade(settings, resolve_plugins(settings, plugins))


async def create_tenant(database: Database, slug: str = TENANT_SLUG) -> uuid.UUID:
    async with database.session() as session:
        tenant = Tenant(slug=slug, name=slug.title())
        session.add(tenant)
        await session.commit()
        return tenant.id


async def add_users(
    database: Database, tenant_id: uuid.UUID, password: str, users: dict[str, Sequence[str]]
) -> None:
    """Users of the tenant: e-mail -> roles (empty: the default role)."""
    with tenant_scope(tenant_id):
        async with database.session() as session:
            for email, roles in users.items():
                if roles:
                    await add_user(session, email=email, password=password, roles=tuple(roles))
                else:
                    await add_user(session, email=email, password=password)
            await session.commit()


async def login(
    client: httpx.AsyncClient, email: str, password: str, tenant: str = TENANT_SLUG
) -> str:
    """An access token (a ``Bearer`` value's secret) for a user of ``tenant``."""
    body = {"tenant": tenant, "email": email, "password": password}
    response = await client.post("/api/v1/auth/login", json=body)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def database_version(settings: Settings) -> str:
    engine = make_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                version = await connection.scalar(text("SHOW server_version"))
                return f"PostgreSQL {str(version).split()[0]}"
            version = await connection.scalar(text("SELECT sqlite_version()"))
            return f"SQLite {version}"
    finally:
        await engine.dispose()


# --- server processes -------------------------------------------------------------------------


def report_cpu(connection: Connection) -> None:
    """Answer each message from the parent with this process's CPU seconds so far (run in
    a daemon thread of a server process)."""
    while True:
        try:
            connection.recv()
        except EOFError:
            return
        times = os.times()
        connection.send(times.user + times.system)


@dataclass
class Server:
    name: str
    process: BaseProcess
    connection: Connection
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        self.connection.send(None)
        seconds: float = self.connection.recv()
        return seconds

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()  # SIGTERM: uvicorn shuts down, lifespan disposes
            self.process.join(15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


@dataclass
class Servers:
    """One app's worker processes, all on one port."""

    name: str
    port: int
    workers: list[Server]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        return sum(worker.cpu_seconds() for worker in self.workers)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def listening_socket(port: int) -> socket.socket:
    """A socket on ``port`` that other worker processes may bind too (the kernel spreads
    connections over them)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    sock.listen(2048)
    return sock


def start_server(spec: Any, target: Callable[[Any, Connection], None], name: str) -> Server:
    """Run ``target(spec, connection)`` in a spawned process (``spec.port``); the target
    answers CPU-time queries on ``connection`` (:func:`report_cpu`)."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(target=target, args=(spec, child_end), name=name)
    process.start()
    child_end.close()
    return Server(name, process, parent_end, spec.port)


async def wait_ready(server: Server | Servers, within: float = 60.0) -> None:
    """Until ``/healthz`` answers 200 (or a process exits: stop the benchmark)."""
    deadline = time.monotonic() + within
    processes = server.workers if isinstance(server, Servers) else [server]
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        while True:
            for process in processes:
                if not process.process.is_alive():
                    raise SystemExit(
                        f"the {process.name} server exited (code {process.process.exitcode})"
                    )
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the {server.name} server did not start in {within:.0f} s")
            await asyncio.sleep(0.1)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    return "uvloop" if event_loop_factory() else "asyncio"


@contextmanager
def runner(*, profile: bool = False) -> Iterator[Callable[[Coroutine[Any, Any, T]], T]]:
    """``run(coroutine)`` on one event loop (uvloop when installed; asyncio's own loop when
    profiling: cProfile cannot see into uvloop's)."""
    with asyncio.Runner(loop_factory=None if profile else event_loop_factory()) as loop:
        yield loop.run


# --- figures ----------------------------------------------------------------------------------


class Measured(Protocol):
    """A target measured over rounds: its label, throughput per round, every latency, and
    the server CPU seconds its requests cost."""

    label: str
    throughputs: list[float]
    latencies: list[float]
    server_cpu: float
    requests: int


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def ratio(value: float, baseline: float) -> str:
    """``x0.85``: how ``value`` compares with the baseline's figure."""
    return f"x{value / baseline:.2f}"


def per_call_us(function: Callable[[int], object], rounds: int, repeats: int = 5) -> float:
    """Median over ``repeats`` of ``function(rounds)``'s time per round, in microseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(rounds)
        samples.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(samples)


def report(targets: Sequence[Measured], header: list[str], *, compare: bool = False) -> None:
    """The table of targets, the first being the baseline: req/s (median of rounds), p50 and
    p99 latency, server CPU per request, and both ratios to the baseline. ``compare``: also
    a line comparing the second target (the kernel's) with the baseline."""
    baseline = targets[0]
    base_rate = statistics.median(baseline.throughputs)
    base_cpu = baseline.server_cpu / baseline.requests
    width = max(32, *(len(target.label) for target in targets))
    print("\n".join(header))
    print()
    print(
        f"{'endpoint':<{width}} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU us/req':>10} {'ratio':>6} {'CPU ratio':>9}"
    )
    print("-" * (width + 52))
    for target in targets:
        rate = statistics.median(target.throughputs)
        latencies = sorted(target.latencies)
        cpu = target.server_cpu / target.requests
        print(
            f"{target.label:<{width}} {rate:7.0f} {percentile(latencies, 0.5) * 1e3:7.2f} "
            f"{percentile(latencies, 0.99) * 1e3:7.2f} {cpu * 1e6:10.0f} "
            f"{rate / base_rate:6.2f} {base_cpu / cpu:9.2f}"
        )
    print()
    for target in targets:
        rounds = ", ".join(f"{value:.0f}" for value in target.throughputs)
        print(f"req/s per round, {target.label}: {rounds}")
    if compare:
        kernel = targets[1]
        ours, theirs = sorted(kernel.latencies), sorted(baseline.latencies)
        p50 = percentile(ours, 0.5) / percentile(theirs, 0.5)
        p99 = percentile(ours, 0.99) / percentile(theirs, 0.99)
        print(
            f"kernel / baseline: throughput "
            f"{statistics.median(kernel.throughputs) / base_rate:.2f}, "
            f"p50 latency x{p50:.1f}, p99 latency x{p99:.1f}, "
            f"server CPU per request x{kernel.server_cpu / kernel.requests / base_cpu:.1f}"
        )
    print()
    print("ratio: throughput / the baseline's (medians of rounds). CPU us/req: user+system time")
    print("of the server processes per request (not the database's); CPU ratio: baseline's / this.")


def machine(dialect_version: str) -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = (line.split(":", 1)[1] for line in cpuinfo if line.startswith("model name"))
            model = next(names, "").strip()
    except OSError:
        model = host_platform.processor()
    return (
        f"machine: {os.cpu_count()} CPUs ({model or 'unknown'}), CPython "
        f"{sys.version.split()[0]}, uvicorn {uvicorn.__version__}, {dialect_version}; client, "
        "servers and database share the CPUs"
    )
