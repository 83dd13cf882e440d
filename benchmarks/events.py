"""Events from publication to a WebSocket client and to a webhook receiver, against a bare
in-process pipeline in the same run.

Kernel path: events are published with ``platform.events.publish`` in transactions of
``--batch`` events; after commit the dispatcher delivers them; the real-time hub streams them
to a WebSocket client subscribed over ``/api/v1/realtime`` (uvicorn on 127.0.0.1), and the
webhooks plugin turns each into a signed delivery that its job sends to a receiver (uvicorn
on 127.0.0.1). Baseline: the same events put on an ``asyncio.Queue`` that a bare FastAPI
WebSocket endpoint drains to a client, and POSTed unsigned with one shared httpx client to
the same receiver. Everything runs in one process and one event loop, so both sides share
the same CPU.

Reported per path: events/s (events / time from the first publication to the last receipt)
and p50/p99 latency (receipt - publication), and the kernel's figures relative to the
baseline's.

PostgreSQL when ``KRALIKI_BENCH_DATABASE_URL`` (app role) and
``KRALIKI_BENCH_MIGRATION_DATABASE_URL`` (owner role) are set, in a throwaway schema; else a
SQLite file in a temporary directory.

    .venv/bin/python benchmarks/events.py [--events 2000] [--batch 10] [--aggregates 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
import websockets
from fastapi import FastAPI, Request, WebSocket
from harness import (
    HOST,
    Backend,
    add_users,
    bench_settings,
    create_tenant,
    free_port,
    login,
    migrate,
    ratio,
)

from kernel import (
    Event,
    Permission,
    PluginInfo,
    create_app,
    hookimpl,
    tenant_scope,
)

JWT_SECRET = "events-benchmark-signing-key-0123456789abcdef"
PASSWORD = "events benchmark password"
READ = Permission("bench.ticks", "read", "See benchmark ticks.", default_roles=("admin",))


class Tick(Event):
    name = "bench.tick.happened"
    permission = "bench.ticks:read"
    aggregate = "stream"

    stream: int
    seq: int
    sent_at: float


class BenchPlugin:
    @hookimpl
    def kraliki_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="bench", version="1.0", description="events benchmark")

    @hookimpl
    def kraliki_permissions(self) -> Sequence[Permission]:
        return [READ]

    @hookimpl
    def kraliki_event_types(self) -> Sequence[type[Event]]:
        return [Tick]


@dataclass
class Receipts:
    """Arrival time of each event, by sequence number, on one path."""

    expected: int
    sent: dict[int, float] = field(default_factory=dict)
    received: dict[int, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    published_rate: float = 0.0
    """Events/s the publisher reached (``events_rate.py``)."""

    def add(self, seq: int, sent_at: float) -> None:
        if seq not in self.received:
            self.received[seq] = time.perf_counter()
            self.sent[seq] = sent_at
        if len(self.received) >= self.expected:
            self.done.set()

    def figures(self) -> dict[str, float]:
        latencies = sorted(self.received[s] - self.sent[s] for s in self.received)
        span = max(self.received.values()) - min(self.sent.values())
        return {
            "events_per_s": len(self.received) / span,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        }


def receiver_app(receipts: dict[str, Receipts]) -> FastAPI:
    """The webhook receiver both paths post to; ``receipts["current"]`` is the run's."""
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        body = json.loads(await request.body())
        data = body.get("data", body)
        if "seq" in data:
            receipts["current"].add(data["seq"], data["sent_at"])
        return {"ok": "yes"}

    return app


def bare_app(queue: asyncio.Queue[str]) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text(await queue.get())

    return app


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=HOST,
            port=port,
            log_level="critical",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        await task


async def consume_ws(connection: websockets.ClientConnection, receipts: Receipts) -> None:
    async for raw in connection:
        message = json.loads(raw)
        event = message.get("event", message)
        data = event.get("data", event)
        if "seq" in data:
            receipts.add(data["seq"], data["sent_at"])


