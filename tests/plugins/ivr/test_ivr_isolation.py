"""Tenant isolation of the IVR on the real API: organization A cannot use, read or change
anything of organization B's flows (404, as if they did not exist), cannot point a number or
a call at them, and A's calls never run B's flow or touch B's flow sessions, even when a
forged target names B's flow. Runs on both databases (on PostgreSQL as the app role, RLS
underneath)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from ivr_helpers import IVR_ALL, flow
from sqlalchemy import select, update

from kernel import tenant_scope
from kernel.testing import create_tenant
from plugins.calls import PERMISSIONS as CALLS_PERMISSIONS
from plugins.calls import PhoneNumber
from plugins.calls.testing import fakeline_plugin, fakeline_webhook, set_call_settings
from plugins.ivr.models import Flow, FlowSession, FlowTest, FlowVersion

CALLS_ALL = tuple(p.key for p in CALLS_PERMISSIONS)
CALLER = "+14155550199"
NUMBERS = {"alpha": "+14155550111", "beta": "+14155550122"}


def menu(slug: str) -> dict[str, Any]:
    return flow(
        "menu",
        menu={
            "type": "menu",
            "greeting": f"Welcome to {slug}.",
            "options": [{"key": "1", "label": "sales"}],
            "exits": {"1": "sales", "no_input": "bye", "no_match": "bye"},
        },
        sales={"type": "transfer", "number": "+1555123000" + ("1" if slug == "alpha" else "2")},
        bye={"type": "hangup", "message": f"Goodbye from {slug}."},
    )


class Org:
    """A tenant with a published flow, a saved test and a number routed to the flow."""

    def __init__(self, slug: str, tenant_id: uuid.UUID) -> None:
        self.slug = slug
        self.id = tenant_id
        self.secret = f"fakeline-{slug}-secret"
        self.number = NUMBERS[slug]
        self.flow_id = ""
        self.test_id = ""
        self.number_id = ""


@pytest.fixture
def kraliki_extra_plugins():
    return [fakeline_plugin()]


@pytest.fixture
def act_as(app, kraliki_authenticate) -> Callable[[Org], None]:
    def switch(org: Org) -> None:
        kraliki_authenticate(app, *IVR_ALL, *CALLS_ALL, kind="user", tenant_id=org.id)

    return switch


async def _org(app, client: httpx.AsyncClient, act_as, slug: str) -> Org:
    platform = app.state.platform
    org = Org(slug, await create_tenant(platform, slug))
    with tenant_scope(org.id):
        async with platform.database.session() as session:
            await platform.vault.put(session, "fakeline.signing_key", org.secret, actor="test")
            await session.commit()
    await set_call_settings(platform, org.id, primary_provider="fakeline", max_concurrent_calls=10)
    act_as(org)
    created = await client.post(
        "/api/v1/ivr/flows", json={"name": f"Main {slug}", "draft": menu(slug)}
    )
    assert created.status_code == 201, created.text
    org.flow_id = created.json()["id"]
    test = await client.post(
        f"/api/v1/ivr/flows/{org.flow_id}/tests",
        json={
            "name": "sales",
            "script": {"steps": [{"digits": "1"}]},
            "expect": {"outcome": "transferred"},
        },
    )
    assert test.status_code == 201, test.text
    org.test_id = test.json()["id"]
    published = await client.post(f"/api/v1/ivr/flows/{org.flow_id}/publish", json={})
    assert published.status_code == 201, published.text
    number = await client.post(
        "/api/v1/calls/numbers",
        json={
            "number": org.number,
            "provider": "fakeline",
            "route": "ivr",
            "ivr_flow_id": org.flow_id,
        },
    )
    assert number.status_code == 201, number.text
    org.number_id = number.json()["id"]
    return org


@pytest.fixture
async def orgs(app, client, act_as) -> tuple[Org, Org]:
    b = await _org(app, client, act_as, "beta")
    a = await _org(app, client, act_as, "alpha")
    return a, b


async def ring(client, org: Org, sid: str) -> list[dict[str, Any]]:
    event = {
        "type": "needs",
        "call": sid,
        "reason": "inbound",
        "direction": "inbound",
        "from": CALLER,
        "to": org.number,
    }
    response = await fakeline_webhook(client, org.id, org.secret, [event], kind="voice")
    assert response.status_code == 200, response.text
    return list(json.loads(response.content)["steps"])


async def answer(client, org: Org, sid: str, digits: str) -> list[dict[str, Any]]:
    event = {"type": "needs", "call": sid, "reason": "gathered", "digits": digits}
    return await _step_ended(client, org, event)


async def transferred(client, org: Org, sid: str) -> list[dict[str, Any]]:
    """The provider reports that the transfer target answered and the conversation ended."""
    event = {"type": "needs", "call": sid, "reason": "dialed", "dial_status": "completed"}
    return await _step_ended(client, org, event)


async def _step_ended(client, org: Org, event: dict[str, Any]) -> list[dict[str, Any]]:
    response = await fakeline_webhook(client, org.id, org.secret, [event], kind="gather")
    assert response.status_code == 200, response.text
    return list(json.loads(response.content)["steps"])


async def snapshot(platform, org: Org) -> dict[str, list[str]]:
    """Every IVR row of ``org`` (its flows, versions, tests, sessions), comparable."""
    out: dict[str, list[str]] = {}
    with tenant_scope(org.id):
        async with platform.database.session() as session:
            for model in (Flow, FlowVersion, FlowTest, FlowSession):
                keys = [a.key for a in model.__mapper__.column_attrs]
                rows = await session.scalars(select(model))
                out[model.__tablename__] = sorted(
                    json.dumps([getattr(row, key) for key in keys], default=str) for row in rows
                )
    return out


async def sessions_of(platform, org: Org) -> list[FlowSession]:
    with tenant_scope(org.id):
        async with platform.database.session() as session:
            return list(await session.scalars(select(FlowSession)))


async def test_a_cannot_use_or_read_anything_of_b_flow(client, orgs, platform, act_as):
    a, b = orgs
    before = await snapshot(platform, b)
    act_as(a)
    flow_path = f"/api/v1/ivr/flows/{b.flow_id}"
    requests: list[tuple[str, str, Any]] = [
        ("GET", flow_path, None),
        ("PATCH", flow_path, {"name": "hijacked"}),
        ("DELETE", flow_path, None),
        ("POST", f"{flow_path}/validate", None),
        ("POST", f"{flow_path}/simulate", {"steps": [{"digits": "1"}]}),
        ("POST", f"{flow_path}/simulate", {"version": "current"}),
        ("POST", f"{flow_path}/publish", {}),
        ("POST", f"{flow_path}/rollback", {"version": 1}),
        ("GET", f"{flow_path}/versions", None),
        ("GET", f"{flow_path}/versions/1", None),
        ("GET", f"{flow_path}/tests", None),
        ("POST", f"{flow_path}/tests", {"name": "x", "script": {}, "expect": {}}),
        ("POST", f"{flow_path}/tests/run", {}),
        ("POST", f"{flow_path}/tests/run", {"version": "current"}),
        ("GET", f"{flow_path}/tests/{b.test_id}", None),
        ("PUT", f"{flow_path}/tests/{b.test_id}", {"name": "hijacked"}),
        ("DELETE", f"{flow_path}/tests/{b.test_id}", None),
    ]
    for method, path, body in requests:
        response = await client.request(method, path, json=body)
        where = f"{method} {path} -> {response.status_code} {response.text[:200]}"
        assert response.status_code == 404, where
        assert response.json()["type"] == "/problems/ivr-flow-not-found", where
        assert "beta" not in response.text, where

    # B's test through A's own flow: no such test either.
    own_test_path = f"/api/v1/ivr/flows/{a.flow_id}/tests/{b.test_id}"
    for method, body in (("GET", None), ("PUT", {"name": "hijacked"}), ("DELETE", None)):
        response = await client.request(method, own_test_path, json=body)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["type"] == "/problems/ivr-test-not-found"

    listed = (await client.get("/api/v1/ivr/flows")).json()["items"]
    assert [item["id"] for item in listed] == [a.flow_id]
    own_tests = (await client.get(f"/api/v1/ivr/flows/{a.flow_id}/tests")).json()
    assert [test["id"] for test in own_tests] == [a.test_id]
    assert await snapshot(platform, b) == before

    act_as(b)  # B still sees its flow as it was
    got = (await client.get(flow_path)).json()
    assert (got["name"], got["current_version"], got["draft_revision"]) == ("Main beta", 1, 1)
    assert [v["number"] for v in (await client.get(f"{flow_path}/versions")).json()] == [1]


async def test_a_cannot_route_a_number_to_b_flow(client, orgs, act_as):
    a, b = orgs
    act_as(a)
    created = await client.post(
        "/api/v1/calls/numbers",
        json={
            "number": "+14155550133",
            "provider": "fakeline",
            "route": "ivr",
            "ivr_flow_id": b.flow_id,
        },
    )
    assert created.status_code == 422, created.text
    assert created.json()["type"] == "/problems/calls-handler-unavailable"
    assert created.json()["field"] == "ivr_flow_id"
    changed = await client.patch(
        f"/api/v1/calls/numbers/{a.number_id}", json={"ivr_flow_id": b.flow_id}
    )
    assert changed.status_code == 422, changed.text
    assert changed.json()["type"] == "/problems/calls-handler-unavailable"
    numbers = (await client.get("/api/v1/calls/numbers")).json()["items"]
    assert [(n["number"], n["ivr_flow_id"]) for n in numbers] == [(a.number, a.flow_id)]


async def test_a_cannot_place_a_call_with_b_flow(client, orgs, act_as):
    a, b = orgs
    act_as(a)
    refused = await client.post(
        "/api/v1/calls", json={"to": CALLER, "from": a.number, "flow_id": b.flow_id}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "/problems/calls-handler-unavailable"
    assert refused.json()["field"] == "flow_id"
    assert (await client.get("/api/v1/calls")).json()["items"] == []


async def test_a_forged_target_naming_b_flow_runs_nothing_of_b(client, orgs, platform, act_as):
    """A's number pointed at B's flow behind the API's back: A's caller hears an apology,
    never B's flow, and no flow session is started in either organization."""
    a, b = orgs
    before = await snapshot(platform, b)
    with tenant_scope(a.id):
        async with platform.database.session() as session:
            await session.execute(
                update(PhoneNumber)
                .where(PhoneNumber.id == uuid.UUID(a.number_id))
                .values(ivr_flow_id=uuid.UUID(b.flow_id))
            )
            await session.commit()
    steps = await ring(client, a, "FL-1")
    assert [step["kind"] for step in steps] == ["say", "hangup"]
    assert "beta" not in json.dumps(steps)
    assert await sessions_of(platform, a) == []
    assert await snapshot(platform, b) == before
    act_as(a)
    [call] = (await client.get("/api/v1/calls")).json()["items"]
    timeline = (await client.get(f"/api/v1/calls/{call['id']}")).json()["timeline"]
    assert "ivr.unavailable" in [entry["kind"] for entry in timeline]
    assert "ivr.started" not in [entry["kind"] for entry in timeline]


