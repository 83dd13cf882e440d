"""One IVR turn per signed Twilio ``gather`` callback through the platform, against a bare
FastAPI endpoint doing the comparable work without it, in the same run.

Both apps are served by uvicorn on 127.0.0.1, each in its own process(es), on one database:

* kernel: the calls, twilio and ivr plugins; ``POST /webhooks/twilio/<tenant id>/gather``
  (``Digits=1``) goes through the real path, in one session and one transaction: tenant
  check, the tenant's auth token (the worker's secret cache after a version check, an audited
  decryption on a miss), ``X-Twilio-Signature`` checked, the callback parsed and its receipt kept
  (de-duplication), the call locked (``FOR UPDATE``) and an ``input`` timeline row, then the
  IVR handler under a savepoint: the call's ``ivr_sessions`` row locked (``FOR UPDATE``), the
  flow engine run from the menu through option 1 (a say node) back to the menu, which waits
  again, the state saved, three ``ivr.step.*`` events in the outbox and three timeline rows,
  commit, the TwiML rendered (``<Say>`` then ``<Gather>``) and kept on the receipt, commit;
* baseline: one FastAPI form endpoint, no kernel: the form parsed (python-multipart), the
  signature checked with ``RequestValidator`` and a constant token, one
  ``SELECT ... FOR UPDATE`` of the call's JSON state row, the same path appended, one
  ``UPDATE``, commit, a small TwiML ``<Gather>`` document.

The flow is ``menu`` (option ``1``) -> ``news`` (say) -> ``menu``: every callback is one full
turn that ends waiting again. ``--calls`` inbound calls per app (plus ``--warmup``) are
started first, unmeasured: on the kernel each gets its signed ``voice`` webhook (the call is
created, routed by its number to the flow, the flow started); on the baseline its row is
inserted. Each call then gets ``--turns`` gather callbacks, one after another (as a caller
would: the next prompt comes with the answer), each a distinct delivery (own
``I-Twilio-Idempotency-Token``), signed as Twilio signs them; ``--concurrency`` calls at a
time from one ``httpx.AsyncClient``, in ``--rounds`` rounds (the order of the apps rotates).
Reported: requests/s (median of rounds), p50/p99 latency, server CPU per request, and the
kernel's ratios to the baseline. At the end the database is checked: every session's path
grew by exactly two steps per callback sent to it and it waits at the menu again, the stored
answers are TwiML ``<Gather>`` documents, one receipt per delivery, the ``ivr.step.*``
events in the outbox; the baseline's rows likewise. The script fails loudly otherwise.

``--profile`` instead runs the kernel app in this process (httpx over ASGI, one request at a
time) and shows where a turn's time goes: stages, SQL statements, cProfile.

PostgreSQL when ``KRALIKI_BENCH_DATABASE_URL`` (app role) and
``KRALIKI_BENCH_MIGRATION_DATABASE_URL`` (owner role) are set, in a throwaway schema dropped
at the end; otherwise a SQLite file in a temporary directory.

    .venv/bin/python benchmarks/ivr_step.py [--calls 240] [--turns 4] [--concurrency 16]
        [--workers 1] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
    percentile,
    report,
    report_cpu,
    runner,
    start_server,
    wait_ready,
)
from sqlalchemy import JSON, Column, MetaData, String, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import create_async_engine
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from webhook_ingest import (
    Delivery,
    Stages,
    Target,
    in_process_app,
    measure,
    new_sid,
    print_in_process,
    run_in_process,
)

from kernel import Settings, create_app, tenant_scope
from kernel._db import make_engine
from kernel._events.models import EventRecord
from kernel._platform import build_platform

JWT_SECRET = "ivr-step-benchmark-signing-key-0123456789abcdef"
OUR_NUMBER = "+14155550100"
T = TypeVar("T")

FLOW: dict[str, Any] = {
    "start": "menu",
    "nodes": {
        "menu": {
            "type": "menu",
            "greeting": "Welcome to the benchmark line.",
            "options": [{"key": "1", "label": "the news"}],
            "exits": {"1": "news", "no_input": "bye", "no_match": "bye"},
        },
        "news": {"type": "say", "text": "Nothing happened today.", "exits": {"next": "menu"}},
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}
"""Every turn with ``Digits=1``: menu -> news -> menu (waiting again): ``menu:1``,
``news:next`` on the path, steps completed, completed, waiting."""
TURN_PATH = ["menu:1", "news:next"]

# --- the baseline -----------------------------------------------------------------------------

BARE = MetaData()
BARE_SESSIONS = Table(
    "bench_ivr_sessions",
    BARE,
    Column("call_sid", String(64), primary_key=True),
    Column("state", JSON, nullable=False),
)
BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Nothing happened today.</Say>'
    '<Gather action="{action}" actionOnEmptyResult="true" input="dtmf" method="POST" '
    'numDigits="1" timeout="5"><Say>Welcome to the benchmark line. For the news, press 1.'
    "</Say></Gather></Response>"
)


def initial_state() -> dict[str, Any]:
    """The baseline's state row, shaped like the engine's (a path, a wait, retries)."""
    return {
        "stack": [{"node": "menu"}],
        "retries": {"1:menu": 0},
        "waiting": {"node": "menu", "step": "gather"},
        "steps": 0,
        "path": [],
    }


def bare_app(url: str, schema: str | None, public_base: str, token: str, pool: int) -> FastAPI:
    """FastAPI and SQLAlchemy Core: no kernel, no vault, no receipt, no ORM, no outbox."""
    if url.startswith("sqlite"):
        engine = make_engine(url)
    else:
        connect_args = {"server_settings": {"search_path": schema}} if schema else {}
        engine = create_async_engine(
            url, pool_size=pool, max_overflow=pool, connect_args=connect_args
        )
    validator = RequestValidator(token)
    lock = (
        select(BARE_SESSIONS.c.state)
        .where(BARE_SESSIONS.c.call_sid == bindparam("sid"))
        .with_for_update()
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webhooks/twilio/{tenant_id}/gather")
    async def gather(tenant_id: uuid.UUID, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        signed_url = f"{public_base}{request.url.path}"
        if not validator.validate(signed_url, form, request.headers.get("x-twilio-signature", "")):
            return Response(status_code=403)
        sid = form["CallSid"]
        async with engine.begin() as connection:
            state = (await connection.execute(lock, {"sid": sid})).scalar_one_or_none()
            if state is None:
                return Response(status_code=404)
            if form.get("Digits") == "1":
                state = {
                    **state,
                    "path": [*state["path"], *TURN_PATH],
                    "steps": state["steps"] + 2,
                }
                await connection.execute(
                    BARE_SESSIONS.update().where(BARE_SESSIONS.c.call_sid == sid),
                    {"state": state},
                )
        body = BARE_TWIML.format(action=signed_url)
        return Response(body, media_type="application/xml")

    return app


# --- server processes -------------------------------------------------------------------------


@dataclass(frozen=True)
class IvrSpec:
    kind: str  # "kernel" or "bare"
    port: int
    settings: dict[str, Any]
    auth_token: str
    dispatch: bool


def plugin_list() -> list[object]:
    import plugins.calls.plugin
    import plugins.ivr.plugin
    import plugins.twilio.plugin

    return [plugins.calls.plugin, plugins.twilio.plugin, plugins.ivr.plugin]


def serve_ivr(spec: IvrSpec, connection: Connection) -> None:
    """Entry point of one server (worker) process."""
    sock = listening_socket(spec.port)
    public_base = f"http://{HOST}:{spec.port}"
    if spec.kind == "kernel":
        os.environ["KRALIKI_CALLS_PUBLIC_BASE_URL"] = public_base
        settings = Settings(_env_file=None, background_workers=spec.dispatch, **spec.settings)
        app = create_app(settings, plugins=plugin_list())
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


def start_servers(spec: IvrSpec, workers: int) -> Servers:
    return Servers(
        spec.kind,
        spec.port,
        [
            start_server(spec, serve_ivr, name=f"bench-ivr-{spec.kind}-{index}")
            for index in range(workers)
        ],
    )


# --- fixture ----------------------------------------------------------------------------------


@dataclass
class Fixture:
    tenant_id: uuid.UUID
    flow_id: uuid.UUID
    account_sid: str
    auth_token: str
    kernel_sids: list[str]
    bare_sids: list[str]


async def prepare(settings: Settings, calls: int, *, bare: bool = True) -> Fixture:
    """Migrate; a tenant with Twilio credentials in the vault, the flow published, our number
    routed to it; (``bare``) the baseline's table with one state row per call."""
    from plugins.calls import PhoneNumber
    from plugins.ivr import service
    from plugins.ivr.models import Flow

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
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                await platform.vault.put(session, "twilio.account_sid", account_sid, actor="bench")
                await platform.vault.put(session, "twilio.auth_token", auth_token, actor="bench")
                await session.commit()
            async with platform.database.session() as session:
                flow = Flow(name="Bench menu", draft=FLOW)
                session.add(flow)
                await session.flush()
                session.add(
                    PhoneNumber(
                        number=OUR_NUMBER, provider="twilio", route="ivr", ivr_flow_id=flow.id
                    )
                )
                await session.flush()
                await service.publish(platform, session, flow, note="bench", actor="bench")
                await session.commit()
                flow_id = flow.id
        bare_sids: list[str] = []
        if bare:
            bare_sids = [new_sid("CA") for _ in range(calls)]
            async with platform.database.engine.begin() as connection:
                await connection.execute(
                    BARE_SESSIONS.insert(),
                    [{"call_sid": sid, "state": initial_state()} for sid in bare_sids],
                )
    finally:
        await platform.database.dispose()
        platform.tracing.shutdown()
    kernel_sids = [new_sid("CA") for _ in range(calls)]
    return Fixture(tenant_id, flow_id, account_sid, auth_token, kernel_sids, bare_sids)


