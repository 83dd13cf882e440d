"""The whole way on the loopback provider, through the HTTP API only: a queue served by a
loopback agent whose phone answers, and a customer who, once through, says their parcel
arrived damaged. The transcript segment becomes one suggestion for that agent (the refund
article first, the offline model's reply), announced by ``agent_assist.suggestion.created``
however often the customer repeats it. The background workers run routing and dispatch as
on ``make run``; the carrier runs at a hundredth of real time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from assist_helpers import KB, ok
from assist_loopback import SAID, call_in, contact_center, customer_script

from plugins.loopback.testing import LoopbackCalls


@pytest.fixture
async def api(loopback_calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as client:
        yield client


async def test_what_the_customer_says_becomes_a_suggestion_for_their_agent(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
):
    await ok(
        await api.post("/agent-assist/articles/import", json={"format": "markdown", "content": KB}),
        201,
    )
    agent_id, flow_id = await contact_center(api)
    await ok(await api.put(f"/agents/{agent_id}/state", json={"state": "available", "reason": "t"}))
    call_id = await call_in(api, flow_id, customer_script())

    async def suggested() -> list[dict[str, object]]:
        found: list[dict[str, object]] = await ok(
            await api.get(f"/agent-assist/calls/{call_id}/suggestions")
        )
        return found

    async with asyncio.timeout(40):
        while not await suggested():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.1)
    [made] = await suggested()
    assert made["agent_id"] == agent_id
    assert SAID in str(made["said"])
    titles = [a["title"] for a in made["articles"]]  # type: ignore[attr-defined]
    assert titles[0] == "Refunds for damaged items"
    assert str(made["reply"]).startswith("A damaged item is refunded in full")
    assert made["provider"] == "offline"

    # The customer says it again (every 1.5 s): the same articles are not suggested again.
    await asyncio.sleep(4)
    assert len(await suggested()) == 1
    announced = [
        e.payload for e in loopback_calls.delivered if e.name == "agent_assist.suggestion.created"
    ]
    assert announced == [
        {
            "suggestion_id": made["id"],
            "call_id": call_id,
            "agent_id": agent_id,
            "article_ids": [a["id"] for a in made["articles"]],  # type: ignore[attr-defined]
        }
    ]
    await ok(await api.post(f"/calls/{call_id}/hangup", json={}))
