"""Events at a steady rate, publication to a WebSocket client: the kernel against a bare
LISTEN/NOTIFY relay in the same run (PostgreSQL).

Kernel path: one event per transaction, published with ``platform.events.publish`` at a fixed
rate (``--rates``, events/s) for ``--seconds``, while a client is subscribed over
``/api/v1/realtime`` (uvicorn on 127.0.0.1) and the webhooks plugin (an endpoint subscribed
to every event, a local receiver) consumes the same events through its hooks, as a busy
deployment's would. Baseline: the same rate of one-row transactions that ``INSERT`` the event
and ``pg_notify`` it; a bare FastAPI WebSocket endpoint relays each notification it LISTENs
to. Everything runs in one process and one event loop.

Reported per rate: events delivered per second over the run, p50/p99 latency (receipt -
publication), events not delivered within ``--drain`` seconds after the last publication,
and the kernel's p99 against the goal (< 15 ms at 50 ev/s, < 50 ms at 500 and 1,000 ev/s).

    .venv/bin/python benchmarks/events_rate.py [--rates 50,500,1000] [--seconds 10]

PostgreSQL with ``KRALIKI_BENCH_DATABASE_URL`` and ``KRALIKI_BENCH_MIGRATION_DATABASE_URL``
(as the other benchmarks); on SQLite the kernel path runs alone (there is no NOTIFY).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import websockets
from events import (
    JWT_SECRET,
    PASSWORD,
    BenchPlugin,
    Receipts,
    Tick,
    consume_ws,
    receiver_app,
    served,
)
from fastapi import FastAPI, WebSocket
from harness import Backend, add_users, bench_settings, create_tenant, login, migrate
from sqlalchemy.engine import make_url

from kernel import create_app, tenant_scope

GOALS_P99_MS = {50: 15.0, 500: 50.0, 1000: 50.0}
IN_FLIGHT = 10
Publish = Callable[[int], Awaitable[None]]


async def paced(rate: int, seconds: float, publish: Publish) -> float:
    """Start publishing event ``i`` at ``start + i / rate`` whether or not the earlier ones
    are done (callers do not wait for each other), at most ``IN_FLIGHT`` at a time (the
    connection pool's size); the publication rate reached."""
    total = int(rate * seconds)
    slots = asyncio.Semaphore(IN_FLIGHT)
    start = time.perf_counter()
    tasks = []

    async def one(seq: int) -> None:
        try:
            await publish(seq)
        finally:
            slots.release()

    for seq in range(total):
        delay = start + seq / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        tasks.append(asyncio.create_task(one(seq)))
    await asyncio.gather(*tasks)
    return total / (time.perf_counter() - start)


async def settle(receipts: Receipts, drain: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receipts.done.wait(), drain)


def transport_settings(args: argparse.Namespace) -> dict[str, object]:
    """The event transport's settings: NATS gets a stream and subjects of this run's own."""
    if args.transport != "nats":
        return {}
    tag = uuid.uuid4().hex[:10]
    return {
        "event_transport": "nats",
        "nats_url": args.nats_url,
        "nats_stream": f"KRALIKI_BENCH_{tag}",
        "nats_subject_prefix": f"kraliki.bench{tag}.events",
    }


async def drop_stream(values: dict[str, object]) -> None:
    if "nats_stream" not in values:
        return
    import nats

    client = await nats.connect(str(values["nats_url"]))
    try:
        await client.jetstream().delete_stream(str(values["nats_stream"]))
    finally:
        await client.close()


async def kernel_runs(args: argparse.Namespace, backend: Backend) -> dict[int, Receipts]:
    os.environ["KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS"] = "true"
    os.environ["KRALIKI_WEBHOOKS_RETRY_SCHEDULE"] = "1"
    most = int(max(args.rates) * args.seconds)
    transport = transport_settings(args)
    settings, _ = bench_settings(
        backend, jwt_secret=JWT_SECRET, realtime_buffer_events=max(1000, most * 2), **transport
    )
    import plugins.webhooks.plugin

    plugin_list: list[object] = [BenchPlugin(), plugins.webhooks.plugin]
    await migrate(settings, plugin_list)
    app = create_app(settings, plugins=plugin_list)
    platform = app.state.platform
    results: dict[int, Receipts] = {}
    hooks: dict[str, Receipts] = {"current": Receipts(10**9)}
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(drop_stream, transport)
        await stack.enter_async_context(app.router.lifespan_context(app))
        tenant_id = await create_tenant(platform.database)
        await add_users(
            platform.database, tenant_id, PASSWORD, {"admin@bench.example.com": ("admin",)}
        )
        base = await stack.enter_async_context(served(app))
        receiver = await stack.enter_async_context(served(receiver_app(hooks)))
        subscribed_at = base
        if args.cross_worker:
            # The subscriber's worker dispatches nothing: the events reach it through the
            # transport (NOTIFY and an outbox read, or the NATS stream), as on any worker
            # but the one that dispatched them.
            other = create_app(
                settings.model_copy(update={"background_workers": False}), plugins=plugin_list
            )
            await stack.enter_async_context(other.router.lifespan_context(other))
            subscribed_at = await stack.enter_async_context(served(other))
        async with httpx.AsyncClient(base_url=base) as client:
            token = await login(client, "admin@bench.example.com", PASSWORD)
            created = (
                await client.post(
                    "/api/v1/webhooks/endpoints",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"url": f"{receiver}/hook", "event_types": ["bench.*"]},
                )
                if args.webhooks
                else None
            )
            assert created is None or created.status_code == 201, created.text
        ws_url = subscribed_at.replace("http", "ws") + "/api/v1/realtime"
        async with websockets.connect(
            ws_url, subprotocols=["kraliki.v1", f"bearer.{token}"], ping_interval=None
        ) as connection:  # type: ignore[list-item]
            await connection.send(json.dumps({"type": "subscribe", "patterns": ["bench.*"]}))
            while json.loads(await connection.recv())["type"] != "ready":
                pass
            for rate in args.rates:
                receipts = Receipts(int(rate * args.seconds))

                async def publish(seq: int) -> None:
                    with tenant_scope(tenant_id):
                        async with platform.database.session() as session:
                            tick = Tick(stream=seq % 20, seq=seq, sent_at=time.perf_counter())
                            await platform.events.publish(session, tick)
                            await session.commit()

                reader = asyncio.create_task(consume_ws(connection, receipts))
                receipts.published_rate = await paced(rate, args.seconds, publish)
                await settle(receipts, args.drain)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                    await reader
                results[rate] = receipts
                await platform.dispatcher.drain()  # the hooks' backlog, between rates
    return results


