"""Cost of the kernel's request path (authentication, RBAC, tenant scoping) over bare FastAPI.

Both apps serve ``GET /api/v1/bench/items/{id}``, one row of a tenant-owned table, through
uvicorn on 127.0.0.1, each in its own process:

* kernel: a plugin route with ``Depends(require("bench.items", "read"))`` and ``SessionDep``
  selecting the row through the ORM (tenant criteria added by the kernel, row-level security
  on PostgreSQL), called with an access token (JWT) and, as a second variant, an API key;
* baseline: a FastAPI app without the kernel, its own engine on the same database and the
  same query (``SELECT id, name FROM bench_items WHERE tenant_id = :t AND id = :i``, after
  ``set_config('app.tenant_id', ...)`` on PostgreSQL so row-level security admits it).

Each is driven with ``--requests`` requests at ``--concurrency`` from this process, for
``--rounds`` rounds (order rotated), by a minimal keep-alive HTTP/1.1 client (``--client
httpx`` uses httpx.AsyncClient, which costs more CPU per request than the servers under test
and so flattens the ratio). Reported: requests/s (median of rounds), p50/p99 latency (all
rounds), CPU time of the server process per request, and each kernel variant's throughput
and CPU cost relative to the baseline's.

PostgreSQL when ``KRALIKI_BENCH_DATABASE_URL`` (app role) and
``KRALIKI_BENCH_MIGRATION_DATABASE_URL`` (owner role) are set, in a throwaway schema dropped
at the end; otherwise a SQLite file in a temporary directory.

    .venv/bin/python benchmarks/request_overhead.py [--requests 3000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Annotated, Any, TypeVar

import httpx
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import Connection as SyncConnection
from sqlalchemy import String, Uuid, bindparam, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import NullPool

from kernel import (
    Base,
    Database,
    Permission,
    PluginInfo,
    Principal,
    SessionDep,
    Settings,
    Tenant,
    TenantOwnedMixin,
    UUIDPrimaryKeyMixin,
    add_user,
    create_app,
    enable_tenant_rls,
    hookimpl,
    require,
    tenant_scope,
)
from kernel._db import make_engine
from kernel._migrations import upgrade
from kernel._platform import resolve_plugins
from kernel.testing import schema_grants

APP_URL_ENV = "KRALIKI_BENCH_DATABASE_URL"
OWNER_URL_ENV = "KRALIKI_BENCH_MIGRATION_DATABASE_URL"
HOST = "127.0.0.1"
ITEM_PATH = "/api/v1/bench/items/{}"
PASSWORD = "bench password, not secret"
JWT_SECRET = "request-overhead-benchmark-signing-key-0123456789"
T = TypeVar("T")

# --- the plugin under test ------------------------------------------------------------------

READ = Permission("bench.items", "read", "Read benchmark items.", default_roles=("admin", "agent"))


class BenchItem(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A tenant-owned row; its table is created by this script (there is no migration)."""

    __tablename__ = "bench_items"

    name: Mapped[str] = mapped_column(String(100))


class ItemOut(BaseModel):
    id: uuid.UUID
    name: str


Reader = Annotated[Principal, Depends(require(READ.resource, READ.action))]


def bench_router() -> APIRouter:
    router = APIRouter()

    @router.get("/items/{item_id}", response_model=ItemOut)
    async def get_item(item_id: uuid.UUID, session: SessionDep, _: Reader) -> ItemOut:
        item = await session.scalar(select(BenchItem).where(BenchItem.id == item_id))
        if item is None:
            raise HTTPException(404, "no such item")
        return ItemOut(id=item.id, name=item.name)

    return router


class BenchPlugin:
    """The plugin object (hook implementations as methods)."""

    @hookimpl
    def kraliki_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="bench", version="1.0", description="request overhead benchmark")

    @hookimpl
    def kraliki_permissions(self) -> Sequence[Permission]:
        return [READ]

    @hookimpl
    def kraliki_models(self) -> Sequence[type]:
        return [BenchItem]

    @hookimpl
    def kraliki_routes(self) -> Sequence[APIRouter]:
        return [bench_router()]


# --- the baseline -----------------------------------------------------------------------------

BARE_QUERY = (
    text("SELECT id, name FROM bench_items WHERE tenant_id = :t AND id = :i")
    .bindparams(bindparam("t", type_=Uuid()), bindparam("i", type_=Uuid()))
    .columns(id=Uuid(), name=String())
)
SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")


