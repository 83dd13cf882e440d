"""Seeds the sentiment plugin's tables for the cross-tenant route walk: the seeded calls'
transcript segments were scored as their events were dispatched; every call with a
transcript is analysed on demand as well (idempotent: nothing changes), so B's tables hold a
call's sentiment and its segments, and ``GET .../calls/{call_id}`` answers for B."""

from __future__ import annotations

from typing import Any


async def seed(client: Any, tenant: Any) -> None:
    h = tenant.headers
    calls = await client.get("/api/v1/calls", headers=h, params={"limit": 100})
    assert calls.status_code == 200, calls.text
    analysed = 0
    for call in calls.json()["items"]:
        path = f"/api/v1/sentiment/calls/{call['id']}"
        response = await client.post(f"{path}/analyze", headers=h)
        assert response.status_code in (200, 409), response.text
        if response.status_code == 200:
            analysed += 1
            assert (await client.get(path, headers=h)).status_code == 200
    assert analysed, "a seeded call with a transcript"
    trends = await client.get("/api/v1/sentiment/trends", headers=h)
    assert trends.json()["groups"], trends.text
    drained = await client.post("/api/v1/walkvault/events", headers=h)
    assert drained.status_code == 200, drained.text
