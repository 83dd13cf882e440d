"""The IVR driving calls: signed provider webhooks (the in-process fakeline provider) through
the calls ingest to the flow runtime; state across turns, versions pinned per call, events,
the timeline, failures that end in an apology rather than silence."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from ivr_helpers import IVR_ALL, flow
from sqlalchemy import select

from kernel import Tenant, tenant_scope
from kernel.testing import app_client, create_tenant, published_events
from plugins.calls import PERMISSIONS as CALLS_PERMISSIONS
from plugins.calls.testing import fakeline_plugin, fakeline_webhook, set_call_settings
from plugins.ivr.models import FlowSession

SECRET = "fakeline-signing-secret"
OUR_NUMBER = "+14155550100"
CALLER = "+14155550199"
CALLS_ALL = tuple(p.key for p in CALLS_PERMISSIONS)

MENU = flow(
    "menu",
    menu={
        "type": "menu",
        "greeting": "Welcome to version one.",
        "options": [{"key": "1", "label": "sales"}, {"key": "2", "label": "billing"}],
        "exits": {"1": "sales", "2": "billing", "no_input": "bye", "no_match": "bye"},
    },
    sales={"type": "transfer", "number": "+15551230001"},
    billing={"type": "voicemail", "prompt": "Leave a message for billing."},
    bye={"type": "hangup", "message": "Goodbye."},
)


@pytest.fixture
def kraliki_extra_plugins():
    return [fakeline_plugin()]


@pytest.fixture
async def app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
async def client(app):
    async with app_client(app) as http:
        yield http


@pytest.fixture
async def tenant(app, kraliki_authenticate) -> uuid.UUID:
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.vault.put(session, "fakeline.signing_key", SECRET, actor="test")
            await session.commit()
    await set_call_settings(
        platform, tenant_id, primary_provider="fakeline", max_concurrent_calls=10
    )
    kraliki_authenticate(app, *IVR_ALL, *CALLS_ALL, kind="user", tenant_id=tenant_id)
    return tenant_id


async def published_flow(client: httpx.AsyncClient, document: dict, name: str = "Main") -> str:
    created = await client.post("/api/v1/ivr/flows", json={"name": name, "draft": document})
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})
    assert published.status_code == 201, published.text
    return flow_id


async def route_number(client: httpx.AsyncClient, flow_id: str) -> None:
    response = await client.post(
        "/api/v1/calls/numbers",
        json={"number": OUR_NUMBER, "provider": "fakeline", "route": "ivr", "ivr_flow_id": flow_id},
    )
    assert response.status_code == 201, response.text


async def ring(client, tenant, sid: str) -> list[dict[str, Any]]:
    """A caller dials our number: the provider asks what to do; the answer's instructions."""
    event = {
        "type": "needs",
        "call": sid,
        "reason": "inbound",
        "direction": "inbound",
        "from": CALLER,
        "to": OUR_NUMBER,
    }
    response = await fakeline_webhook(client, tenant, SECRET, [event], kind="voice")
    assert response.status_code == 200, response.text
    return list(json.loads(response.content)["steps"])


async def answer(
    client, tenant, sid: str, delivery: str | None = None, **got: str
) -> httpx.Response:
    event = {"type": "needs", "call": sid, "reason": "gathered", **got}
    return await fakeline_webhook(
        client, tenant, SECRET, [event], kind="gather", delivery_id=delivery
    )


async def hang_up(client, tenant, sid: str) -> None:
    event = {"type": "progress", "call": sid, "status": "completed", "hangup_cause": "caller"}
    response = await fakeline_webhook(client, tenant, SECRET, [event])
    assert response.status_code == 200


def steps_of(response: httpx.Response) -> list[dict[str, Any]]:
    return list(json.loads(response.content)["steps"])


async def only_call(client) -> dict[str, Any]:
    [call] = (await client.get("/api/v1/calls")).json()["items"]
    return dict((await client.get(f"/api/v1/calls/{call['id']}")).json())


async def event_names(platform, tenant) -> list[str]:
    events = await published_events(platform, tenant)
    return [name for name, _ in events if name.startswith("ivr.")]


async def sessions(platform, tenant) -> list[FlowSession]:
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return list(await session.scalars(select(FlowSession)))


async def dialed(client, tenant, sid: str, status: str) -> httpx.Response:
    """The provider reports how a transfer's dialled leg ended."""
    event = {"type": "needs", "call": sid, "reason": "dialed", "dial_status": status}
    return await fakeline_webhook(client, tenant, SECRET, [event], kind="gather")


