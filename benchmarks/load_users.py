"""Logged-in users with think time against ``kraliki serve --workers 2``, and a bare baseline.

``--users`` users (default 1,000) of ``--tenants`` tenants each keep one keep-alive connection
and, in a closed loop for ``--seconds``, wait a think time (exponential, mean ``--think``
seconds, so ~users/think requests/s) and send one GET, picked at random by weight:

* ``GET /api/v1/calls?limit=20`` (list calls, newest first)      40 %
* ``GET /api/v1/calls/{id}`` (one of the tenant's calls)           30 %
* ``GET /api/v1/auth/me`` (the caller, roles, permissions)         15 %
* ``GET /api/v1/ivr/flows`` (supervisors; agents list calls)       15 %

Every request is authenticated (the access token of the user's login), RBAC-checked and
tenant-scoped (row-level security on PostgreSQL). Users are agents, every fifth a supervisor.

* kernel: ``kraliki serve --workers 2`` (the CLI, its supervisor and defaults, no JWT secret
  configured: the signing key comes from the database), migrated by this script; the users
  log in first, ``--login-concurrency`` at a time, right after the server started (the
  start-up burst: logins, the per-worker policy loads and the first requests together);
* baseline: a bare FastAPI app under uvicorn with 2 workers, its own engine and pool on the
  same database, running the same SQL for each request (tenant set for row-level security),
  with no credential, RBAC or ORM; the tenant and user come in plain headers.

The load comes from a separate process (uvloop, a minimal HTTP/1.1 client: one connection
per user, reopened when the server closed it between requests); its CPU time is printed so
that it can be seen not to be the bottleneck. Requests in the first ``--warmup`` seconds are
not counted. Reported per target: achieved requests/s, p50/p95/p99 (all requests and per
endpoint), errors, server CPU per request, the ratios to the baseline, and the goal
(p95 < 100 ms for the kernel).

PostgreSQL when ``KRALIKI_BENCH_DATABASE_URL`` (app role) and
``KRALIKI_BENCH_MIGRATION_DATABASE_URL`` (owner role) are set, in a throwaway schema dropped
at the end; otherwise a SQLite file in a temporary directory.

    .venv/bin/python benchmarks/load_users.py [--users 1000] [--seconds 60] [--think 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Header, HTTPException
from harness import (
    HOST,
    Backend,
    bench_settings,
    create_tenant,
    database_version,
    event_loop_factory,
    free_port,
    loop_name,
    percentile,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kernel import Database, Settings, tenant_scope
from kernel._db import make_engine
from kernel._identity.models import User
from kernel._identity.rbac import PolicyWriter, user_subject
from kernel._migrations import upgrade
from kernel._models import utcnow
from kernel._passwords import hash_password
from kernel._platform import resolve_plugins

PASSWORD = "load benchmark password, not secret"
JWT_SECRET = "load-users-benchmark-signing-key-0123456789-unused"
GOAL_P95_S = 0.100
CALLS_PAGE = "/api/v1/calls?limit=20"
LOGIN_PATH = "/api/v1/auth/login"
ENDPOINTS = ("list calls", "get call", "me", "list flows")
WEIGHTS = (40, 30, 15, 15)
KRALIKI = str(Path(sys.executable).parent / "kraliki")
BARE_ENV = "KRALIKI_BENCH_BARE"

# --- the baseline -----------------------------------------------------------------------------

SET_TENANT = "SELECT set_config('app.tenant_id', :tenant, true)"
BARE_SQL = {
    "list calls": "SELECT * FROM calls_calls WHERE tenant_id = :tenant "
    "ORDER BY created_at DESC, id DESC LIMIT 21",
    "get call": "SELECT * FROM calls_calls WHERE tenant_id = :tenant AND id = :id",
    "list flows": "SELECT * FROM ivr_flows WHERE tenant_id = :tenant "
    "ORDER BY created_at DESC, id DESC LIMIT 51",
    "me user": "SELECT id, email, display_name, is_active FROM users "
    "WHERE tenant_id = :tenant AND id = :id",
    "me roles": "SELECT v1 FROM casbin_rule "
    "WHERE tenant_id = :tenant AND ptype = 'g' AND v0 = :subject",
}


def _jsonable(row: Any) -> dict[str, Any]:
    return {key: str(value) if value is not None else None for key, value in row._mapping.items()}


def bare_app() -> FastAPI:
    """The baseline: FastAPI and SQLAlchemy Core, the same SQL, no kernel (configured by the
    ``KRALIKI_BENCH_BARE`` environment variable: URL, schema, pool size)."""
    config = json.loads(os.environ[BARE_ENV])
    url, schema, pool_size = config["url"], config["schema"], config["pool_size"]
    postgres = not url.startswith("sqlite")
    if postgres:
        connect_args = {"server_settings": {"search_path": schema}} if schema else {}
        engine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args
        )
    else:
        engine = create_async_engine(url)
    statements = {name: text(sql) for name, sql in BARE_SQL.items()}
    set_tenant = text(SET_TENANT)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    async def rows(tenant: str, name: str, **params: Any) -> list[dict[str, Any]]:
        # tenant_id is stored as text on SQLite (SQLAlchemy's Uuid), as a uuid on PostgreSQL.
        key = tenant if postgres else uuid.UUID(tenant).hex
        async with engine.begin() as connection:
            if postgres:
                await connection.execute(set_tenant, {"tenant": tenant})
            result = await connection.execute(statements[name], {"tenant": key, **params})
            return [_jsonable(row) for row in result]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/calls")
    async def list_calls(x_tenant: str = Header()) -> dict[str, Any]:
        return {"items": (await rows(x_tenant, "list calls"))[:20]}

    @app.get("/api/v1/calls/{call_id}")
    async def get_call(call_id: uuid.UUID, x_tenant: str = Header()) -> dict[str, Any]:
        found = await rows(x_tenant, "get call", id=call_id if postgres else call_id.hex)
        if not found:
            raise HTTPException(404, "no such call")
        return found[0]

    @app.get("/api/v1/ivr/flows")
    async def list_flows(x_tenant: str = Header()) -> dict[str, Any]:
        return {"items": (await rows(x_tenant, "list flows"))[:50]}

    @app.get("/api/v1/auth/me")
    async def me(x_tenant: str = Header(), x_user: str = Header()) -> dict[str, Any]:
        user_id = uuid.UUID(x_user)
        found = await rows(x_tenant, "me user", id=user_id if postgres else user_id.hex)
        roles = await rows(x_tenant, "me roles", subject=user_subject(user_id))
        if not found:
            raise HTTPException(404, "no such user")
        return {**found[0], "roles": [role["v1"] for role in roles]}

    return app


# --- provisioning -----------------------------------------------------------------------------


@dataclass
class Account:
    tenant_slug: str
    tenant_id: str
    user_id: str
    email: str
    supervisor: bool
    call_ids: list[str]


async def provision(settings: Settings, args: argparse.Namespace) -> list[Account]:
    """Migrate; ``--tenants`` tenants with their share of ``--users`` users (one password hash
    computed once), ``--calls`` calls and ``--flows`` IVR flows each."""
    await upgrade(settings, resolve_plugins(settings))
    from plugins.calls.models import Call
    from plugins.ivr.models import Flow
    from plugins.ivr.samples import SAMPLES

    password_hash = hash_password(PASSWORD)
    document = next(iter(SAMPLES.values())).document()
    database = Database(make_engine(settings.database_url, schema=settings.database_schema))
    accounts: list[Account] = []
    try:
        for t in range(args.tenants):
            slug = f"load{t}"
            tenant_id = await create_tenant(database, slug)
            users = args.users // args.tenants + (1 if t < args.users % args.tenants else 0)
            with tenant_scope(tenant_id):
                async with database.session() as session:
                    now = utcnow()
                    calls = [
                        Call(
                            id=uuid.uuid4(),
                            direction="inbound" if i % 3 else "outbound",
                            from_number=f"+4202{i:08d}",
                            to_number="+420200000000",
                            provider="loopback",
                            provider_call_id=f"load-{t}-{i}",
                            status="completed",
                            placed_at=now - timedelta(minutes=i + 5),
                            answered_at=now - timedelta(minutes=i + 4),
                            ended_at=now - timedelta(minutes=i),
                            duration_seconds=240,
                            tags=["load"],
                        )
                        for i in range(args.calls)
                    ]
                    session.add_all(calls)
                    for f in range(args.flows):
                        session.add(Flow(name=f"flow {f}", description="", draft=document))
                    writer = PolicyWriter(session, tenant_id)
                    created = []
                    for u in range(users):
                        supervisor = u % 5 == 0
                        email = f"user{u}@{slug}.test"
                        user = User(id=uuid.uuid4(), email=email, password_hash=password_hash)
                        session.add(user)
                        created.append((user.id, user.email, supervisor))
                    await session.flush()
                    for user_id, _email, supervisor in created:
                        role = "supervisor" if supervisor else "agent"
                        await writer.assign(user_subject(user_id), role)
                    await writer.finish()
                    await session.commit()
                    call_ids = [str(call.id) for call in calls]
            accounts += [
                Account(slug, str(tenant_id), str(user_id), email, supervisor, call_ids)
                for user_id, email, supervisor in created
            ]
    finally:
        await database.dispose()
    return accounts


# --- server processes -------------------------------------------------------------------------


def process_tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (from ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        return process_tree_cpu(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def warnings(self) -> list[str]:
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if '"WARNING"' in line or '"ERROR"' in line]


def kernel_environment(values: dict[str, Any], pool_size: int) -> dict[str, str]:
    """``kraliki serve``'s environment: the benchmark's settings, no JWT secret (the signing
    key is generated and kept in the database, as by default)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KRALIKI_")}
    for key, value in values.items():
        if value is not None and key != "jwt_secret":
            env[f"KRALIKI_{key.upper()}"] = str(value)
    env["KRALIKI_DATABASE_POOL_SIZE"] = str(pool_size)
    env["KRALIKI_LOG_FORMAT"] = "json"
    return env