async def run_kernel(args: argparse.Namespace, backend: Backend, hooks: dict[str, Receipts]):
    os.environ["KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS"] = "true"
    os.environ["KRALIKI_WEBHOOKS_RETRY_SCHEDULE"] = "1"
    settings, _ = bench_settings(
        backend, jwt_secret=JWT_SECRET, realtime_buffer_events=max(1000, args.events * 2)
    )
    import plugins.webhooks.plugin

    plugin_list: list[object] = [BenchPlugin(), plugins.webhooks.plugin]
    await migrate(settings, plugin_list)
    app = create_app(settings, plugins=plugin_list)
    platform = app.state.platform
    async with app.router.lifespan_context(app):
        tenant_id = await create_tenant(platform.database)
        users = {"admin@bench.example.com": ("admin",)}
        await add_users(platform.database, tenant_id, PASSWORD, users)
        async with served(app) as base, served(receiver_app(hooks)) as receiver:
            async with httpx.AsyncClient(base_url=base) as client:
                token = await login(client, "admin@bench.example.com", PASSWORD)
                created = await client.post(
                    "/api/v1/webhooks/endpoints",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"url": f"{receiver}/hook", "event_types": ["bench.*"]},
                )
                assert created.status_code == 201, created.text
            ws_url = base.replace("http", "ws") + "/api/v1/realtime"
            async with websockets.connect(
                ws_url, subprotocols=["kraliki.v1", f"bearer.{token}"]
            ) as connection:  # type: ignore[list-item]
                await connection.send(json.dumps({"type": "subscribe", "patterns": ["bench.*"]}))
                while json.loads(await connection.recv())["type"] != "ready":
                    pass
                ws = Receipts(args.events)
                hooks["current"] = Receipts(args.events)
                reader = asyncio.create_task(consume_ws(connection, ws))
                for start in range(0, args.events, args.batch):
                    with tenant_scope(tenant_id):
                        async with platform.database.session() as session:
                            for seq in range(start, min(start + args.batch, args.events)):
                                tick = Tick(
                                    stream=seq % args.aggregates,
                                    seq=seq,
                                    sent_at=time.perf_counter(),
                                )
                                await platform.events.publish(session, tick)
                            await session.commit()
                    await asyncio.sleep(0)
                await asyncio.wait_for(ws.done.wait(), args.timeout)
                await asyncio.wait_for(hooks["current"].done.wait(), args.timeout)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    return ws.figures(), hooks["current"].figures()


async def run_bare(args: argparse.Namespace, hooks: dict[str, Receipts]):
    queue: asyncio.Queue[str] = asyncio.Queue()
    outbox: asyncio.Queue[str] = asyncio.Queue()
    async with (
        served(bare_app(queue)) as base,
        served(receiver_app(hooks)) as receiver,
        httpx.AsyncClient() as client,
        websockets.connect(base.replace("http", "ws") + "/ws") as connection,
    ):

        async def send() -> None:  # one delivery at a time, like an ordered webhook sender
            while True:
                await client.post(f"{receiver}/hook", content=await outbox.get())

        ws = Receipts(args.events)
        hooks["current"] = Receipts(args.events)
        workers = [
            asyncio.create_task(consume_ws(connection, ws)),
            asyncio.create_task(send()),
        ]
        for start in range(0, args.events, args.batch):
            for seq in range(start, min(start + args.batch, args.events)):
                body = {"stream": seq % args.aggregates, "seq": seq, "sent_at": 0.0}
                body["sent_at"] = time.perf_counter()
                envelope = json.dumps({"data": body})
                queue.put_nowait(f'{{"type":"event","event":{envelope}}}')
                outbox.put_nowait(envelope)
            await asyncio.sleep(0)
        await asyncio.wait_for(ws.done.wait(), args.timeout)
        await asyncio.wait_for(hooks["current"].done.wait(), args.timeout)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return ws.figures(), hooks["current"].figures()


def show(label: str, figures: dict[str, float], baseline: dict[str, float]) -> None:
    compared = ratio(figures["events_per_s"], baseline["events_per_s"])
    print(
        f"  {label:28} {figures['events_per_s']:9.0f} ev/s  p50 {figures['p50_ms']:7.1f} ms"
        f"  p99 {figures['p99_ms']:7.1f} ms   throughput {compared} of baseline"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=10, help="events per transaction")
    parser.add_argument("--aggregates", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    backend = Backend.from_environment()
    await backend.create()
    hooks: dict[str, Receipts] = {}
    try:
        bare_ws, bare_hook = await run_bare(args, hooks)
        kernel_ws, kernel_hook = await run_kernel(args, backend, hooks)
    finally:
        await backend.drop()
    print(
        f"{args.events} events, {args.batch} per transaction, {args.aggregates} aggregates, "
        f"{backend.dialect}"
    )
    print("WebSocket (publish -> client):")
    show("baseline (queue -> ws)", bare_ws, bare_ws)
    show("kernel (outbox -> ws)", kernel_ws, bare_ws)
    print("Webhook (publish -> receiver):")
    show("baseline (httpx POST)", bare_hook, bare_hook)
    show("kernel (outbox -> signed)", kernel_hook, bare_hook)


if __name__ == "__main__":
    asyncio.run(main())
