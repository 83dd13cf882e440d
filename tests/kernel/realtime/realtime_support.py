"""The real-time tests' world: a plugin that publishes two kinds of events, a platform served
by uvicorn on loopback with two tenants, and small WebSocket and SSE clients."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kernel import Event, Permission, SessionDep, Tenant, require, tenant_scope
from kernel._identity.provisioning import add_user
from kernel.testing import DEFAULT_TEST_PASSWORD, serve_app

WAIT = 15.0
"""Longest wait for anything (a busy CI machine); conditions end waits far sooner."""


class ThingDone(Event):
    """Seen by every built-in role."""

    name = "rt.thing.done"
    permission = "rt.things:read"
    aggregate = "label"

    label: str
    n: int
    pad: str = ""


class SecretDone(Event):
    """Seen only by admins (and owners)."""

    name = "rt.secret.done"
    permission = "rt.secrets:read"

    label: str
    n: int


class Publish(BaseModel):
    kind: str = "thing"
    count: int = 1
    label: str = "x"
    pad: int = 0


def rt_plugin(make_plugin: Callable[..., Any]) -> Any:
    router = APIRouter()

    @router.post("/publish", dependencies=[Depends(require("rt.things", "write"))])
    async def publish(body: Publish, request: Request, session: SessionDep) -> list[str]:
        platform = request.app.state.platform
        ids = []
        for n in range(body.count):
            event: Event = (
                ThingDone(label=body.label, n=n, pad="p" * body.pad)
                if body.kind == "thing"
                else SecretDone(label=body.label, n=n)
            )
            ids.append(str(await platform.events.publish(session, event)))
        await session.commit()
        return ids

    every = ("admin", "supervisor", "agent", "integrator")
    return make_plugin(
        "rt",
        permissions=[
            Permission("rt.things", "read", "See things.", every),
            Permission("rt.things", "write", "Publish things.", every),
            Permission("rt.secrets", "read", "See secrets.", ("admin",)),
        ],
        routers=[router],
        event_types=lambda: [ThingDone, SecretDone],
    )


@dataclass
class Account:
    email: str
    tenant: str
    user_id: uuid.UUID | None = None
    access: str = ""
    refresh: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@dataclass
class Site:
    """A served platform with tenants ``alpha`` and ``beta``, each with an admin and an
    agent (logged in)."""

    app: FastAPI
    url: str
    http: httpx.AsyncClient
    tenants: dict[str, uuid.UUID] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def platform(self) -> Any:
        return self.app.state.platform

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/realtime"

    async def rechecked(self, holds: Callable[[Any], bool]) -> None:
        """Wait until every open connection's re-checked principal satisfies ``holds``."""
        connections = self.platform.realtime._connections
        await until(lambda: bool(connections) and all(holds(s.principal) for s in connections))

    async def add_tenant(self, slug: str) -> None:
        async with self.platform.database.session() as session:
            tenant = Tenant(slug=slug, name=slug.title())
            session.add(tenant)
            await session.commit()
            self.tenants[slug] = tenant.id
        for role in ("admin", "agent"):
            email = f"{role}@{slug}.example.com"
            with tenant_scope(self.tenants[slug]):
                async with self.platform.database.session() as session:
                    user_id = await add_user(
                        session, email=email, password=DEFAULT_TEST_PASSWORD, roles=[role]
                    )
                    await session.commit()
            account = Account(email, slug, user_id)
            await self.login(account)
            self.accounts[f"{slug}-{role}"] = account

    async def login(self, account: Account) -> Account:
        body = {"email": account.email, "password": DEFAULT_TEST_PASSWORD, "tenant": account.tenant}
        response = await self.http.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        account.access = response.json()["access_token"]
        account.refresh = response.json()["refresh_token"]
        return account

    async def publish(
        self, who: str, *, kind: str = "thing", count: int = 1, label: str = "x", pad: int = 0
    ) -> list[str]:
        response = await self.http.post(
            "/api/v1/rt/publish",
            headers=self.accounts[who].headers,
            json={"kind": kind, "count": count, "label": label, "pad": pad},
        )
        assert response.status_code == 200, response.text
        ids: list[str] = response.json()
        return ids

    # -- WebSocket ------------------------------------------------------------------

    def ws(
        self,
        who: str | None = None,
        *,
        token: str | None = None,
        subprotocols: list[str] | None = None,
        query: str = "",
        **options: Any,
    ) -> Any:
        """``async with site.ws("alpha-admin") as ws``: connected, authenticated through
        the bearer subprotocol (or as ``subprotocols`` says)."""
        if subprotocols is None:
            token = token or self.accounts[who].access if who else token
            subprotocols = ["kraliki.v1", f"bearer.{token}"]
        return connect(
            self.ws_url + query,
            subprotocols=subprotocols or None,  # type: ignore[arg-type]
            proxy=None,
            open_timeout=WAIT,
            **options,
        )

    @asynccontextmanager
    async def slow_ws(self, who: str) -> AsyncIterator[ClientConnection]:
        """A WebSocket client that reads as little as it can: a tiny receive buffer, one
        queued message, no compression (the server's writes back up soon)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        host, port = self.url.removeprefix("http://").split(":")
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        token = self.accounts[who].access
        async with connect(
            self.ws_url,
            sock=sock,
            subprotocols=["kraliki.v1", f"bearer.{token}"],  # type: ignore[list-item]
            proxy=None,
            compression=None,
            max_queue=1,
            open_timeout=WAIT,
        ) as ws:
            yield ws

    # -- SSE ------------------------------------------------------------------------

    @asynccontextmanager
    async def sse(
        self, who: str, patterns: list[str], *, last_event_id: str | None = None
    ) -> AsyncIterator[SseStream]:
        headers = dict(self.accounts[who].headers)
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        async with self.http.stream(
            "GET",
            "/api/v1/realtime/sse",
            params={"events": patterns},
            headers=headers,
            timeout=httpx.Timeout(WAIT, read=None),
        ) as response:
            assert response.status_code == 200, (await response.aread()).decode()
            yield SseStream(response)


@asynccontextmanager
async def running_site(
    make_app: Callable[..., Any], *, send_buffer: int | None = None, **settings: Any
) -> AsyncIterator[Site]:
    app = await make_app(**settings)
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve_app(app, send_buffer=send_buffer))
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=url, trust_env=False, timeout=WAIT)
        )
        site = Site(app, url, http)
        for slug in ("alpha", "beta"):
            await site.add_tenant(slug)
        yield site


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (server-side state the test cannot await)."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 (a condition, not an event)
            await asyncio.sleep(0.01)


# -- WebSocket reading ----------------------------------------------------------------------


async def receive(ws: ClientConnection, *, skip_heartbeats: bool = True) -> dict[str, Any]:
    """The next message (heartbeats skipped unless asked for)."""
    async with asyncio.timeout(WAIT):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if not (skip_heartbeats and message["type"] == "heartbeat"):
                return message


async def subscribe(
    ws: ClientConnection, patterns: list[str], last_event_id: str | None = None
) -> dict[str, Any]:
    """Subscribe and return the ``ready`` message (after a ``reset``, if one comes first,
    which is then in ``ready["reset"]``)."""
    message: dict[str, Any] = {"type": "subscribe", "patterns": patterns}
    if last_event_id is not None:
        message["last_event_id"] = last_event_id
    await ws.send(json.dumps(message))
    first = await receive(ws)
    if first["type"] == "reset":
        ready = await receive(ws)
        ready["reset"] = first
        first = ready
    assert first["type"] == "ready", first
    return first


async def events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events' envelopes (nothing but events and heartbeats may come)."""
    envelopes = []
    while len(envelopes) < count:
        message = await receive(ws)
        assert message["type"] == "event", message
        envelopes.append(message["event"])
    return envelopes


