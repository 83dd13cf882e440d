"""Inbound loopback calls (``POST /api/v1/loopback/inbound-calls``), over real HTTP: the
carrier delivers the call through its signed webhooks, the calls plugin creates it as it
creates a Twilio or Telnyx call to one of the organization's numbers, and it goes where the
number routes; the caller's script plays against what the platform says."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kernel import tenant_scope
from kernel.testing import serve_app
from plugins.calls import PERMISSIONS, Call, CallStatus, PhoneNumber
from plugins.calls.testing import use_public_base_url
from plugins.loopback.permissions import INBOUND_CREATE

ALL = (*(p.key for p in PERMISSIONS), INBOUND_CREATE.key, "ivr.flows:write", "ivr.flows:publish")
NUMBER = "+14155550150"
CALLER = "+14155550177"
TERMINAL = {s.value for s in CallStatus if s.terminal}
MENU: dict[str, Any] = {
    "start": "menu",
    "nodes": {
        "menu": {
            "type": "menu",
            "greeting": "Welcome.",
            "options": [{"key": "1", "label": "hearing a goodbye"}],
            "exits": {"1": "bye", "no_input": "bye", "no_match": "bye"},
        },
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}


@pytest.fixture
async def api(app, platform, tenant, kraliki_authenticate) -> AsyncIterator[httpx.AsyncClient]:
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant)
    async with serve_app(app) as url:
        use_public_base_url(platform, url)
        async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=30) as client:
            yield client


async def routed_number(api: httpx.AsyncClient, number: str = NUMBER) -> str:
    """A published menu flow and ``number`` (on loopback) routed to it: the flow's id."""
    flow = await api.post("/ivr/flows", json={"name": "Menu", "draft": MENU})
    assert flow.status_code == 201, flow.text
    flow_id = str(flow.json()["id"])
    assert (await api.post(f"/ivr/flows/{flow_id}/publish", json={})).status_code == 201
    body = {"number": number, "provider": "loopback", "route": "ivr", "ivr_flow_id": flow_id}
    added = await api.post("/calls/numbers", json=body)
    assert added.status_code == 201, added.text
    return flow_id


async def call_in(api: httpx.AsyncClient, script: list[Any], to: str = NUMBER) -> httpx.Response:
    return await api.post(
        "/loopback/inbound-calls", json={"to": to, "from": CALLER, "script": script}
    )


async def ended(api: httpx.AsyncClient, call_id: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            call: dict[str, Any] = (await api.get(f"/calls/{call_id}")).json()
            if call["status"] in TERMINAL:
                return call
            await asyncio.sleep(0.02)


def path(call: dict[str, Any]) -> list[str]:
    steps = [e["detail"] for e in call["timeline"] if e["kind"] == "ivr.step"]
    return [f"{s['node']}:{s['exit']}" for s in steps if "exit" in s]


async def test_an_inbound_call_runs_the_flow_its_number_routes_to(api):
    await routed_number(api)
    response = await call_in(api, [{"step": "press", "digits": "1"}])
    assert response.status_code == 202, response.text
    made = response.json()
    assert (made["to"], made["from"]) == (NUMBER, CALLER)
    assert made["provider_call_id"].startswith("LB")
    call = await ended(api, made["call_id"])
    assert (call["direction"], call["from"], call["to"]) == ("inbound", CALLER, NUMBER)
    assert call["provider_call_id"] == made["provider_call_id"]
    assert path(call) == ["menu:1"]
    # The platform hung up after its goodbye: on an inbound call, the callee's side.
    assert (call["status"], call["hangup_cause"]) == ("completed", "callee_hangup")
    statuses = [e["status"] for e in call["timeline"] if e["kind"] == "status"]
    assert statuses[:2] == ["ringing", "in-progress"]


async def test_a_caller_who_hangs_up_at_the_menu(api):
    await routed_number(api)
    response = await call_in(api, [{"hangup_after": 1}])
    assert response.status_code == 202, response.text
    call = await ended(api, response.json()["call_id"])
    assert (call["status"], call["hangup_cause"]) == ("completed", "caller_hangup")
    assert path(call) == []


async def test_a_number_routed_nowhere_says_it_cannot_take_the_call(api):
    body = {"number": NUMBER, "provider": "loopback"}
    assert (await api.post("/calls/numbers", json=body)).status_code == 201
    response = await call_in(api, [])
    assert response.status_code == 202, response.text
    call = await ended(api, response.json()["call_id"])
    # Said the line cannot take the call and hung up; the caller would have stayed on.
    assert (call["status"], call["hangup_cause"]) == ("completed", "callee_hangup")
    assert path(call) == []


@pytest.mark.parametrize(
    ("script", "says"),
    [
        (["answer"], "step 1: the caller of an inbound call can only wait"),
        ([{"step": "press", "digits": "x"}], "step 1.digits"),
        (["hangup", {"step": "wait", "seconds": 1}], "step 1 (hangup): hangup must be the last"),
        ([{"step": "wait", "seconds": 1}, {"step": "fly"}], "step 2: the caller"),
    ],
)
async def test_a_script_the_caller_cannot_play_is_a_422_problem(api, script, says):
    await routed_number(api)
    response = await call_in(api, script)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "/problems/loopback-script-invalid"
    assert says in problem["detail"]


async def test_an_unknown_number_is_a_404_problem(api, platform, tenant):
    await routed_number(api)
    twilio = {"number": "+14155550160", "provider": "twilio"}
    assert (await api.post("/calls/numbers", json=twilio)).status_code == 201
    for number in ("+14155550999", "+14155550160"):  # none, and one not on loopback
        response = await call_in(api, [], to=number)
        assert response.status_code == 404, response.text
        assert response.json()["type"] == "/problems/loopback-number-not-found"
    assert await calls_of(platform, tenant) == 0


async def test_another_organizations_number_is_refused(api, platform, tenant, other_tenant):
    with tenant_scope(other_tenant):
        async with platform.database.session() as session:
            session.add(PhoneNumber(number=NUMBER, provider="loopback", route="none"))
            await session.commit()
    response = await call_in(api, [{"hangup_after": 1}])
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "/problems/loopback-number-not-found"
    await asyncio.sleep(0.2)  # a call would have rung by now
    assert await calls_of(platform, other_tenant) == 0
    assert await calls_of(platform, tenant) == 0


async def test_the_route_needs_its_permission(app, platform, tenant, kraliki_authenticate):
    kraliki_authenticate(app, "calls:read", kind="user", tenant_id=tenant)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/api/v1/loopback/inbound-calls", json={"to": NUMBER, "script": []}
        )
    assert response.status_code == 403
    assert INBOUND_CREATE.key in response.text


async def calls_of(platform, tenant_id: uuid.UUID) -> int:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            return int(await session.scalar(select(func.count()).select_from(Call)) or 0)
