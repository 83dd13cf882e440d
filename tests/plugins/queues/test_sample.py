"""The support sample (``POST /api/v1/queues/samples/support/import``) through HTTP: what it
creates, its saved tests passing, a second import refused, the permissions it needs, and a
caller dialling the routed number on loopback who presses 2 and reaches an agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kernel import Platform
from kernel.testing import TenantOwner, audit_events, wait_until
from plugins.loopback import testing
from plugins.loopback.testing import LoopbackCalls, call_log

loopback_calls = testing.loopback_calls

IMPORT = "/api/v1/queues/samples/support/import"
NUMBER = "+14155550150"


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def add_number(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    body = {"number": NUMBER, "provider": "loopback", **body}
    return await ok(await client.post("/api/v1/calls/numbers", json=body, headers=headers), 201)


async def test_the_sample_builds_a_contact_center(client: httpx.AsyncClient, owner: TenantOwner):
    h = owner.headers
    busy = await add_number(client, h, number="+14155550140", route="forward", forward_to=NUMBER)
    twilio = await add_number(client, h, number="+14155550141", provider="twilio")
    free = await add_number(client, h)
    made = await ok(await client.post(IMPORT, headers=h), 201)

    queue = await ok(await client.get(f"/api/v1/queues/{made['queue_id']}", headers=h))
    assert (queue["name"], queue["wrap_up_seconds"]) == ("Support", 5)
    assert sorted(queue["agent_ids"]) == sorted(made["agent_ids"])
    agents = (await ok(await client.get("/api/v1/agents?active=true", headers=h)))["items"]
    phones = {a["display_name"]: (a["state"], a["reach"]) for a in agents}
    assert phones == {
        "Ava": ("available", reach([{"answer_after": 2}, {"hangup_after": 20}])),
        "Ben": ("available", reach([{"answer_after": 4}, {"hangup_after": 40}])),
        "Cleo": ("available", reach([{"decline_after": 3}])),
    }

    flow = await ok(await client.get(f"/api/v1/ivr/flows/{made['flow_id']}", headers=h))
    assert (flow["name"], flow["current_version"], made["flow_version"]) == ("Support line", 1, 1)
    support = flow["draft"]["nodes"]["support"]
    assert support["type"] == "queues.enqueue"
    assert support["queue_id"] == made["queue_id"]
    assert support["exits"] == {"overflow": "voicemail", "timeout": "voicemail"}
    weekly = flow["draft"]["nodes"]["hours"]["hours"]["weekly"]
    assert weekly["sun"] == [{"open": "00:00", "close": "24:00"}]
    run = await ok(
        await client.post(f"/api/v1/ivr/flows/{made['flow_id']}/tests/run", json={}, headers=h)
    )
    failed = [(r["name"], r["failures"]) for r in run["results"] if not r["passed"]]
    assert (run["passed"], failed) == (8, [])

    # The free loopback number goes to the flow; the others keep their routes.
    assert made["number"] == {"id": free["id"], "number": NUMBER}
    numbers = (await ok(await client.get("/api/v1/calls/numbers", headers=h)))["items"]
    routes = {n["id"]: (n["route"], n["ivr_flow_id"]) for n in numbers}
    assert routes == {
        busy["id"]: ("forward", None),
        twilio["id"]: ("none", None),
        free["id"]: ("ivr", made["flow_id"]),
    }


def reach(script: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "loopback", "address": "", "loopback_script": script}


async def test_without_a_free_number_nothing_is_routed(
    client: httpx.AsyncClient, owner: TenantOwner, platform: Platform
):
    made = await ok(await client.post(IMPORT, headers=owner.headers), 201)
    assert made["number"] is None
    [audited] = await audit_events(platform, owner.tenant_id, "queues.sample_imported")
    assert audited.target_id == made["queue_id"]


async def test_importing_twice_is_a_409_problem(client: httpx.AsyncClient, owner: TenantOwner):
    h = owner.headers
    await ok(await client.post(IMPORT, headers=h), 201)
    again = await client.post(IMPORT, headers=h)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["type"] == "/problems/queues-sample-exists"
    assert "imported already" in again.json()["detail"]
    agents = (await ok(await client.get("/api/v1/agents", headers=h)))["items"]
    assert len(agents) == 3  # the refused import left nothing behind


async def test_a_flow_named_like_the_sample_refuses_it_and_leaves_nothing(
    client: httpx.AsyncClient, owner: TenantOwner
):
    h = owner.headers
    mine = {"name": "Support line"}
    await ok(await client.post("/api/v1/ivr/flows", json=mine, headers=h), 201)
    refused = await client.post(IMPORT, headers=h)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "/problems/ivr-flow-exists"
    assert (await ok(await client.get("/api/v1/agents", headers=h)))["items"] == []
    assert (await ok(await client.get("/api/v1/queues", headers=h)))["items"] == []


NEEDED = [
    "queues:write",
    "agents:write",
    "agents:all",
    "agents.state:force",
    "ivr.flows:write",
    "ivr.flows:publish",
    "calls.numbers:write",
]


@pytest.mark.parametrize("missing", NEEDED)
async def test_the_import_needs_the_permissions_of_what_it_creates(
    client: httpx.AsyncClient, owner: TenantOwner, as_role, missing: str
):
    permissions = [p for p in NEEDED if p != missing]
    role = {"name": "sampler", "permissions": permissions}
    await ok(await client.post("/api/v1/roles", json=role, headers=owner.headers), 201)
    refused = await client.post(IMPORT, headers=await as_role("sampler"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "/problems/forbidden"
    assert refused.json()["detail"] == f"this action needs the permission {missing!r}"
    everything = await ok(await client.get("/api/v1/queues", headers=owner.headers))
    assert everything["items"] == []
    assert (await client.post(IMPORT, headers=await as_role("admin"))).status_code == 201


@pytest.fixture
async def api(loopback_calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as client:
        yield client


async def test_a_caller_dialling_in_presses_2_and_reaches_an_agent(
    loopback_calls: LoopbackCalls, api: httpx.AsyncClient
):
    await ok(await api.post("/calls/numbers", json={"number": NUMBER, "provider": "loopback"}), 201)
    made = await ok(await api.post("/queues/samples/support/import"), 201)
    assert made["number"]["number"] == NUMBER
    script = [{"step": "press", "digits": "2"}, {"hangup_after": 3000}]
    body = {"to": NUMBER, "from": "+14155550177", "script": script}
    call = await ok(await api.post("/loopback/inbound-calls", json=body), 202)

    async def connected() -> dict[str, Any] | None:
        live: dict[str, Any] = await ok(await api.get(f"/queues/{made['queue_id']}/live"))
        return live if live["connected"] == 1 else None

    async with asyncio.timeout(30):
        while (live := await connected()) is None:  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.05)
    assert live["agents"]["on_call"] == 1
    on_call = [
        a
        for a in (await ok(await api.get("/agents?active=true")))["items"]
        if a["state"] == "on_call"
    ]
    assert [a["display_name"] for a in on_call] in (["Ava"], ["Ben"])
    detail = await ok(await api.get(f"/calls/{call['call_id']}"))
    assert detail["direction"] == "inbound"
    steps = [e["detail"] for e in detail["timeline"] if e["kind"] == "ivr.step"]
    assert [f"{s['node']}:{s['exit']}" for s in steps if "exit" in s] == [
        "hours:open",
        "lookup:error",
        "welcome:next",
        "menu:2",
    ]
    assert ("pressed", "2") in call_log(loopback_calls.platform, call["provider_call_id"])
    # The queue counts the call connected once the agent answers; the dispatch job then moves
    # the caller into the conference: wait for the carrier to log it.
    await wait_until(
        lambda: (
            ("redirected", "conference")
            in call_log(loopback_calls.platform, call["provider_call_id"])
        ),
        within=15,
    )