async def nothing_more(ws: ClientConnection, *, within: float = 0.3) -> None:
    """No event arrives within ``within`` seconds (heartbeats aside)."""
    try:
        async with asyncio.timeout(within):
            while True:
                message = json.loads(await ws.recv())
                assert message["type"] == "heartbeat", message
    except TimeoutError:
        pass


async def closed_with(ws: ClientConnection) -> tuple[int, list[dict[str, Any]]]:
    """Read until the server closes: (close code, messages received before)."""
    messages = []
    async with asyncio.timeout(WAIT):
        while True:
            try:
                messages.append(json.loads(await ws.recv()))
            except ConnectionClosed:
                break
    close = ws.protocol.close_rcvd
    assert close is not None, "closed without a close frame"
    return close.code, messages


# -- SSE reading -----------------------------------------------------------------------------


class SseStream:
    """Reads ``text/event-stream`` frames: dicts with ``event``, ``id``, ``data`` (parsed
    JSON) or ``comment``."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def frame(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        async with asyncio.timeout(WAIT):
            async for line in self._lines:
                if line == "":
                    if fields:
                        return fields
                    continue
                if line.startswith(":"):
                    fields["comment"] = line[1:].strip()
                    continue
                name, _, value = line.partition(": ")
                fields[name] = json.loads(value) if name == "data" else value
        raise EOFError("the stream ended")

    async def next(self, *, skip_heartbeats: bool = True) -> dict[str, Any]:
        while True:
            frame = await self.frame()
            if not (skip_heartbeats and frame.get("comment") == "heartbeat"):
                return frame

    async def events(self, count: int) -> list[dict[str, Any]]:
        frames = []
        while len(frames) < count:
            frame = await self.next()
            assert "id" in frame, frame
            frames.append(frame)
        return frames

    async def until_end(self) -> list[dict[str, Any]]:
        frames = []
        try:
            while True:
                frames.append(await self.next())
        except EOFError:
            return frames
