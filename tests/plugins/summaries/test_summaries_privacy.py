"""A summary repeats what was said: it is in the contact's export and goes with the contact's
erasure, through the contacts plugin's HTTP API; another contact's summary stays."""

from __future__ import annotations

import asyncio

from summaries_helpers import ok, speaking, summary

ADA = "+14155550123"
BOB = "+14155550124"
SAID = ("I'm calling about my refund for the broken kettle.", "Thank you, that's all.")


async def place(api, to: str) -> str:
    body = {
        "to": to,
        "from": "+14155550100",
        "instructions": [{"kind": "pause", "seconds": 600}],
        "options": {"script": speaking(*SAID)},
    }
    return str((await ok(await api.post("/calls", json=body), 201))["id"])


async def test_a_contacts_summaries_are_exported_and_erased(loopback_calls, api):
    ada = (await ok(await api.post("/contacts", json={"name": "Ada", "phones": [ADA]}), 201))["id"]
    await ok(await api.post("/contacts", json={"name": "Bob", "phones": [BOB]}), 201)
    adas, bobs = await place(api, ADA), await place(api, BOB)
    await summary(api, adas)
    await summary(api, bobs)

    export = await ok(await api.get(f"/contacts/{ada}/export"))
    [exported] = export["plugins"]["summaries"]["summaries"]
    assert exported["call_id"] == adas
    assert exported["reason"] == SAID[0]

    asked = await api.post(f"/contacts/{ada}/erase")
    assert asked.status_code == 202, asked.text
    status_url = asked.headers["Location"].removeprefix("/api/v1")
    async with asyncio.timeout(20):
        while (await ok(await api.get(status_url)))["status"] != "completed":  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    gone = await api.get(f"/summaries/calls/{adas}")
    assert gone.status_code == 404, gone.text
    [left] = (await ok(await api.get("/summaries")))["items"]
    assert left["call_id"] == bobs
    assert left["reason"] == SAID[0]
    export = await ok(await api.get(f"/contacts/{ada}/export"))
    assert "summaries" not in export["plugins"]