def caller(index: int) -> str:
    return f"+1415556{index:04d}"


def base_form(fixture: Fixture, sid: str, index: int) -> dict[str, str]:
    """The fields every Twilio webhook of an inbound call carries."""
    return {
        "AccountSid": fixture.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "Called": OUR_NUMBER,
        "Caller": caller(index),
        "Direction": "inbound",
        "From": caller(index),
        "To": OUR_NUMBER,
    }


def signed(validator: Any, base_url: str, path: str, form: dict[str, str]) -> Delivery:
    """A POST of ``form`` as Twilio sends it: signed over the URL and fields, its own
    idempotency token (a distinct delivery)."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "X-Twilio-Signature": validator.compute_signature(base_url + path, form),
        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
    }
    return Delivery(path, urlencode(form).encode(), headers, duplicate=False)


def voice_deliveries(base_url: str, fixture: Fixture) -> list[list[Delivery]]:
    """The ``voice`` webhook of each kernel call: it arrives, the flow starts."""
    validator = RequestValidator(fixture.auth_token)
    path = f"/webhooks/twilio/{fixture.tenant_id}/voice"
    return [
        [signed(validator, base_url, path, base_form(fixture, sid, i) | {"CallStatus": "ringing"})]
        for i, sid in enumerate(fixture.kernel_sids)
    ]


def plan(base_url: str, fixture: Fixture, sids: Sequence[str], turns: int) -> list[list[Delivery]]:
    """Each call's ``turns`` gather callbacks (the caller presses 1), in order."""
    validator = RequestValidator(fixture.auth_token)
    path = f"/webhooks/twilio/{fixture.tenant_id}/gather"
    chains = []
    for index, sid in enumerate(sids):
        form = base_form(fixture, sid, index) | {
            "CallStatus": "in-progress",
            "Digits": "1",
            "FinishedOnKey": "",
            "msg": "Gather End",
        }
        chains.append([signed(validator, base_url, path, form) for _ in range(turns)])
    return chains


