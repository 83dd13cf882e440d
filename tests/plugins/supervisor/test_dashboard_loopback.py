"""The dashboard over real calls on the loopback carrier, through the HTTP API only, in a
time zone eleven hours behind UTC: one caller reaches a loopback agent through a queue, talks
and hangs up after the agent; a second caller, while the agent is away, hangs up waiting. The
summary's figures are worked out from what the queue's and the agent's own routes say about
these calls; the agents' legs the queue placed are no customer calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from plugins.loopback import testing
from plugins.loopback.testing import LoopbackCalls

loopback_calls = testing.loopback_calls

ZONE = "Pacific/Pago_Pago"  # UTC-11
NUMBER = "+14155550160"
TALKS = [{"answer_after": 1}, {"hangup_after": 300}]
"""The agent's phone rings 1 s, answers and hangs up after 300 s (3 s real)."""


@pytest.fixture
async def api(loopback_calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as client:
        yield client


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.05)


async def test_the_summary_counts_real_calls_through_a_queue(api: httpx.AsyncClient):
    await ok(await api.patch("/tenant", json={"timezone": ZONE}))
    body = {"display_name": "Bot", "reach": {"kind": "loopback", "loopback_script": TALKS}}
    agent = (await ok(await api.post("/agents", json=body), 201))["id"]
    queue = (
        await ok(
            await api.post(
                "/queues",
                json={"name": "Support", "wrap_up_seconds": 1, "agent_ids": [agent]},
            ),
            201,
        )
    )["id"]
    route = {"number": NUMBER, "provider": "loopback", "route": "queues", "ivr_flow_id": queue}
    await ok(await api.post("/calls/numbers", json=route), 201)
    await ok(await api.put(f"/agents/{agent}/state", json={"state": "available", "reason": "test"}))

    async def live() -> dict[str, Any]:
        result: dict[str, Any] = await ok(await api.get(f"/queues/{queue}/live"))
        return result

    # The first caller stays on until the agent hangs up.
    first = await ok(await api.post("/loopback/inbound-calls", json={"to": NUMBER}), 202)

    async def served() -> bool:
        state = (await ok(await api.get(f"/agents/{agent}")))["state"]
        return (await live())["today"]["answered"] == 1 and state == "available"

    await until(served)
    # The second caller finds the agent away and hangs up after 50 s (0.5 s real).
    await ok(await api.post("/agents/reason-codes", json={"code": "break"}), 201)
    await ok(
        await api.put(
            f"/agents/{agent}/state",
            json={"state": "away", "reason_code": "break", "reason": "test"},
        )
    )
    script = {"to": NUMBER, "script": [{"hangup_after": 50}]}
    second = await ok(await api.post("/loopback/inbound-calls", json=script), 202)

    async def abandoned() -> bool:
        return (await live())["today"]["abandoned"] == 1

    await until(abandoned)

    today = (await live())["today"]
    history = (await ok(await api.get(f"/queues/{queue}/calls")))["items"]
    waits = {str(c["call_id"]): c["wait_seconds"] for c in history}
    handled = (await ok(await api.get(f"/agents/{agent}/calls")))["items"]
    assert len(handled) == 1
    [talk] = [h["talk_seconds"] for h in handled]
    [wrap] = [h["wrap_up_seconds"] for h in handled]

    summary = await ok(await api.get("/supervisor/dashboard/summary"))
    assert summary["time_zone"] == ZONE
    assert summary["from"] == today["day"]
    # Two customers called in; the queue's leg to the agent is not a customer call.
    assert summary["calls"] == {"inbound": 2, "outbound": 0}
    queues = summary["queues"]
    assert (queues["offered"], queues["answered"], queues["abandoned"]) == (2, 1, 1)
    assert queues["answered_within_threshold"] == 1  # a wait of well under 20 s
    assert (queues["service_level"], queues["abandon_rate"]) == (50.0, 50.0)
    assert queues["asa_seconds"] == round(waits[first["call_id"]], 1)
    assert {k: today[k] for k in ("offered", "answered", "abandoned", "service_level")} == {
        k: queues[k] for k in ("offered", "answered", "abandoned", "service_level")
    }
    assert second["call_id"] in waits
    assert (summary["handling"]["handled"], summary["handling"]["talked"]) == (1, 1)
    assert summary["handling"]["aht_seconds"] == round(talk + (wrap or 0.0), 1)
    assert summary["agents"]["logged_in"] == 1
    assert summary["agents"]["by_state"]["away"] == 1

    activity = (await ok(await api.get("/supervisor/dashboard/activity")))["items"]
    kinds = [e["type"] for e in activity]
    for name in ("queues.call.answered", "queues.call.completed", "queues.call.abandoned"):
        assert name in kinds, kinds
    assert kinds.index("queues.call.abandoned") < kinds.index("queues.call.answered")
