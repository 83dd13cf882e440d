"""The IVR node ``contacts.opt_out`` on a real call (loopback provider, over HTTP and signed
webhooks): the caller's number joins the do-not-call list and the ledger gets a revocation,
once per call; the simulator lists the effect and writes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from compliance_helpers import DNC, decide

from kernel import add_user, tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, create_tenant, login, serve_app
from plugins.calls.testing import use_public_base_url

NUMBER = "+14155550100"
"""The organization's number the call comes from."""
CALLER = "+14155550199"
"""The person called: the call's remote number."""

OPT_OUT_TWICE = {
    "start": "stop",
    "nodes": {
        "stop": {
            "type": "contacts.opt_out",
            "say": "You will not be called again.",
            "exits": {"done": "again", "failed": "bye"},
        },
        "again": {"type": "contacts.opt_out", "exits": {"done": "bye"}},
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}


@pytest.fixture(autouse=True)
def fast_carrier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.01")


@pytest.fixture
async def app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
async def api(app) -> AsyncIterator[httpx.AsyncClient]:
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    app.state.tenant_id = tenant_id
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await add_user(
                session,
                email="owner@acme.example.com",
                password=DEFAULT_TEST_PASSWORD,
                roles=["owner"],
            )
            await session.commit()
    async with serve_app(app) as url:
        use_public_base_url(platform, url)
        async with httpx.AsyncClient(base_url=url) as client:
            client.headers.update(await login(client, "owner@acme.example.com", tenant="acme"))
            yield client


async def published(api: httpx.AsyncClient, document: dict[str, Any]) -> str:
    created = await api.post("/api/v1/ivr/flows", json={"name": "Opt-out", "draft": document})
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["id"])
    publish = await api.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})
    assert publish.status_code == 201, publish.text
    return flow_id


async def finished_call(api: httpx.AsyncClient, flow_id: str) -> dict[str, Any]:
    body = {"to": CALLER, "from": NUMBER, "flow_id": flow_id, "options": {"script": ["answer"]}}
    placed = await api.post("/api/v1/calls", json=body)
    assert placed.status_code == 201, placed.text
    call_id = placed.json()["id"]
    async with asyncio.timeout(30):  # a loaded machine runs the loopback call slowly
        while True:
            call = (await api.get(f"/api/v1/calls/{call_id}")).json()
            if call["status"] in ("completed", "failed", "busy", "no-answer", "canceled"):
                return dict(call)
            await asyncio.sleep(0.02)


def effects(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [event["detail"] for event in call["timeline"] if event["kind"] == "ivr.effect"]


async def test_the_caller_opts_out_once_per_call(app, api):
    flow_id = await published(api, OPT_OUT_TWICE)

    call = await finished_call(api, flow_id)

    assert call["status"] == "completed"
    first, second = effects(call)
    assert (first["node"], first["effect"], first["outcome"]) == (
        "stop",
        "contacts.opt_out",
        "performed",
    )
    assert second["outcome"] == "performed"
    assert second["result"] == {
        "consent_record_id": first["result"]["consent_record_id"],
        "already_recorded": True,
    }
    listed = (await api.get(DNC)).json()["items"]
    assert [(e["value"], e["source"], e["id"]) for e in listed] == [
        (CALLER, "ivr", first["result"]["dnc_entry_id"])
    ]
    decision = await decide(app.state.platform, app.state.tenant_id, CALLER, "informational")
    assert decision.allowed is False
    assert decision.rule == "dnc-number"
    check = await api.get(
        f"{DNC}/check", params={"number": CALLER, "purpose": "marketing", "channel": "text"}
    )
    assert check.json()["rule"] == "dnc-number"

    # Without the list entry, the ledger's revocation (about the number) still refuses.
    assert (await api.delete(f"{DNC}/{listed[0]['id']}")).status_code == 204
    decision = await decide(app.state.platform, app.state.tenant_id, CALLER, "informational")
    assert decision.rule == "opted-out"
    assert str(decision.consent_record_id) == first["result"]["consent_record_id"]

    # A second call records again (a new revocation, the number listed again).
    call = await finished_call(api, flow_id)
    assert [e["result"].get("already_recorded", False) for e in effects(call)] == [False, True]
    assert len((await api.get(DNC)).json()["items"]) == 1


async def test_a_purpose_only_and_no_list(app, api):
    document = {
        "start": "stop",
        "nodes": {
            "stop": {
                "type": "contacts.opt_out",
                "purpose": "surveys",
                "add_to_dnc": False,
                "exits": {"done": "bye"},
            },
            "bye": {"type": "hangup"},
        },
    }

    call = await finished_call(api, await published(api, document))

    [effect] = effects(call)
    assert effect["outcome"] == "performed"
    assert "dnc_entry_id" not in effect["result"]
    assert (await api.get(DNC)).json()["items"] == []
    platform, tenant_id = app.state.platform, app.state.tenant_id
    refused = await decide(platform, tenant_id, CALLER, "surveys", "text")
    assert refused.rule == "consent-revoked"
    assert (await decide(platform, tenant_id, CALLER, "informational")).allowed


async def test_the_simulator_lists_the_effect_and_records_nothing(app, api):
    flow_id = await published(api, OPT_OUT_TWICE)

    simulated = await api.post(f"/api/v1/ivr/flows/{flow_id}/simulate", json={"caller": CALLER})
    anonymous = await api.post(
        f"/api/v1/ivr/flows/{flow_id}/simulate", json={"caller": "anonymous"}
    )

    assert simulated.status_code == 200, simulated.text
    assert [(e["node"], e["kind"], e["detail"]) for e in simulated.json()["effects"]] == [
        ("stop", "contacts.opt_out", {"purpose": "all", "add_to_dnc": True}),
        ("again", "contacts.opt_out", {"purpose": "all", "add_to_dnc": True}),
    ]
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json()["effects"] == []
    assert (await api.get(DNC)).json()["items"] == []
    assert (await decide(app.state.platform, app.state.tenant_id, CALLER, "informational")).allowed


async def test_a_flow_with_a_bad_node_is_refused(api):
    document = {
        "start": "stop",
        "nodes": {
            "stop": {"type": "contacts.opt_out", "purpose": "All Of It", "exits": {"done": "b"}},
            "b": {"type": "hangup"},
        },
    }
    created = await api.post("/api/v1/ivr/flows", json={"name": "Bad", "draft": document})
    assert created.status_code == 201, created.text
    publish = await api.post(f"/api/v1/ivr/flows/{created.json()['id']}/publish", json={})
    assert publish.status_code == 422, publish.text
