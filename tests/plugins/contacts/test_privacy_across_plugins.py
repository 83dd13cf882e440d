"""Erasure proven across calls and IVR data, end to end on real loopback calls: a contact's
number on a call through an IVR flow that collects digits, notes on the call, a do-not-call
entry; after erasure, through the HTTP API, nothing personal is left anywhere, the number is
still refused, and another contact's data is untouched."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import JSON, Uuid, bindparam, text

from kernel import tenant_scope
from plugins.loopback.testing import loopback_calls  # noqa: F401 (a fixture)

ADA = "+14155550123"
BOB = "+14155550124"
OURS = "+14155550100"
ACCOUNT = "987654"
BOBS_ACCOUNT = "112233"
FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}

GATHER = {
    "start": "ask",
    "nodes": {
        "ask": {
            "type": "gather",
            "prompt": "Your account number, then hash.",
            "save_as": "account",
            "exits": {"next": "bye", "no_input": "bye"},
        },
        "bye": {"type": "hangup", "message": "Thank you, goodbye."},
    },
}


async def eventually(
    fetch: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], within: float = 20.0
) -> Any:
    """Poll ``fetch`` until ``done`` says yes (background dispatch and jobs)."""
    async with asyncio.timeout(within):
        while True:
            value = await fetch()
            if done(value):
                return value
            await asyncio.sleep(0.05)


async def call_through_flow(api: httpx.AsyncClient, flow_id: str, to: str, digits: str) -> str:
    script = ["answer", {"step": "press", "digits": f"{digits}#"}]
    body = {"to": to, "from": OURS, "flow_id": flow_id, "options": {"script": script}}
    placed = await api.post("/api/v1/calls", json=body)
    assert placed.status_code == 201, placed.text
    call_id = str(placed.json()["id"])

    async def call() -> dict[str, Any]:
        return dict((await api.get(f"/api/v1/calls/{call_id}")).json())

    await eventually(call, lambda c: c["status"] in FINAL)
    return call_id


async def ivr_state(loopback, call_id: str) -> dict[str, Any]:
    """The IVR session's saved state, read from its table (the IVR has no session API)."""
    query = (
        text("SELECT state FROM ivr_sessions WHERE tenant_id = :tenant AND call_id = :call")
        .bindparams(bindparam("tenant", type_=Uuid), bindparam("call", type_=Uuid))
        .columns(state=JSON)
    )
    with tenant_scope(loopback.tenant_id):
        async with loopback.platform.database.session() as session:
            raw = await session.scalar(
                query, {"tenant": loopback.tenant_id, "call": uuid.UUID(call_id)}
            )
    assert raw is not None, call_id
    return dict(raw)


async def test_erasure_reaches_calls_ivr_and_contacts_and_the_number_stays_refused(
    loopback_calls,  # noqa: F811 (the fixture)
):
    loopback = loopback_calls
    async with httpx.AsyncClient(
        base_url=loopback.url, headers=loopback.headers, timeout=30
    ) as api:
        people = []
        for body in (
            {"name": "Ada Lovelace", "company": "Engines", "phones": ["(415) 555-0123"]},
            {"name": "Bob Babbage", "phones": [BOB], "emails": ["bob@example.com"]},
        ):
            created = await api.post("/api/v1/contacts", json=body)
            assert created.status_code == 201, created.text
            people.append(created.json()["id"])
        ada, bob = people
        created = await api.post("/api/v1/ivr/flows", json={"name": "Accounts", "draft": GATHER})
        assert created.status_code == 201, created.text
        flow_id = created.json()["id"]
        published = await api.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})
        assert published.status_code == 201, published.text
        adas = await call_through_flow(api, flow_id, ADA, ACCOUNT)
        bobs = await call_through_flow(api, flow_id, BOB, BOBS_ACCOUNT)
        noted = await api.patch(
            f"/api/v1/calls/{adas}",
            json={"notes": "Ada wants her refund", "disposition": "callback"},
        )
        assert noted.status_code == 200, noted.text
        listed = await api.post(
            "/api/v1/contacts/dnc", json={"value": ADA, "reason": "asked on the phone"}
        )
        assert listed.status_code == 201, listed.text

        # Before: the call shows its contact, the timeline its notes, the export everything.
        async def timeline() -> list[dict[str, Any]]:
            page = await api.get(f"/api/v1/contacts/{ada}/timeline")
            return list(page.json()["items"])

        [entry] = await eventually(timeline, lambda items: items and items[0]["notes"])
        assert (entry["call_id"], entry["number"], entry["status"]) == (adas, ADA, "completed")
        assert entry["disposition"] == "callback"
        call = (await api.get(f"/api/v1/calls/{adas}")).json()
        assert call["links"]["contact"] == {
            "id": ada,
            "name": "Ada Lovelace",
            "href": f"/api/v1/contacts/{ada}",
        }
        export = (await api.get(f"/api/v1/contacts/{ada}/export")).json()
        [session] = export["plugins"]["ivr"]["sessions"]
        assert (session["call_id"], session["variables"]) == (adas, {"account": ACCOUNT})
        [exported_call] = export["plugins"]["calls"]["calls"]
        assert exported_call["notes"] == "Ada wants her refund"
        assert (await ivr_state(loopback, adas))["variables"] == {"account": ACCOUNT}

        asked = await api.post(f"/api/v1/contacts/{ada}/erase")
        assert asked.status_code == 202, asked.text
        pseudonym = asked.json()["pseudonym"]

        async def erasure() -> dict[str, Any]:
            return dict((await api.get(asked.headers["Location"])).json())

        await eventually(erasure, lambda e: e["status"] == "completed")

        # After: nothing personal through the API.
        call = (await api.get(f"/api/v1/calls/{adas}")).json()
        assert call["to"] == pseudonym
        assert call["notes"] == ""
        assert call["transcript"] == []
        assert "contact" not in call.get("links", {})
        for personal in (ADA, ACCOUNT, "refund", "Ada"):
            assert personal not in json.dumps(call), personal
        assert (await ivr_state(loopback, adas))["variables"] == {}
        for url in (f"/api/v1/contacts/{ada}/export", f"/api/v1/contacts/{ada}/timeline"):
            answer = await api.get(url)
            assert answer.status_code == 200, answer.text
            for personal in (ADA, ACCOUNT, "refund", "Ada", "Lovelace", "Engines"):
                assert personal not in answer.text, (personal, url)
        lookup = await api.get("/api/v1/contacts/lookup", params={"number": ADA})
        assert lookup.json()["items"] == []
        refused = await api.get(
            "/api/v1/contacts/dnc/check", params={"number": ADA, "purpose": "informational"}
        )
        assert refused.status_code == 200, refused.text
        assert refused.json()["allowed"] is False
        assert ADA not in json.dumps((await api.get("/api/v1/contacts/dnc")).json())

        # Bob, another contact, is untouched.
        bobs_call = (await api.get(f"/api/v1/calls/{bobs}")).json()
        assert bobs_call["to"] == BOB
        assert bobs_call["links"]["contact"]["id"] == bob
        assert (await ivr_state(loopback, bobs))["variables"] == {"account": BOBS_ACCOUNT}
        bobs_export = (await api.get(f"/api/v1/contacts/{bob}/export")).json()
        assert bobs_export["contact"]["name"] == "Bob Babbage"
        assert [s["variables"] for s in bobs_export["plugins"]["ivr"]["sessions"]] == [
            {"account": BOBS_ACCOUNT}
        ]