def bare_app(url: str, schema: str | None, tenant_id: uuid.UUID, pool_size: int) -> FastAPI:
    """FastAPI and SQLAlchemy Core, no kernel: no credential, no RBAC, no ORM scoping."""
    postgres = not url.startswith("sqlite")
    if postgres:
        connect_args = {"server_settings": {"search_path": schema}} if schema else {}
        engine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args
        )
    else:
        engine = create_async_engine(url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/bench/items/{item_id}", response_model=ItemOut)
    async def get_item(item_id: uuid.UUID) -> ItemOut:
        async with engine.begin() as connection:
            if postgres:
                await connection.execute(SET_TENANT, {"tenant": str(tenant_id)})
            row = (await connection.execute(BARE_QUERY, {"t": tenant_id, "i": item_id})).first()
        if row is None:
            raise HTTPException(404, "no such item")
        return ItemOut(id=row.id, name=row.name)

    return app


# --- server processes -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    kind: str  # "kernel" or "bare"
    port: int
    settings: dict[str, Any]
    tenant_id: uuid.UUID


def _report_cpu(connection: Connection) -> None:
    """Answer each message from the parent with this process's CPU seconds so far."""
    while True:
        try:
            connection.recv()
        except EOFError:
            return
        times = os.times()
        connection.send(times.user + times.system)


def serve(spec: ServerSpec, connection: Connection) -> None:
    """Entry point of a server process."""
    if spec.kind == "kernel":
        app = create_app(Settings(_env_file=None, **spec.settings), plugins=[BenchPlugin()])
    else:
        app = bare_app(
            spec.settings["database_url"],
            spec.settings["database_schema"],
            spec.tenant_id,
            spec.settings["database_pool_size"],
        )
    threading.Thread(target=_report_cpu, args=(connection,), daemon=True).start()
    config = uvicorn.Config(
        app,
        host=HOST,
        port=spec.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=600,  # idle between rounds; the client reconnects in any case
    )
    uvicorn.Server(config).run()


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    spec: Any, target: Callable[[Any, Connection], None] | None = None, name: str | None = None
) -> Server:
    """Run ``target(spec, connection)`` (default: :func:`serve`) in a spawned process; the
    target answers CPU-time queries on ``connection`` (:func:`_report_cpu`)."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(
        target=target or serve, args=(spec, child_end), name=name or f"bench-{spec.kind}"
    )
    process.start()
    child_end.close()
    return Server(spec.kind, process, parent_end, spec.port)


async def wait_ready(server: Server, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        while True:
            if not server.process.is_alive():
                raise SystemExit(
                    f"the {server.name} server exited (code {server.process.exitcode})"
                )
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the {server.name} server did not start in {within:.0f} s")
            await asyncio.sleep(0.1)


# --- database ---------------------------------------------------------------------------------


@dataclass
class Backend:
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


def _create_bench_table(connection: SyncConnection) -> None:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    Base.metadata.create_all(connection, tables=[BenchItem.__table__])  # type: ignore[list-item]
    with Operations.context(MigrationContext.configure(connection)):
        enable_tenant_rls(BenchItem.__tablename__)


@dataclass
class Fixture:
    tenant_id: uuid.UUID
    item_ids: list[uuid.UUID]


async def prepare(settings: Settings, items: int) -> Fixture:
    """Migrate, create the benchmark table, a tenant, its users and ``items`` rows."""
    await upgrade(settings, resolve_plugins(settings, [BenchPlugin()]))
    owner = make_engine(settings.owner_database_url, schema=settings.database_schema)
    try:
        async with owner.begin() as connection:
            await connection.run_sync(_create_bench_table)
    finally:
        await owner.dispose()
    database = Database(make_engine(settings.database_url, schema=settings.database_schema))
    try:
        async with database.session() as session:
            tenant = Tenant(slug="bench", name="Bench")
            session.add(tenant)
            await session.commit()
            tenant_id = tenant.id
        with tenant_scope(tenant_id):
            async with database.session() as session:
                await add_user(session, email="agent@bench.test", password=PASSWORD)
                await add_user(
                    session, email="admin@bench.test", password=PASSWORD, roles=("admin",)
                )
                rows = [BenchItem(id=uuid.uuid4(), name=f"item {i}") for i in range(items)]
                session.add_all(rows)
                await session.commit()
                item_ids = [row.id for row in rows]
    finally:
        await database.dispose()
    return Fixture(tenant_id, item_ids)


async def credentials(base_url: str) -> tuple[str, str]:
    """(access token of the agent, API key with role agent created by the admin)."""
    async with httpx.AsyncClient(base_url=base_url) as client:

        async def login(email: str) -> dict[str, str]:
            body = {"tenant": "bench", "email": email, "password": PASSWORD}
            response = await client.post("/api/v1/auth/login", json=body)
            response.raise_for_status()
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        agent = await login("agent@bench.test")
        admin = await login("admin@bench.test")
        response = await client.post(
            "/api/v1/api-keys", json={"name": "bench", "roles": ["agent"]}, headers=admin
        )
        response.raise_for_status()
        return agent["Authorization"], f"Bearer {response.json()['secret']}"


# --- load -------------------------------------------------------------------------------------


class Lane:
    """One HTTP/1.1 keep-alive connection sending requests one after another.

    A few dozen lines instead of httpx: on a small machine httpx spends 1 to 3 ms of CPU per
    request, more than the servers under test, so it would measure itself (``--client httpx``
    shows that).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.headers = b""

    @classmethod
    async def open(cls, port: int, authorization: str | None) -> Lane:
        reader, writer = await asyncio.open_connection(HOST, port)
        lane = cls(reader, writer)
        lane.headers = f"Host: {HOST}:{port}\r\n".encode()
        if authorization:
            lane.headers += f"Authorization: {authorization}\r\n".encode()
        return lane

    async def get(self, path: str) -> tuple[int, bytes]:
        self._writer.write(b"GET %s HTTP/1.1\r\n%s\r\n" % (path.encode(), self.headers))
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        length = None
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"response without Content-Length: {head!r}")
        return int(status_line.split(b" ", 2)[1]), await self._reader.readexactly(length)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