def start_kernel(values: dict[str, Any], args: argparse.Namespace, log: Path) -> ServerProcess:
    port = free_port()
    command = [KRALIKI, "serve", "--workers", str(args.workers), "--host", HOST]
    command += ["--port", str(port), "--no-bootstrap"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=kernel_environment(values, args.pool_size),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess("kernel", process, port, log)


def start_bare(backend: Backend, args: argparse.Namespace, log: Path) -> ServerProcess:
    port = free_port()
    settings = Settings(_env_file=None, database_url=backend.app_url)
    env = dict(os.environ)
    env[BARE_ENV] = json.dumps(
        {"url": settings.database_url, "schema": backend.schema, "pool_size": args.pool_size}
    )
    command = [sys.executable, "-m", "uvicorn", "load_users:bare_app", "--factory"]
    command += ["--host", HOST, "--port", str(port), "--workers", str(args.workers)]
    command += ["--app-dir", str(Path(__file__).parent), "--log-level", "warning"]
    command += ["--no-access-log"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    return ServerProcess("bare", process, port, log)


async def wait_ready(server: ServerProcess, within: float = 180.0) -> float:
    """Seconds until ``/healthz`` answered 200 (or the server exited: stop the benchmark)."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        while True:
            if server.process.poll() is not None:
                tail = server.log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"the {server.name} server exited:\n{tail}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            if time.monotonic() - started > within:
                raise SystemExit(f"the {server.name} server did not start in {within:.0f} s")
            await asyncio.sleep(0.05)


# --- the load generator (its own process) -----------------------------------------------------


class Connection_:
    """One user's HTTP/1.1 keep-alive connection, opened on first use and again when the
    server closed it while the user was thinking (uvicorn's keep-alive timeout is 5 s).

    A few dozen lines instead of httpx, which costs 1 to 3 ms of CPU per request (see
    ``request_overhead.py``) and would make the load generator a bottleneck here.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: bytes, body: bytes = b""
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n".encode() + headers
        if body:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        message = head + b"\r\n" + body
        for attempt in (1, 2):
            reused = self.writer is not None
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            assert self.reader is not None
            try:
                self.writer.write(message)
                return await self._response(self.reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                await self.close()
                if not reused or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        length, close = 0, False
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await reader.readexactly(length)
        if close:
            await self.close()
        return int(status_line.split(b" ", 2)[1]), body

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with suppress(ConnectionError, OSError):
                await writer.wait_closed()


@dataclass(frozen=True)
class LoadSpec:
    target: str  # "kernel" or "bare"
    port: int
    accounts: list[Account]
    login_concurrency: int
    think: float
    seconds: float
    warmup: float
    seed: int


@dataclass
class LoadResult:
    logins: list[float] = field(default_factory=list)
    login_errors: list[str] = field(default_factory=list)
    login_seconds: float = 0.0
    # (endpoint, latency seconds, status) of the requests counted (after the warm-up)
    samples: list[tuple[str, float, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    measured_seconds: float = 0.0
    cpu_seconds: float = 0.0
    server_cpu_window: tuple[float, float] = (0.0, 0.0)


async def _login_all(spec: LoadSpec, result: LoadResult) -> list[bytes]:
    """Log every user in (``login_concurrency`` at a time): their request headers."""
    headers: list[bytes] = [b""] * len(spec.accounts)
    queue = iter(range(len(spec.accounts)))

    async def worker() -> None:
        connection = Connection_(spec.port)
        try:
            for index in queue:
                account = spec.accounts[index]
                body = json.dumps(
                    {"tenant": account.tenant_slug, "email": account.email, "password": PASSWORD}
                ).encode()
                started = time.perf_counter()
                try:
                    status, answer = await connection.request("POST", LOGIN_PATH, b"", body)
                except (OSError, asyncio.IncompleteReadError) as error:
                    status, answer = 0, repr(error).encode()
                result.logins.append(time.perf_counter() - started)
                if status != 200:
                    if len(result.login_errors) < 5:
                        result.login_errors.append(f"{status} {answer[:200]!r}")
                    continue
                token = json.loads(answer)["access_token"]
                headers[index] = f"Authorization: Bearer {token}\r\n".encode()
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(spec.login_concurrency)))
    result.login_seconds = time.perf_counter() - started
    return headers


async def _load(spec: LoadSpec, headers: list[bytes], result: LoadResult, cpu: Connection) -> None:
    """Every user in a closed loop: think, then one GET; counted after the warm-up."""
    rng = random.Random(spec.seed)
    start = time.perf_counter()
    measure_from = start + spec.warmup
    deadline = measure_from + spec.seconds
    cpu_window = [0.0, 0.0]

    async def user(account: Account, header: bytes, user_rng: random.Random) -> None:
        connection = Connection_(spec.port)
        choices = ENDPOINTS if account.supervisor else ENDPOINTS[:3]
        weights = WEIGHTS if account.supervisor else WEIGHTS[:3]
        try:
            # Start spread over one think time, as users who logged in at different moments.
            await asyncio.sleep(user_rng.uniform(0, spec.think))
            while time.perf_counter() < deadline:
                endpoint = user_rng.choices(choices, weights)[0]
                if endpoint == "list calls":
                    path = CALLS_PAGE
                elif endpoint == "get call":
                    path = f"/api/v1/calls/{user_rng.choice(account.call_ids)}"
                elif endpoint == "me":
                    path = "/api/v1/auth/me"
                else:
                    path = "/api/v1/ivr/flows"
                sent = time.perf_counter()
                try:
                    status, body = await connection.request("GET", path, header)
                except (OSError, asyncio.IncompleteReadError) as error:
                    status, body = 0, repr(error).encode()
                done = time.perf_counter()
                if measure_from <= sent and done <= deadline:
                    result.samples.append((endpoint, done - sent, status))
                    if status != 200:
                        result.error_count += 1
                        if len(result.errors) < 5:
                            result.errors.append(f"{endpoint}: {status} {body[:200]!r}")
                await asyncio.sleep(min(user_rng.expovariate(1 / spec.think), 6 * spec.think))
        finally:
            await connection.close()

    async def window() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu.send("mark")
        cpu_window[0] = _cpu()
        await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
        cpu.send("mark")
        cpu_window[1] = _cpu()

    tasks = [
        user(account, header, random.Random(rng.random()))
        for account, header in zip(spec.accounts, headers, strict=True)
        if header or spec.target == "bare"
    ]
    await asyncio.gather(window(), *tasks)
    result.measured_seconds = spec.seconds
    result.cpu_seconds = cpu_window[1] - cpu_window[0]


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def generate(spec: LoadSpec, connection: Connection) -> None:
    """Entry point of the load generator process: log in (kernel), run the load, send back
    a :class:`LoadResult`. Sends ``"mark"`` at the start and end of the measured window so
    the parent reads the servers' CPU time then."""

    async def main() -> LoadResult:
        result = LoadResult()
        if spec.target == "kernel":
            headers = await _login_all(spec, result)
        else:
            headers = [
                f"X-Tenant: {a.tenant_id}\r\nX-User: {a.user_id}\r\n".encode()
                for a in spec.accounts
            ]
        connection.send("logged in")
        await _load(spec, headers, result, connection)
        return result

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        result = runner.run(main())
    connection.send(result)


# --- running one target -----------------------------------------------------------------------


@dataclass
class Measured:
    label: str
    result: LoadResult
    ready_seconds: float
    server_cpu: float
    warnings: list[str]


def run_target(server: ServerProcess, spec: LoadSpec, ready_seconds: float) -> Measured:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(target=generate, args=(spec, child_end), name=f"load-{spec.target}")
    process.start()
    child_end.close()
    marks: list[float] = []
    result: LoadResult | None = None
    try:
        while result is None:
            message = parent_end.recv()
            if message == "mark":
                marks.append(server.cpu_seconds())
            elif isinstance(message, LoadResult):
                result = message
    except EOFError:
        raise SystemExit(f"the load generator for {spec.target} exited early") from None
    finally:
        process.join(30)
    server_cpu = marks[1] - marks[0] if len(marks) == 2 else float("nan")
    return Measured(spec.target, result, ready_seconds, server_cpu, server.warnings())


# --- figures ----------------------------------------------------------------------------------


def _ms(values: Sequence[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1e3:8.1f}" if values else f"{'-':>8}"


def print_report(targets: list[Measured], header: list[str], think: float, logs: Path) -> None:
    print("\n".join(header))
    print()
    for target in targets:
        result = target.result
        if result.logins:
            logins = sorted(result.logins)
            print(
                f"{target.label}: {len(logins)} logins in {result.login_seconds:.1f} s, "
                f"starting {target.ready_seconds:.1f} s after the command "
                f"(p50 {_ms(logins, 0.5).strip()} ms, p95 {_ms(logins, 0.95).strip()} ms, "
                f"max {logins[-1] * 1e3:.0f} ms), {len(result.login_errors)} failed"
                + (f": {result.login_errors}" if result.login_errors else "")
            )
    print()
    print(
        f"{'target':<8} {'endpoint':<11} {'requests':>8} {'req/s':>7} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    print("-" * 72)
    for target in targets:
        samples = target.result.samples
        for endpoint in ("all", *ENDPOINTS):
            latencies = sorted(latency for name, latency, _ in samples if endpoint in {"all", name})
            errors = sum(
                1 for name, _, status in samples if endpoint in {"all", name} and status != 200
            )
            rate = len(latencies) / target.result.measured_seconds
            print(
                f"{target.label if endpoint == 'all' else '':<8} {endpoint:<11} "
                f"{len(latencies):>8} {rate:7.1f} {_ms(latencies, 0.5)} "
                f"{_ms(latencies, 0.95)} {_ms(latencies, 0.99)} {errors:>6}"
            )
    print()
    for target in targets:
        result = target.result
        count = max(1, len(result.samples))
        print(
            f"{target.label}: server CPU {target.server_cpu / count * 1e6:.0f} us/request "
            f"({target.server_cpu / result.measured_seconds * 100:.0f} % of one core); load "
            f"generator CPU {result.cpu_seconds / result.measured_seconds * 100:.0f} % of one "
            f"core ({result.cpu_seconds / count * 1e6:.0f} us/request)"
        )
        for error in result.errors:
            print(f"  {target.label} error: {error}")
        for line in target.warnings[:5]:
            print(f"  {target.label} server said: {line[:300]}")
    bare = next((t for t in targets if t.label == "bare"), None)
    kernel = next((t for t in targets if t.label == "kernel"), None)
    if bare and kernel and bare.result.samples and kernel.result.samples:
        ours = sorted(latency for _, latency, _ in kernel.result.samples)
        theirs = sorted(latency for _, latency, _ in bare.result.samples)
        ratios = ", ".join(
            f"{name} x{percentile(ours, q) / percentile(theirs, q):.1f}"
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        )
        cpu = (kernel.server_cpu / len(ours)) / (bare.server_cpu / len(theirs))
        print(f"kernel / bare: latency {ratios}; server CPU per request x{cpu:.1f}")
    if kernel and kernel.result.samples:
        p95 = percentile(sorted(latency for _, latency, _ in kernel.result.samples), 0.95)
        verdict = "PASS" if p95 < GOAL_P95_S and not kernel.result.error_count else "FAIL"
        print(
            f"goal: kernel p95 < {GOAL_P95_S * 1e3:.0f} ms with no error: {verdict} "
            f"({p95 * 1e3:.1f} ms, {kernel.result.error_count} errors)"
        )
    print()
    print(f"think time: exponential, mean {think:g} s (capped at 6x); latencies of the requests")
    print("sent and answered inside the measured window; errors: any status but 200.")
    print(f"server output: {logs}")


# --- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000, help="logged-in users")
    parser.add_argument("--tenants", type=int, default=5, help="tenants the users belong to")
    parser.add_argument("--think", type=float, default=5.0, help="mean think time, seconds")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=10.0, help="uncounted seconds first")
    parser.add_argument("--calls", type=int, default=200, help="calls per tenant")
    parser.add_argument("--flows", type=int, default=5, help="IVR flows per tenant")
    parser.add_argument(
        "--login-concurrency", type=int, default=32, help="logins in flight at start-up"
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--pool-size", type=int, default=10, help="connection pool size (and overflow) per worker"
    )
    parser.add_argument("--only", choices=("kernel", "bare"), help="measure one target (profiling)")
    parser.add_argument("--seed", type=int, default=18, help="random seed of the load")
    args = parser.parse_args()
    if min(args.users, args.tenants, args.calls, args.workers, args.login_concurrency) < 1:
        parser.error("--users, --tenants, --calls, --workers, --login-concurrency must be >= 1")
    if args.users < args.tenants or args.think <= 0 or args.seconds <= 0:
        parser.error("need at least one user per tenant, and positive --think and --seconds")
    return args


def main() -> None:
    args = parse_args()
    backend = Backend.from_environment()
    settings, values = bench_settings(backend, jwt_secret=JWT_SECRET, pool_size=args.pool_size)
    logs = Path(tempfile.mkdtemp(prefix="kraliki-load-logs-"))  # the servers' output
    targets: list[Measured] = []
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        try:
            runner.run(backend.create())
            started = time.perf_counter()
            accounts = runner.run(provision(settings, args))
            provisioned = time.perf_counter() - started
            version = runner.run(database_version(settings))
            for target in ("bare", "kernel"):
                if args.only and target != args.only:
                    continue
                log = logs / f"{target}.log"
                if target == "kernel":
                    server = start_kernel(values, args, log)
                else:
                    server = start_bare(backend, args, log)
                try:
                    ready = runner.run(wait_ready(server))
                    spec = LoadSpec(
                        target,
                        server.port,
                        accounts,
                        args.login_concurrency,
                        args.think,
                        args.seconds,
                        args.warmup,
                        args.seed,
                    )
                    targets.append(run_target(server, spec, ready))
                finally:
                    server.stop()
        finally:
            runner.run(backend.drop())
    print_report(
        targets,
        [
            "Logged-in users with think time: authenticated, RBAC-checked, tenant-scoped GETs",
            f"database: {version}, {backend.describe(args.pool_size)}; {args.tenants} tenants, "
            f"{args.calls} calls and {args.flows} IVR flows each (provisioned in "
            f"{provisioned:.0f} s)",
            f"load: {args.users} users, think time mean {args.think:g} s "
            f"(~{args.users / args.think:.0f} req/s), {args.warmup:g} s warm-up + "
            f"{args.seconds:g} s measured; {args.workers} server workers each; load generator "
            f"in its own process ({loop_name()})",
            f"machine: {os.cpu_count()} CPUs, CPython {sys.version.split()[0]}, uvicorn "
            f"{uvicorn.__version__}; load generator, servers and database share the CPUs",
        ],
        args.think,
        logs,
    )


if __name__ == "__main__":
    main()