async def test_an_inbound_call_runs_the_flow_to_a_transfer(client, tenant, app):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)

    first = await ring(client, tenant, "FL-1")
    assert [step["kind"] for step in first] == ["gather"]
    assert first[0]["prompt"][0]["text"].startswith("Welcome to version one.")

    second = steps_of(await answer(client, tenant, "FL-1", digits="1"))
    assert second == [
        {
            "kind": "dial",
            "number": "+15551230001",
            "caller_id": CALLER,
            "timeout_seconds": 30,
            "report_outcome": True,
        }
    ]
    # The target answered, they talked, the target hung up: the caller's leg is hung up.
    third = steps_of(await dialed(client, tenant, "FL-1", "completed"))
    assert third == [{"kind": "hangup"}]
    call = await only_call(client)
    ivr = [(e["kind"], e["detail"]) for e in call["timeline"] if e["kind"].startswith("ivr")]
    assert ivr == [
        ("ivr.started", {"flow_id": flow_id, "version": 1}),
        ("ivr.step", {"node": "menu", "type": "menu", "step": "waiting"}),
        ("ivr.step", {"node": "menu", "type": "menu", "step": "completed", "exit": "1"}),
        ("ivr.step", {"node": "sales", "type": "transfer", "step": "waiting"}),
        ("ivr.step", {"node": "sales", "type": "transfer", "step": "ended"}),
        ("ivr.ended", {"outcome": "transferred", "node": "sales"}),
    ]
    [report] = [e for e in call["timeline"] if e["kind"] == "dialed"]
    assert (report["source"], report["status"]) == ("provider", "completed"), report
    assert await event_names(app.state.platform, tenant) == [
        "ivr.flow.published",
        "ivr.session.started",
        "ivr.step.waiting",
        "ivr.step.completed",
        "ivr.step.waiting",
        "ivr.session.ended",
    ]
    [kept] = await sessions(app.state.platform, tenant)
    assert (kept.status, kept.outcome, kept.version) == ("ended", "transferred", 1)
    assert kept.state["path"] == ["menu:1", "sales:ended"]


async def test_a_transfer_nobody_answers_takes_its_no_answer_exit(client, tenant, app):
    document = json.loads(json.dumps(MENU))
    document["nodes"]["sales"]["exits"] = {"no_answer": "billing"}
    flow_id = await published_flow(client, document)
    await route_number(client, flow_id)
    await ring(client, tenant, "FL-1")
    await answer(client, tenant, "FL-1", digits="1")

    after = steps_of(await dialed(client, tenant, "FL-1", "no-answer"))
    assert [step["kind"] for step in after] == ["say", "record", "say", "hangup"]
    assert after[0]["text"] == "Leave a message for billing."
    [kept] = await sessions(app.state.platform, tenant)
    assert kept.status == "active"
    assert kept.state["path"] == ["menu:1", "sales:no_answer"]


async def test_a_busy_target_without_an_exit_hears_an_apology_not_silence(client, tenant, app):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)
    await ring(client, tenant, "FL-1")
    await answer(client, tenant, "FL-1", digits="1")

    after = steps_of(await dialed(client, tenant, "FL-1", "busy"))
    assert [step["kind"] for step in after] == ["say", "hangup"]
    assert after[0]["text"].startswith("Sorry, we could not connect your call.")
    [kept] = await sessions(app.state.platform, tenant)
    assert (kept.status, kept.outcome) == ("ended", "transfer-failed")
    assert kept.state["outcome"]["detail"] == {"to": "+15551230001", "status": "busy"}


async def test_a_caller_hanging_up_during_a_transfer_ends_it_transferred(client, tenant, app):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)
    await ring(client, tenant, "FL-1")
    await answer(client, tenant, "FL-1", digits="1")
    await hang_up(client, tenant, "FL-1")

    [kept] = await sessions(app.state.platform, tenant)
    assert (kept.status, kept.outcome) == ("ended", "transferred")
    assert kept.state["path"] == ["menu:1", "sales:ended"]
    late = await dialed(client, tenant, "FL-1", "completed")  # after the end: nothing to do
    assert late.status_code == 200, late.text


async def test_a_call_in_progress_finishes_on_its_version(client, tenant):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)
    await ring(client, tenant, "FL-1")

    changed = json.loads(json.dumps(MENU))
    changed["nodes"]["menu"]["greeting"] = "Welcome to version two."
    changed["nodes"]["sales"]["number"] = "+15551239999"
    await client.patch(f"/api/v1/ivr/flows/{flow_id}", json={"draft": changed})
    assert (await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})).json()[
        "number"
    ] == 2

    old = steps_of(await answer(client, tenant, "FL-1", digits="1"))
    assert old[0]["number"] == "+15551230001"  # version 1's target
    new = await ring(client, tenant, "FL-2")
    assert new[0]["prompt"][0]["text"].startswith("Welcome to version two.")

    await client.post(f"/api/v1/ivr/flows/{flow_id}/rollback", json={"version": 1})
    again = await ring(client, tenant, "FL-3")
    assert again[0]["prompt"][0]["text"].startswith("Welcome to version one.")