class HttpxLane:
    """The same interface over a shared ``httpx.AsyncClient`` (``--client httpx``)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def get(self, path: str) -> tuple[int, bytes]:
        response = await self._client.get(path)
        return response.status_code, response.content

    async def close(self) -> None:
        return None


@dataclass
class Target:
    label: str
    server: Server
    authorization: str | None
    throughputs: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    requests: int = 0
    httpx_client: httpx.AsyncClient | None = None

    async def lanes(self, count: int, client: str) -> list[Lane] | list[HttpxLane]:
        if client == "raw":
            return list(
                await asyncio.gather(
                    *(Lane.open(self.server.port, self.authorization) for _ in range(count))
                )
            )
        if self.httpx_client is None:
            self.httpx_client = httpx.AsyncClient(
                base_url=self.server.base_url,
                headers={"Authorization": self.authorization} if self.authorization else None,
                limits=httpx.Limits(max_connections=count, max_keepalive_connections=count),
                timeout=60.0,
            )
        return [HttpxLane(self.httpx_client)] * count


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def drive(
    target: Target, paths: Sequence[str], requests: int, concurrency: int, client: str
) -> tuple[float, list[float]]:
    """Send ``requests`` GETs, ``concurrency`` at a time: (elapsed seconds, latencies)."""
    lanes = await target.lanes(concurrency, client)
    latencies: list[float] = []
    counter = iter(range(requests))
    failures: list[str] = []

    async def worker(lane: Lane | HttpxLane) -> None:
        for index in counter:
            started = time.perf_counter()
            status, body = await lane.get(paths[index % len(paths)])
            latencies.append(time.perf_counter() - started)
            if status != 200 and len(failures) < 3:
                failures.append(f"{status} {body[:300]!r}")

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(lane) for lane in lanes))
    finally:
        elapsed = time.perf_counter() - started
        for lane in lanes:
            await lane.close()
    if failures:
        raise SystemExit(f"{target.label}: requests failed: {failures}")
    return elapsed, latencies


async def check(targets: list[Target], item_id: uuid.UUID) -> None:
    """Each endpoint answers the row; the kernel refuses a request without a credential."""
    path = ITEM_PATH.format(item_id)
    async with httpx.AsyncClient() as client:
        for target in targets:
            headers = {"Authorization": target.authorization} if target.authorization else {}
            response = await client.get(target.server.base_url + path, headers=headers)
            if response.status_code != 200 or response.json()["id"] != str(item_id):
                raise SystemExit(f"{target.label}: {response.status_code} {response.text}")
            if target.authorization:
                anonymous = await client.get(target.server.base_url + path)
                if anonymous.status_code != 401:
                    raise SystemExit(f"{target.label}: no credential gave {anonymous.status_code}")


async def measure(targets: list[Target], paths: list[str], args: argparse.Namespace) -> None:
    try:
        for target in targets:  # warm-up: connections, policy cache, statement caches
            await drive(target, paths, args.warmup, args.concurrency, args.client)
        for round_index in range(args.rounds):
            shift = round_index % len(targets)
            for target in targets[shift:] + targets[:shift]:
                cpu_before = target.server.cpu_seconds()
                elapsed, latencies = await drive(
                    target, paths, args.requests, args.concurrency, args.client
                )
                target.server_cpu += target.server.cpu_seconds() - cpu_before
                target.throughputs.append(args.requests / elapsed)
                target.latencies.extend(latencies)
                target.requests += args.requests
    finally:
        for target in targets:
            if target.httpx_client is not None:
                await target.httpx_client.aclose()


def report(targets: list[Target], header: list[str]) -> None:
    baseline = statistics.median(targets[0].throughputs)
    baseline_cpu = targets[0].server_cpu / targets[0].requests
    print("\n".join(header))
    print()
    print(
        f"{'endpoint':<32} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU us/req':>10} {'ratio':>6} {'CPU ratio':>9}"
    )
    print("-" * 84)
    for target in targets:
        throughput = statistics.median(target.throughputs)
        latencies = sorted(target.latencies)
        cpu = target.server_cpu / target.requests
        print(
            f"{target.label:<32} {throughput:7.0f} {percentile(latencies, 0.5) * 1e3:7.2f} "
            f"{percentile(latencies, 0.99) * 1e3:7.2f} {cpu * 1e6:10.0f} "
            f"{throughput / baseline:6.2f} {baseline_cpu / cpu:9.2f}"
        )
    print()
    for target in targets:
        rounds = ", ".join(f"{value:.0f}" for value in target.throughputs)
        print(f"req/s per round, {target.label}: {rounds}")
    print()
    print("ratio: throughput / the baseline's (medians of rounds). CPU us/req: user+system time")
    print("of the server process per request (not the database's); CPU ratio: baseline's / this.")


# --- main -------------------------------------------------------------------------------------


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000, help="requests per target and round")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (target order rotates)")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up requests per target")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: minimal keep-alive HTTP/1.1 client, or httpx.AsyncClient "
        "(costs more CPU per request than the servers; the figures then measure it)",
    )
    parser.add_argument("--items", type=int, default=1000, help="rows in the benchmark table")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=10,
        help="PostgreSQL connection pool size (and overflow), both apps",
    )
    args = parser.parse_args()
    if min(args.requests, args.concurrency, args.rounds, args.items, args.pool_size) < 1:
        parser.error("--requests, --concurrency, --rounds, --items and --pool-size must be >= 1")
    return args


def main() -> None:
    args = parse_args()
    backend = Backend.from_environment()
    settings_values: dict[str, Any] = {
        "database_url": backend.app_url,
        "migration_database_url": backend.owner_url,
        "database_schema": backend.schema,
        "database_pool_size": args.pool_size,
        "jwt_secret": JWT_SECRET,
        "access_token_ttl_seconds": 3600,
        "rate_limit_tenant_per_minute": 0,
        "rate_limit_api_key_per_minute": 0,
        "log_level": "WARNING",
    }
    settings = Settings(_env_file=None, **settings_values)
    settings_values["database_url"] = settings.database_url  # normalized driver scheme
    servers: list[Server] = []
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:

        def run(coroutine: Coroutine[Any, Any, T]) -> T:
            return runner.run(coroutine)

        try:
            run(backend.create())
            fixture = run(prepare(settings, args.items))
            kernel = start_server(
                ServerSpec("kernel", free_port(), settings_values, fixture.tenant_id)
            )
            servers.append(kernel)
            bare = start_server(ServerSpec("bare", free_port(), settings_values, fixture.tenant_id))
            servers.append(bare)
            for server in servers:
                run(wait_ready(server))
            access_token, api_key = run(credentials(kernel.base_url))
            targets = [
                Target("bare FastAPI + SQLAlchemy Core", bare, None),
                Target("kernel, access token (JWT)", kernel, access_token),
                Target("kernel, API key", kernel, api_key),
            ]
            paths = [ITEM_PATH.format(item_id) for item_id in fixture.item_ids]
            run(check(targets, fixture.item_ids[0]))
            client_cpu = time.process_time()
            run(measure(targets, paths, args))
            client_cpu = time.process_time() - client_cpu
        finally:
            for server in servers:
                server.stop()
            run(backend.drop())
    loop = "uvloop" if event_loop_factory() else "asyncio"
    if backend.schema:
        database = f"postgresql (schema {backend.schema}), pool {args.pool_size}+{args.pool_size}"
    else:
        database = "sqlite (file; SQLAlchemy's default pool, as the kernel's engine)"
    total = sum(target.requests for target in targets) + args.warmup * len(targets)
    report(
        targets,
        [
            "Request overhead: authenticated, RBAC-checked, tenant-scoped GET of one row",
            f"database: {database}; {args.items} rows",
            f"load: {args.requests} requests x {args.rounds} rounds per endpoint, "
            f"concurrency {args.concurrency}, {args.client} client ({loop}, "
            f"{client_cpu / total * 1e6:.0f} us CPU/request)",
            f"machine: {os.cpu_count()} CPUs, CPython {sys.version.split()[0]}, "
            f"uvicorn {uvicorn.__version__} (loop and http: auto); client, servers and "
            "database share the CPUs",
        ],
    )


if __name__ == "__main__":
    main()