async def test_calls_of_each_tenant_run_only_their_own_flow_and_session(client, orgs, platform):
    """Both organizations' providers use the same call id: each call runs its own
    organization's flow, and answers to A's call move only A's session."""
    a, b = orgs
    first_b = await ring(client, b, "FL-1")
    first_a = await ring(client, a, "FL-1")
    assert first_b[0]["prompt"][0]["text"].startswith("Welcome to beta.")
    assert first_a[0]["prompt"][0]["text"].startswith("Welcome to alpha.")
    b_waiting = await snapshot(platform, b)

    done = await answer(client, a, "FL-1", "1")
    assert done[0]["kind"] == "dial"
    assert done[0]["number"] == "+15551230001"  # A's transfer target, not B's
    assert await transferred(client, a, "FL-1") == [{"kind": "hangup"}]
    assert await snapshot(platform, b) == b_waiting
    [kept_a] = await sessions_of(platform, a)
    assert str(kept_a.flow_id) == a.flow_id
    assert (kept_a.status, kept_a.outcome) == ("ended", "transferred")
    [kept_b] = await sessions_of(platform, b)
    assert (str(kept_b.flow_id), kept_b.status) == (b.flow_id, "active")

    later = await answer(client, b, "FL-1", "1")
    assert later[0]["number"] == "+15551230002"
    await transferred(client, b, "FL-1")
    [kept_b] = await sessions_of(platform, b)
    assert (kept_b.status, kept_b.outcome) == ("ended", "transferred")


async def test_a_subflow_cannot_reach_b_flow(client, orgs, platform, act_as):
    a, b = orgs
    act_as(a)
    draft = flow("enter", enter={"type": "subflow", "flow_id": b.flow_id})
    created = await client.post("/api/v1/ivr/flows", json={"name": "Sneaky", "draft": draft})
    assert created.status_code == 201, created.text
    path = f"/api/v1/ivr/flows/{created.json()['id']}"
    validated = (await client.post(f"{path}/validate")).json()
    assert validated["valid"] is False
    assert any(i["field"] == "flow_id" and i["code"] == "subflow" for i in validated["issues"])
    published = await client.post(f"{path}/publish", json={})
    assert published.status_code == 422, published.text
    assert published.json()["type"] == "/problems/ivr-flow-invalid"
    simulated = await client.post(f"{path}/simulate", json={"steps": [{"digits": "1"}]})
    assert simulated.status_code == 200, simulated.text
    assert "beta" not in simulated.text  # none of B's prompts
    assert simulated.json()["outcome"]["kind"] == "error"
    assert "does not exist" in simulated.json()["outcome"]["detail"]["error"]