async def test_a_redelivered_answer_is_not_applied_twice(client, tenant, app):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)
    await ring(client, tenant, "FL-1")
    first = await answer(client, tenant, "FL-1", delivery="g-1", digits="9")
    again = await answer(client, tenant, "FL-1", delivery="g-1", digits="9")
    assert again.content == first.content
    [kept] = await sessions(app.state.platform, tenant)
    assert kept.state["retries"] == {"1:menu": 1}  # one wrong answer, not two


async def test_the_caller_hanging_up_ends_the_session(client, tenant, app):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)
    await ring(client, tenant, "FL-1")
    await hang_up(client, tenant, "FL-1")
    [kept] = await sessions(app.state.platform, tenant)
    assert (kept.status, kept.outcome) == ("ended", "caller-hangup")
    names = await event_names(app.state.platform, tenant)
    assert names[-1] == "ivr.session.ended"


async def test_voicemail_ends_as_voicemail_on_either_kind_of_provider(client, tenant, app):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)
    await ring(client, tenant, "FL-1")
    left = steps_of(await answer(client, tenant, "FL-1", digits="2"))
    assert [s["kind"] for s in left] == ["say", "record", "say", "hangup"]
    # A document-style provider posts the recording's end: the goodbye, again.
    after = steps_of(await answer(client, tenant, "FL-1", digits=""))
    assert [s["kind"] for s in after] == ["say", "hangup"]
    [kept] = await sessions(app.state.platform, tenant)
    assert kept.outcome == "voicemail"

    # A command-style provider goes on by itself and the call just ends.
    await ring(client, tenant, "FL-2")
    await answer(client, tenant, "FL-2", digits="2")
    await hang_up(client, tenant, "FL-2")
    outcomes = sorted(s.outcome for s in await sessions(app.state.platform, tenant))
    assert outcomes == ["voicemail", "voicemail"]


async def test_an_outbound_call_placed_with_a_flow(client, tenant):
    flow_id = await published_flow(client, MENU)
    placed = await client.post(
        "/api/v1/calls", json={"to": CALLER, "from": OUR_NUMBER, "flow_id": flow_id}
    )
    assert placed.status_code == 201, placed.text
    sid = placed.json()["provider_call_id"]
    answered = [{"type": "needs", "call": sid, "reason": "answered"}]
    response = await fakeline_webhook(client, tenant, SECRET, answered, kind="voice")
    assert steps_of(response)[0]["kind"] == "gather"
    unpublished = await client.post("/api/v1/ivr/flows", json={"name": "Draft only"})
    refused = await client.post(
        "/api/v1/calls",
        json={"to": CALLER, "from": OUR_NUMBER, "flow_id": unpublished.json()["id"]},
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "flow_id"


async def test_a_broken_runtime_gets_an_apology_not_silence(client, tenant, monkeypatch):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)

    async def broken(self, flow, variables=None):
        raise RuntimeError("bug")

    monkeypatch.setattr("plugins.ivr.engine.FlowRunner.start", broken)
    steps = await ring(client, tenant, "FL-1")
    assert [s["kind"] for s in steps] == ["say", "hangup"]
    call = await only_call(client)
    assert "handler-failed" in [e["kind"] for e in call["timeline"]]


async def test_a_tenant_that_turned_the_ivr_off(client, tenant, app):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)
    platform = app.state.platform
    async with platform.database.session() as session:
        row = await session.get(Tenant, tenant)
        row.disabled_plugins = ["ivr"]
        await session.commit()
    steps = await ring(client, tenant, "FL-1")
    assert [s["kind"] for s in steps] == ["say", "hangup"]
    assert await sessions(platform, tenant) == []


async def test_speech_reaches_the_flow(client, tenant):
    document = flow(
        "ask",
        ask={
            "type": "gather",
            "prompt": "How can I help?",
            "input": "speech",
            "branches": [{"name": "bill", "keywords": ["invoice", "bill"]}],
            "exits": {"bill": "bye", "no_match": "bye", "no_input": "bye"},
        },
        bye={"type": "hangup", "message": "Billing it is."},
    )
    flow_id = await published_flow(client, document)
    await route_number(client, flow_id)
    first = await ring(client, tenant, "FL-1")
    assert first[0]["speech"] is True
    said = steps_of(await answer(client, tenant, "FL-1", speech="about my invoice"))
    assert said[0]["text"] == "Billing it is."


async def test_a_flow_with_a_call_in_progress_cannot_be_deleted(client, tenant):
    flow_id = await published_flow(client, MENU)
    await route_number(client, flow_id)
    await ring(client, tenant, "FL-1")
    [number] = (await client.get("/api/v1/calls/numbers")).json()["items"]
    await client.delete(f"/api/v1/calls/numbers/{number['id']}")
    refused = await client.delete(f"/api/v1/ivr/flows/{flow_id}")
    assert refused.status_code == 409
    assert refused.json()["used_by"] == ["1 call(s) in progress"]
    await hang_up(client, tenant, "FL-1")
    assert (await client.delete(f"/api/v1/ivr/flows/{flow_id}")).status_code == 204
