"""Real calls (loopback carrier, signed webhooks, the calls plugin's own events) join their
contact's timeline, and the calls API names the contact to those who may read contacts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from plugins.loopback.testing import NUMBERS, loopback_calls  # noqa: F401 (a fixture)


async def until(fetch, done, within: float = 15.0) -> Any:
    async with asyncio.timeout(within):
        while not done(value := await fetch()):  # noqa: ASYNC110 - polling what nothing signals
            await asyncio.sleep(0.05)
    return value


async def test_a_real_call_joins_the_timeline_and_names_its_contact(
    loopback_calls,  # noqa: F811 (the fixture)
    kraliki_authenticate,
):
    loopback = loopback_calls
    async with httpx.AsyncClient(base_url=loopback.url, headers=loopback.headers) as api:
        created = await api.post(
            "/api/v1/contacts", json={"name": "Busy Bee", "phones": [NUMBERS["busy"]]}
        )
        assert created.status_code == 201, created.text
        contact = created.json()
        event = await loopback.call_event("busy")
        call_id = str(event.payload["call_id"])

        async def timeline() -> list[dict[str, Any]]:
            page = await api.get(f"/api/v1/contacts/{contact['id']}/timeline")
            return list(page.json()["items"])

        [entry] = await until(timeline, lambda items: items and items[0]["status"] == "busy")
        assert (entry["call_id"], entry["direction"], entry["number"]) == (
            call_id,
            "outbound",
            NUMBERS["busy"],
        )
        assert entry["ended_at"] is not None
        summary = (await api.get(f"/api/v1/contacts/{contact['id']}")).json()
        assert (summary["call_count"], summary["last_call_status"]) == (1, "busy")

        href = f"/api/v1/contacts/{contact['id']}"
        link = {"id": contact["id"], "name": "Busy Bee", "href": href}
        assert (await api.get(f"/api/v1/calls/{call_id}")).json()["links"] == {"contact": link}
        listed = (await api.get("/api/v1/calls")).json()["items"]
        assert [c["links"] for c in listed if c["id"] == call_id] == [{"contact": link}]

        # Someone who may read calls but not contacts sees the call without its contact.
        kraliki_authenticate(loopback.app, "calls:read", kind="user", tenant_id=loopback.tenant_id)
        call = (await api.get(f"/api/v1/calls/{call_id}")).json()
        assert call["id"] == call_id
        assert call["links"] == {}