async def start_calls(
    base_url: str, fixture: Fixture, concurrency: int
) -> tuple[float, list[float]]:
    """Every kernel call's voice webhook (unmeasured setup): (elapsed, latencies); each
    answer must be the menu's ``<Gather>``."""
    chains = voice_deliveries(base_url, fixture)
    latencies: list[float] = []
    pending = iter(chains)
    failures: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120.0) as client:

        async def worker() -> None:
            for [delivery] in pending:
                started = time.perf_counter()
                response = await client.post(
                    delivery.path, content=delivery.body, headers=delivery.headers
                )
                latencies.append(time.perf_counter() - started)
                if (response.status_code != 200 or b"<Gather" not in response.content) and len(
                    failures
                ) < 5:
                    failures.append(f"{response.status_code} {response.text[:300]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"starting the calls failed: {failures}")
    return elapsed, sorted(latencies)


async def check_one(base_url: str, delivery: Delivery, label: str) -> None:
    """One gather callback answered with a TwiML ``<Gather>`` back to the gather webhook."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        response = await client.post(delivery.path, content=delivery.body, headers=delivery.headers)
    text = response.text
    if response.status_code != 200 or "<Gather" not in text or "/gather" not in text:
        raise SystemExit(f"{label}: {response.status_code} {text[:500]}")
    if response.headers.get("content-type", "").split(";")[0] != "application/xml":
        raise SystemExit(f"{label}: answered {response.headers.get('content-type')}")


# --- correctness ------------------------------------------------------------------------------


def turns_sent(chains: Sequence[Sequence[Delivery]], sids: Sequence[str]) -> dict[str, int]:
    """Gather callbacks sent per CallSid (the chains are in the order of ``sids``)."""
    return {sid: len(chain) for sid, chain in zip(sids, chains, strict=False)}


async def verify_kernel(
    settings: Settings, fixture: Fixture, sent: dict[str, int], extra: dict[str, int]
) -> list[str]:
    """Problems in the kernel's tables: every session advanced by exactly its callbacks and
    waits at the menu, one receipt per delivery, every stored gather answer a ``<Gather>``
    document, the step events in the outbox."""
    from plugins.calls import Call, WebhookReceipt
    from plugins.ivr.models import FlowSession

    expected = {sid: sent.get(sid, 0) + extra.get(sid, 0) for sid in fixture.kernel_sids}
    total = sum(expected.values())
    calls = len(fixture.kernel_sids)
    platform = build_platform(settings, plugin_list())
    problems: list[str] = []
    try:
        with tenant_scope(fixture.tenant_id):
            async with platform.database.session() as session:
                rows = (
                    await session.execute(
                        select(Call.provider_call_id, FlowSession.status, FlowSession.state).join(
                            FlowSession, FlowSession.call_id == Call.id
                        )
                    )
                ).all()
                receipts = dict(
                    (
                        await session.execute(
                            select(WebhookReceipt.kind, func.count()).group_by(WebhookReceipt.kind)
                        )
                    ).all()
                )
                gather_answers = Counter(
                    "<Gather" in (body or "") and "/gather" in (body or "")
                    for body in await session.scalars(
                        select(WebhookReceipt.answer_body).where(WebhookReceipt.kind == "gather")
                    )
                )
                names = dict(
                    (
                        await session.execute(
                            select(EventRecord.name, func.count())
                            .where(EventRecord.name.like("ivr.%"))
                            .group_by(EventRecord.name)
                        )
                    ).all()
                )
    finally:
        await platform.database.dispose()
        platform.tracing.shutdown()
    if len(rows) != calls:
        problems.append(f"kernel: {len(rows)} IVR sessions, expected {calls}")
    wrong = []
    for sid, status, state in rows:
        turns = expected.get(sid, -1)
        waiting = (state.get("waiting") or {}).get("node")
        if (
            status != "active"
            or state.get("path") != TURN_PATH * turns
            or state.get("steps") != 2 * turns
            or waiting != "menu"
            or state.get("retries") != {"1:menu": 0}
        ):
            wrong.append(f"{sid}: {status}, {turns} turns sent, state {json.dumps(state)[:300]}")
    if wrong:
        problems.append(f"kernel: {len(wrong)} sessions not advanced exactly; first: {wrong[0]}")
    if receipts != {"voice": calls, "gather": total}:
        problems.append(f"kernel: receipts {receipts}, expected {calls} voice, {total} gather")
    if gather_answers != Counter({True: total}):
        problems.append(f"kernel: stored gather answers with a <Gather>: {gather_answers}")
    expected_events = {
        "ivr.flow.published": 1,
        "ivr.session.started": calls,
        "ivr.step.waiting": calls + total,
        "ivr.step.completed": 2 * total,
    }
    if names != expected_events:
        problems.append(f"kernel: outbox events {names}, expected {expected_events}")
    return problems


async def verify_bare(settings: Settings, fixture: Fixture, sent: dict[str, int]) -> list[str]:
    engine = make_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(BARE_SESSIONS))).all()
    finally:
        await engine.dispose()
    wrong = [
        row.call_sid
        for row in rows
        if row.state["path"] != TURN_PATH * sent.get(row.call_sid, 0)
        or row.state["steps"] != 2 * sent.get(row.call_sid, 0)
    ]
    return [f"baseline: {len(wrong)} rows not advanced exactly, e.g. {wrong[0]}"] if wrong else []


# --- profile ----------------------------------------------------------------------------------


def instrument_ivr(stages: Stages) -> None:
    """Stage timers around the IVR's steps, inside the ingest's (:func:`instrument`)."""
    from plugins.calls import routing
    from plugins.ivr import runtime
    from plugins.ivr.engine import FlowRunner
    from plugins.twilio.provider import TwilioProvider

    routing.take_turn = stages.wrap(
        "handler turn: SAVEPOINT, RELEASE, timeline rows added", routing.take_turn
    )
    runtime._session_of = stages.wrap("ivr_sessions row FOR UPDATE", runtime._session_of)
    runtime.IvrHandler.resume = stages.wrap(  # type: ignore[method-assign]
        "IVR handler: FlowState parsed, loader, runner", runtime.IvrHandler.resume
    )
    FlowRunner.resume = stages.wrap(  # type: ignore[method-assign]
        "flow engine: menu -> say -> menu", FlowRunner.resume
    )
    runtime._record = stages.wrap("state saved (dumped), step notes", runtime._record)
    TwilioProvider.execute = stages.wrap(  # type: ignore[method-assign]
        "TwiML rendered", TwilioProvider.execute
    )


async def profile(args: argparse.Namespace, settings: Settings, fixture: Fixture) -> None:
    """The kernel app in this process, one request at a time: stages, SQL, cProfile."""
    public_base = "http://ivr.bench"
    app = in_process_app(settings, public_base, plugin_list())
    chains = plan(public_base, fixture, fixture.kernel_sids, args.turns)
    half = args.warmup + args.calls // 2
    run = await run_in_process(
        app,
        public_base,
        prelude=voice_deliveries(public_base, fixture),  # the calls start
        phases=(chains[: args.warmup], chains[args.warmup : half], chains[half:]),
        accepted=lambda response: response.status_code == 200 and b"<Gather" in response.content,
        instrument_stages=instrument_ivr,
    )
    print(
        f"Kernel IVR turn in one process ({app.state.platform.database.dialect}), one request "
        f"at a time: {run.timed_requests} gather callbacks, "
        f"{run.wall / run.timed_requests * 1e3:.2f} ms wall and "
        f"{run.cpu / run.timed_requests * 1e3:.2f} ms CPU per request (this process; with "
        "SQLite that includes the database's work)"
    )
    print_in_process(run, args, first_request="gather callback", label_width=56, packages=16)


# --- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=240, help="measured calls per app")
    parser.add_argument("--turns", type=int, default=4, help="gather callbacks per call")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight")
    parser.add_argument("--workers", type=int, default=1, help="server processes per app")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (app order rotates)")
    parser.add_argument("--warmup", type=int, default=24, help="warm-up calls per app")
    parser.add_argument(
        "--pool-size", type=int, default=10, help="PostgreSQL pool size (and overflow), both apps"
    )
    parser.add_argument(
        "--dispatch",
        action="store_true",
        help="run the event dispatcher and job workers in the kernel's server process(es), "
        "as `kraliki serve` does by default (off: events stay in the outbox)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the kernel path in this process instead (stages, SQL, cProfile)",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="cProfile rows shown")
    parser.add_argument("--profile-out", help="write the full cProfile data to this file")
    args = parser.parse_args()
    if min(args.calls, args.turns, args.concurrency, args.workers, args.rounds) < 1:
        parser.error("--calls, --turns, --concurrency, --workers and --rounds must be >= 1")
    if args.pool_size < 1 or args.warmup < 0:
        parser.error("--pool-size must be >= 1 and --warmup >= 0")
    if not args.profile and args.calls < args.rounds:
        parser.error("--calls must be at least --rounds")
    if args.profile and args.calls < 2:
        parser.error("--profile needs --calls >= 2 (half timed, half profiled)")
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
            fixture = run(prepare(settings, calls + 1))  # one more call each: the check
            kernel = start_servers(
                IvrSpec("kernel", free_port(), settings_values, "", args.dispatch), args.workers
            )
            servers.append(kernel)
            bare = start_servers(
                IvrSpec("bare", free_port(), settings_values, fixture.auth_token, False),
                args.workers,
            )
            servers.append(bare)
            for group in servers:
                run(wait_ready(group.workers[0]))
            start_elapsed, start_latencies = run(
                start_calls(kernel.base_url, fixture, args.concurrency)
            )
            # The last call of each app answers one callback first, checked by hand.
            kernel_check = plan(kernel.base_url, fixture, fixture.kernel_sids[-1:], 1)[0][0]
            bare_check = plan(bare.base_url, fixture, fixture.bare_sids[-1:], 1)[0][0]
            run(check_one(kernel.base_url, kernel_check, "kernel"))
            run(check_one(bare.base_url, bare_check, "baseline"))
            targets = [
                Target(
                    "bare FastAPI + Core (baseline)",
                    bare,
                    plan(bare.base_url, fixture, fixture.bare_sids[:calls], args.turns),
                ),
                Target(
                    "kernel IVR turn",
                    kernel,
                    plan(kernel.base_url, fixture, fixture.kernel_sids[:calls], args.turns),
                ),
            ]
            client_cpu = run(measure(targets, args))
            for group in servers:
                group.stop()
            bare_sent = turns_sent(targets[0].chains[: targets[0].next_chain], fixture.bare_sids)
            kernel_sent = turns_sent(
                targets[1].chains[: targets[1].next_chain], fixture.kernel_sids
            )
            bare_sent[fixture.bare_sids[-1]] = 1
            problems = run(verify_bare(settings, fixture, bare_sent))
            problems += run(
                verify_kernel(settings, fixture, kernel_sent, {fixture.kernel_sids[-1]: 1})
            )
        finally:
            for group in servers:
                group.stop()
            run(backend.drop())
    if problems:
        raise SystemExit("CORRECTNESS CHECK FAILED:\n  " + "\n  ".join(problems))
    if backend.schema:
        database = f"postgresql (schema {backend.schema}), pool {args.pool_size}+{args.pool_size}"
    else:
        database = "sqlite (file, WAL; SQLAlchemy's default pool, as the kernel's engine)"
    loop = loop_name()
    measured = args.calls // args.rounds * args.rounds
    report(
        targets,
        [
            "IVR step: signed Twilio gather callbacks (Digits=1), one full flow turn each "
            "(menu -> say -> menu, waiting again)",
            f"database: {database}",
            f"load: {measured} calls per app x {args.turns} turns in {args.rounds} rounds "
            f"after {args.warmup} warm-up calls, {measured * args.turns} measured callbacks "
            f"per app, concurrency {args.concurrency} calls, {args.workers} worker process(es) "
            f"per app, dispatcher {'on' if args.dispatch else 'off'}; one httpx.AsyncClient "
            f"({loop}, {client_cpu * 1e6:.0f} us CPU/request)",
            f"setup (unmeasured): {len(fixture.kernel_sids)} kernel calls started by their "
            f"voice webhook in {start_elapsed:.1f} s (p50 "
            f"{percentile(start_latencies, 0.5) * 1e3:.1f} ms, p99 "
            f"{percentile(start_latencies, 0.99) * 1e3:.1f} ms at concurrency "
            f"{args.concurrency})",
            machine(version),
        ],
        compare=True,
    )
    print(
        f"checked: {len(fixture.kernel_sids)} IVR sessions each advanced by exactly its "
        "callbacks (path +2 per turn) and waiting at the menu, every gather answer a TwiML "
        "<Gather>, one receipt per delivery, the ivr.step.* events in the outbox; the "
        "baseline's rows likewise"
    )


if __name__ == "__main__":
    main()
