"""An IVR call's events reach a real-time subscriber as they happen, not at the dispatcher's
sweep (an hour here): they are committed by the provider's webhooks, in transactions that run
the flow's turns under savepoints."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from ivr_calls import CALLER, MENU, NUMBER

from kernel import add_user, tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, create_tenant, login, serve_app
from plugins.calls.testing import use_public_base_url

PROMPTLY = 5.0
"""Longest wait from an event's occurrence to its arrival (a busy CI machine; the sweep would
take an hour)."""
WANTED = ("ivr.session.started", "calls.call.completed", "ivr.session.ended")


@pytest.fixture(autouse=True)
def fast_carrier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.01")


async def admin_headers(app: Any, api: httpx.AsyncClient) -> dict[str, str]:
    tenant_id = await create_tenant(app.state.platform, "acme")
    with tenant_scope(tenant_id):
        async with app.state.platform.database.session() as session:
            await add_user(
                session, email="admin@acme.test", password=DEFAULT_TEST_PASSWORD, roles=["admin"]
            )
            await session.commit()
    return await login(api, "admin@acme.test", tenant="acme")


async def streamed(lines: Any, wanted: tuple[str, ...]) -> dict[str, datetime]:
    """When each wanted event arrived on the stream (SSE ``event:`` / ``data:`` lines)."""
    arrived: dict[str, datetime] = {}
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name in wanted:
            occurred = json.loads(line.removeprefix("data: "))["occurred_at"]
            lag = datetime.now(UTC) - datetime.fromisoformat(occurred)
            assert lag.total_seconds() < PROMPTLY, f"{name} arrived {lag} after it happened"
            arrived[name] = datetime.now(UTC)
            if len(arrived) == len(wanted):
                return arrived
    raise AssertionError(f"the stream ended; only {sorted(arrived)} arrived")


async def test_an_ivr_calls_events_are_streamed_as_they_happen(kraliki_make_app):
    app = await kraliki_make_app(events_sweep_seconds=3600)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as api:
        use_public_base_url(app.state.platform, url)
        api.headers.update(await admin_headers(app, api))
        created = await api.post("/api/v1/ivr/flows", json={"name": "Main", "draft": MENU})
        flow_id = created.json()["id"]
        assert (await api.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})).status_code == 201
        async with api.stream(
            "GET",
            "/api/v1/realtime/sse",
            params={"events": ["calls.call.*", "ivr.session.*"]},
            timeout=httpx.Timeout(PROMPTLY, read=None),
        ) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            assert await anext(lines) == "event: ready"
            # Pressed 7 then 9: wrong twice, the flow says goodbye and hangs up.
            script = ["answer", {"step": "press", "digits": "7"}, {"step": "press", "digits": "9"}]
            body = {"to": CALLER, "from": NUMBER, "flow_id": flow_id, "options": {"script": script}}
            placed = await api.post("/api/v1/calls", json=body)
            assert placed.status_code == 201, placed.text
            async with asyncio.timeout(PROMPTLY * 2):
                await streamed(lines, WANTED)
