"""Real call events for tests: the ``loopback_calls`` fixture (``plugins.loopback.testing``).

A plugin that reacts to ``calls.call.busy`` wants the real event, published by the calls
plugin after the loopback carrier reported a busy line through its signed webhooks. The
carrier calls the platform back at ``KRALIKI_CALLS_PUBLIC_BASE_URL``, which must therefore be
the served address before the app is built: the fixture binds a socket first, builds the app
with that address, then serves the app on that very socket.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from kernel import DeliveredEvent, Platform, PluginInfo, add_user, hookimpl, tenant_scope
from kernel.testing import (
    DEFAULT_TEST_PASSWORD,
    create_tenant,
    listening_socket,
    login,
    serve_app,
    socket_url,
    wait_until,
)

Outcome = Literal["completed", "busy", "no-answer", "failed"]
NUMBERS: dict[Outcome, str] = {
    "completed": "+14155550123",  # answers, talks, hangs up
    "busy": "+14155550001",
    "no-answer": "+14155550002",  # rings until the caller gives up
    "failed": "+14155550003",
}
"""A number the loopback callee answers with each outcome (the last four digits decide)."""


class EventRecorder:
    """A plugin recording every event delivered to plugins (``kraliki_event``)."""

    __name__ = "loopback_call_events"

    def __init__(self) -> None:
        self.delivered: list[DeliveredEvent] = []

    @hookimpl
    def kraliki_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="loopback_call_events", version="1.0.0", requires=("calls",))

    @hookimpl
    def kraliki_event(self, platform: Platform, event: DeliveredEvent) -> None:
        self.delivered.append(event)


@dataclass
class LoopbackCalls:
    """A served app whose calls go to the loopback carrier, with an organization whose
    owner is logged in (``headers``); ``delivered`` is every event the plugins received."""

    app: FastAPI
    url: str
    tenant_id: uuid.UUID
    headers: dict[str, str]
    delivered: list[DeliveredEvent] = field(default_factory=list)

    @property
    def platform(self) -> Platform:
        platform: Platform = self.app.state.platform
        return platform

    async def place(self, outcome: Outcome = "completed", **body: Any) -> dict[str, Any]:
        """``POST /api/v1/calls`` to a number that ends the call with ``outcome``; returns
        the created call."""
        body = {"to": NUMBERS[outcome], "from": "+14155550100", **body}
        async with httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=30) as client:
            response = await client.post("/api/v1/calls", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def call_event(self, outcome: Outcome, *, within: float = 15.0) -> DeliveredEvent:
        """Place a call ending with ``outcome`` and return the ``calls.call.<outcome>`` event
        once plugins received it (your plugin's ``kraliki_event`` has run by then)."""
        call_id = (await self.place(outcome))["id"]
        name = f"calls.call.{outcome}"

        def found() -> DeliveredEvent | None:
            matching = (e for e in self.delivered if e.name == name)
            return next((e for e in matching if str(e.payload["call_id"]) == call_id), None)

        await wait_until(lambda: found() is not None, within=within)
        event = found()
        assert event is not None
        return event


@pytest_asyncio.fixture
async def loopback_calls(
    kraliki_make_app: Callable[..., Any],
    kraliki_installed_plugins: list[object],
    kraliki_extra_plugins: list[object],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[LoopbackCalls]:
    """An app with the installed and extra plugins (calls and loopback among them), served
    on a real port that is also its ``KRALIKI_CALLS_PUBLIC_BASE_URL``, the loopback carrier
    at a hundredth of real time, and an organization ``loopback`` with its owner logged in:
    ``event = await loopback_calls.call_event("busy")``."""
    import plugins.loopback.plugin

    sock = listening_socket()
    url = socket_url(sock)
    monkeypatch.setenv("KRALIKI_CALLS_PUBLIC_BASE_URL", url)
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.01")
    recorder = EventRecorder()
    chosen = [*kraliki_installed_plugins, *kraliki_extra_plugins]
    if not any(getattr(p, "obj", p) is plugins.loopback.plugin for p in chosen):
        chosen.append(plugins.loopback.plugin)
    app = await kraliki_make_app(plugins=[*chosen, recorder])
    platform: Platform = app.state.platform
    tenant_id = await create_tenant(platform, "loopback")
    email = "owner@loopback.example.com"
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await add_user(session, email=email, password=DEFAULT_TEST_PASSWORD, roles=["owner"])
            await session.commit()
    async with serve_app(app, sock=sock):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            headers = await login(client, email, tenant="loopback")
        yield LoopbackCalls(app, url, tenant_id, headers, recorder.delivered)
