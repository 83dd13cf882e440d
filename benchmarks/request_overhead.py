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
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Annotated, Any, TypeVar

import httpx
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from harness import (
    HOST,
    Backend,
    Server,
    add_users,
    bench_settings,
    create_tenant,
    free_port,
    login,
    loop_name,
    migrate,
    report,
    report_cpu,
    runner,
    start_server,
    wait_ready,
)
from pydantic import BaseModel
from sqlalchemy import Connection as SyncConnection
from sqlalchemy import String, Uuid, bindparam, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base,
    Database,
    Permission,
    PluginInfo,
    Principal,
    SessionDep,
    Settings,
    TenantOwnedMixin,
    UUIDPrimaryKeyMixin,
    create_app,
    enable_tenant_rls,
    hookimpl,
    require,
    tenant_scope,
)
from kernel._db import make_engine

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
    threading.Thread(target=report_cpu, args=(connection,), daemon=True).start()
    config = uvicorn.Config(
        app,
        host=HOST,
        port=spec.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=600,  # idle between rounds; the client reconnects in any case
    )
    uvicorn.Server(config).run()


# --- database ---------------------------------------------------------------------------------


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
    await migrate(settings, [BenchPlugin()])
    owner = make_engine(settings.owner_database_url, schema=settings.database_schema)
    try:
        async with owner.begin() as connection:
            await connection.run_sync(_create_bench_table)
    finally:
        await owner.dispose()
    database = Database(make_engine(settings.database_url, schema=settings.database_schema))
    try:
        tenant_id = await create_tenant(database)
        users = {"agent@bench.test": (), "admin@bench.test": ("admin",)}
        await add_users(database, tenant_id, PASSWORD, users)
        with tenant_scope(tenant_id):
            async with database.session() as session:
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
        agent = await login(client, "agent@bench.test", PASSWORD)
        admin = await login(client, "admin@bench.test", PASSWORD)
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "bench", "roles": ["agent"]},
            headers={"Authorization": f"Bearer {admin}"},
        )
        response.raise_for_status()
        return f"Bearer {agent}", f"Bearer {response.json()['secret']}"


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


# --- main -------------------------------------------------------------------------------------


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
    settings, settings_values = bench_settings(
        backend, jwt_secret=JWT_SECRET, pool_size=args.pool_size
    )
    servers: list[Server] = []
    with runner() as run:
        try:
            run(backend.create())
            fixture = run(prepare(settings, args.items))
            for kind in ("kernel", "bare"):
                spec = ServerSpec(kind, free_port(), settings_values, fixture.tenant_id)
                servers.append(start_server(spec, serve, f"bench-{kind}"))
            kernel, bare = servers
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
    loop = loop_name()
    database = backend.describe(args.pool_size)
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