def relay_app(queue: asyncio.Queue[str]) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text(await queue.get())

    return app


async def bare_runs(args: argparse.Namespace, backend: Backend) -> dict[int, Receipts]:
    dsn = (
        make_url(backend.owner_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    table = f'"{backend.schema}".bare_events'
    channel = f"bare_{backend.schema}"
    writers = await asyncpg.create_pool(dsn, min_size=10, max_size=10)  # as the kernel's
    listener = await asyncpg.connect(dsn)
    queue: asyncio.Queue[str] = asyncio.Queue()
    results: dict[int, Receipts] = {}
    try:
        await writers.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, payload jsonb)")
        await listener.add_listener(
            channel,
            lambda _c, _p, _ch, payload: queue.put_nowait(
                f'{{"type":"event","event":{{"data":{payload}}}}}'
            ),
        )
        async with (
            served(relay_app(queue)) as base,
            websockets.connect(
                base.replace("http", "ws") + "/ws", ping_interval=None
            ) as connection,
        ):
            for rate in args.rates:
                receipts = Receipts(int(rate * args.seconds))

                async def publish(seq: int) -> None:
                    payload = json.dumps({"seq": seq, "sent_at": time.perf_counter()})
                    async with writers.acquire() as writer, writer.transaction():
                        await writer.execute(f"INSERT INTO {table} (payload) VALUES ($1)", payload)
                        await writer.execute("SELECT pg_notify($1, $2)", channel, payload)

                reader = asyncio.create_task(consume_ws(connection, receipts))
                receipts.published_rate = await paced(rate, args.seconds, publish)
                await settle(receipts, args.drain)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
                results[rate] = receipts
    finally:
        await writers.close()
        await listener.close()
    return results


def line(label: str, receipts: Receipts) -> dict[str, float] | None:
    if not receipts.received:
        print(f"    {label:30} nothing delivered")
        return None
    figures = receipts.figures()
    missing = receipts.expected - len(receipts.received)
    print(
        f"    {label:30} {figures['events_per_s']:7.0f} ev/s delivered"
        f"  p50 {figures['p50_ms']:8.1f} ms  p99 {figures['p99_ms']:8.1f} ms"
        f"  undelivered {missing}  (published {receipts.published_rate:.0f} ev/s)"
    )
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rates", type=lambda text: [int(r) for r in text.split(",")], default=[50, 500, 1000]
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--no-webhooks",
        dest="webhooks",
        action="store_false",
        help="no webhook endpoint: no plugin consumer does work per event",
    )
    parser.add_argument("--drain", type=float, default=30.0, help="wait after the last event")
    parser.add_argument(
        "--transport",
        choices=["postgres", "nats"],
        default="postgres",
        help="KRALIKI_EVENT_TRANSPORT of the kernel path (nats: a stream of this run's own)",
    )
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("KRALIKI_BENCH_NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS with JetStream for --transport nats (or KRALIKI_BENCH_NATS_URL)",
    )
    parser.add_argument(
        "--cross-worker",
        action="store_true",
        help="the client subscribes on a second app in the process that dispatches nothing: "
        "the events cross workers through the transport",
    )
    args = parser.parse_args()
    backend = Backend.from_environment()
    await backend.create()
    try:
        bare = await bare_runs(args, backend) if backend.dialect == "postgresql" else {}
        kernel = await kernel_runs(args, backend)
    finally:
        await backend.drop()
    print(f"steady rate, {args.seconds:g} s per rate, one event per transaction, {backend.dialect}")
    for rate in args.rates:
        print(f"  {rate} ev/s (goal: p99 < {GOALS_P99_MS.get(rate, 50.0):g} ms)")
        base = line("baseline (LISTEN/NOTIFY -> ws)", bare[rate]) if bare else None
        path = f"kernel ({args.transport}{', cross-worker' if args.cross_worker else ''})"
        ours = line(path, kernel[rate])
        if base and ours:
            print(
                f"    kernel p99 / baseline p99: {ours['p99_ms'] / base['p99_ms']:.1f}x;"
                f" goal {'met' if ours['p99_ms'] < GOALS_P99_MS.get(rate, 50.0) else 'missed'}"
            )


if __name__ == "__main__":
    asyncio.run(main())
