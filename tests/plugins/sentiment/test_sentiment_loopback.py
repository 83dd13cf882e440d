"""Live sentiment of a loopback call: the callee (the customer of an outbound call) is happy,
then angry; each transcript segment is scored as it arrives, the call's sentiment is
published (``sentiment.call.updated``: the plugins and the real-time stream get it) and read
through the API with its most negative moment."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sentiment_helpers import ANGRY, HAPPY, finished_call, scored, updates

from kernel import add_user, tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, login


async def user(calls: Any, role: str) -> dict[str, str]:
    email = f"{role}@loopback.example.com"
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            await add_user(session, email=email, password=DEFAULT_TEST_PASSWORD, roles=[role])
            await session.commit()
    async with httpx.AsyncClient(base_url=calls.url, timeout=30) as api:
        return await login(api, email, tenant="loopback")


async def stream_events(calls: Any, headers: dict[str, str], into: list[dict[str, Any]]) -> None:
    async with (
        httpx.AsyncClient(base_url=calls.url, timeout=30) as api,
        api.stream(
            "GET",
            "/api/v1/realtime/sse",
            headers=headers,
            params={"events": ["sentiment.*"]},
            timeout=httpx.Timeout(30, read=30),
        ) as stream,
    ):
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                envelope = json.loads(line.removeprefix("data: "))
                if envelope.get("type") == "sentiment.call.updated":
                    into.append(envelope)


async def test_a_happy_then_angry_customer(loopback_calls):
    calls = loopback_calls
    supervisor = await user(calls, "supervisor")
    agent = await user(calls, "agent")
    seen: dict[str, list[dict[str, Any]]] = {"supervisor": [], "agent": []}
    streams = [
        asyncio.create_task(stream_events(calls, supervisor, seen["supervisor"])),
        asyncio.create_task(stream_events(calls, agent, seen["agent"])),
    ]
    try:
        await asyncio.sleep(0.3)  # both streams subscribed
        call = await finished_call(calls, HAPPY, ANGRY)
        call_id = call["id"]
        assert [s["text"] for s in call["transcript"]] == [HAPPY, ANGRY]
        last = await scored(calls, call_id, 2)
    finally:
        await asyncio.sleep(0.3)
        for task in streams:
            task.cancel()
    data = last.payload
    assert data["latest_label"] == "negative"
    assert data["latest_speaker"] == "callee"
    assert data["customer_label"] is not None
    assert data["trend"] == "worsening"
    published = updates(calls.delivered, call_id)
    first = published[0].payload
    assert first["latest_label"] == "positive" or len(published) == 1  # one batch: both
    for role in ("supervisor", "agent"):  # both may follow sentiment live
        live = [e for e in seen[role] if e["data"]["call_id"] == call_id]
        assert live, (role, seen[role])
        assert live[-1]["data"]["segments"] == 2
        assert "text" not in live[-1]["data"]  # labels and scores, never the words

    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers, timeout=30) as api:
        got = await api.get(f"/api/v1/sentiment/calls/{call_id}")
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["overall"]["segments"] == 2
        assert body["customer"]["segments"] == 2
        assert body["agent"] is None
        assert body["counts"] == {"positive": 1, "neutral": 0, "negative": 1}
        assert [p["label"] for p in body["points"]] == ["positive", "negative"]
        assert body["points"][0]["score"] > 0.5 > -0.5 > body["points"][1]["score"]
        assert [p["role"] for p in body["points"]] == ["customer", "customer"]
        [moment] = body["negative_moments"]
        assert moment["text"] == ANGRY
        assert moment["label"] == "negative"
        assert body["trend"] == "worsening"
        # The agent role may follow live labels but not read calls' sentiment.
        refused = await api.get(f"/api/v1/sentiment/calls/{call_id}", headers=agent)
        assert refused.status_code == 403, refused.text
