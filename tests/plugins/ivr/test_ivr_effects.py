"""A node type of another plugin acts on the platform through effects: performed on a real
call (loopback, over HTTP and signed webhooks) in the call's transaction, a failing one
rolled back and recorded while the call goes on, and listed but never performed by the
simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import acme_texts
import httpx
import pytest
from ivr_calls import CALLER, NUMBER
from ivr_helpers import IVR_ALL, flow

from kernel.testing import create_tenant, published_events, serve_app
from plugins.calls import PERMISSIONS
from plugins.calls.testing import use_public_base_url

CALLS_ALL = tuple(p.key for p in PERMISSIONS)
LINK = "https://pay.acme.example.com/{{ account }}"

TEXT_THEN_BYE = flow(
    "text",
    text={"type": "acme_texts.text_link", "link": LINK, "exits": {"next": "bye"}},
    bye={"type": "hangup", "message": "Goodbye."},
)
REFUSED_THEN_TEXT = flow(
    "refused",
    refused={
        "type": "acme_texts.text_link",
        "link": "https://pay.acme.example.com/refused",
        "refuse": True,
        "exits": {"next": "still"},
    },
    still={"type": "say", "text": "Still with you.", "exits": {"next": "text"}},
    text={"type": "acme_texts.text_link", "link": LINK, "exits": {"next": "bye"}},
    bye={"type": "hangup", "message": "Goodbye."},
)


@pytest.fixture(autouse=True)
def fast_carrier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.01")


@pytest.fixture
def kraliki_extra_plugins() -> list[object]:
    return [acme_texts]


@pytest.fixture
async def app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
async def api(app, kraliki_authenticate) -> AsyncIterator[httpx.AsyncClient]:
    tenant_id = await create_tenant(app.state.platform, "acme")
    app.state.tenant_id = tenant_id
    kraliki_authenticate(app, *IVR_ALL, *CALLS_ALL, "audit:read", kind="user", tenant_id=tenant_id)
    async with serve_app(app) as url:
        use_public_base_url(app.state.platform, url)
        async with httpx.AsyncClient(base_url=url) as client:
            yield client


async def published(api: httpx.AsyncClient, document: dict[str, Any]) -> str:
    document = {**document, "variables": {"account": "42"}}
    created = await api.post("/api/v1/ivr/flows", json={"name": "Texts", "draft": document})
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
    async with asyncio.timeout(10):
        while True:
            call = (await api.get(f"/api/v1/calls/{call_id}")).json()
            if call["status"] in ("completed", "failed", "busy", "no-answer", "canceled"):
                return dict(call)
            await asyncio.sleep(0.02)


def entries(call: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [event["detail"] for event in call["timeline"] if event["kind"] == kind]


async def link_requests(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    page = await api.get("/api/v1/audit", params={"action": "acme_texts.link.requested"})
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


async def test_an_effect_is_performed_on_a_real_call(app, api):
    call = await finished_call(api, await published(api, TEXT_THEN_BYE))

    assert call["status"] == "completed"
    assert entries(call, "ivr.effect") == [
        {
            "node": "text",
            "effect": "acme_texts.send_link",
            "outcome": "performed",
            "result": {"queued": True},
        }
    ]
    assert entries(call, "ivr.ended")[0]["outcome"] == "hangup"
    [audit] = await link_requests(api)
    assert audit["target_id"] == call["id"]
    assert audit["details"]["link"] == "https://pay.acme.example.com/42"
    assert audit["details"]["node"] == "text"
    texts = [
        payload
        for name, payload in await published_events(app.state.platform, app.state.tenant_id)
        if name == "acme_texts.link.requested"
    ]
    assert texts == [
        {"call_id": call["id"], "to": CALLER, "link": "https://pay.acme.example.com/42"}
    ]


async def test_a_failing_effect_is_rolled_back_and_the_call_goes_on(app, api, caplog):
    call = await finished_call(api, await published(api, REFUSED_THEN_TEXT))

    assert call["status"] == "completed"
    effects = entries(call, "ivr.effect")
    assert [(e["node"], e["outcome"]) for e in effects] == [
        ("refused", "failed"),
        ("text", "performed"),
    ]
    assert effects[0]["error"] == "RefusedError: the texting gateway refused the number"
    assert entries(call, "ivr.ended")[0]["outcome"] == "hangup"
    assert "handler-failed" not in [event["kind"] for event in call["timeline"]]
    steps = [(e["node"], e["step"]) for e in entries(call, "ivr.step")]
    assert steps == [
        ("refused", "completed"),
        ("still", "completed"),
        ("text", "completed"),
        ("bye", "ended"),
    ]
    # What the refused effect wrote before it raised is gone; the other one's stays.
    [audit] = await link_requests(api)
    assert audit["details"]["node"] == "text"
    links = [
        payload["link"]
        for name, payload in await published_events(app.state.platform, app.state.tenant_id)
        if name == "acme_texts.link.requested"
    ]
    assert links == ["https://pay.acme.example.com/42"]
    assert "IVR effect 'acme_texts.send_link' of node 'refused' failed" in caplog.text


async def test_the_simulator_lists_effects_and_performs_none(app, api):
    flow_id = await published(api, REFUSED_THEN_TEXT)

    simulated = await api.post(f"/api/v1/ivr/flows/{flow_id}/simulate", json={})

    assert simulated.status_code == 200, simulated.text
    result = simulated.json()
    assert result["effects"] == [
        {
            "node": "refused",
            "node_type": "acme_texts.text_link",
            "depth": 0,
            "kind": "acme_texts.send_link",
            "detail": {"to": "+15550100", "link": "https://pay.acme.example.com/refused"},
        },
        {
            "node": "text",
            "node_type": "acme_texts.text_link",
            "depth": 0,
            "kind": "acme_texts.send_link",
            "detail": {"to": "+15550100", "link": "https://pay.acme.example.com/42"},
        },
    ]
    assert result["outcome"]["kind"] == "hangup"
    assert await link_requests(api) == []
    names = [name for name, _ in await published_events(app.state.platform, app.state.tenant_id)]
    assert "acme_texts.link.requested" not in names


@pytest.mark.parametrize(
    ("effect", "error"),
    [
        (acme_texts.SendLink(to=CALLER, link="https://x.example"), None),
        ("acme_texts.send_link", TypeError),
        (type("Bad", (acme_texts.SendLink,), {"kind": "SendLink"})(to="", link=""), ValueError),
    ],
    ids=["effect", "not-an-effect", "bad-kind"],
)
def test_act_takes_effects_of_a_plugin_kind(effect, error):
    from datetime import UTC, datetime

    from plugins.ivr import CallFacts, NodeContext

    async def no_lookup(node_id, request):
        raise AssertionError("no lookup")

    ctx = NodeContext(
        node_id="n",
        call=CallFacts(caller=CALLER, called=NUMBER),
        variables={},
        language="en-US",
        voice=None,
        now=datetime.now(UTC),
        attempt=0,
        simulated=True,
        lookup=no_lookup,
    )
    if error is None:
        ctx.act(effect)
        assert ctx.effects == [effect]
    else:
        with pytest.raises(error):
            ctx.act(effect)
        assert ctx.effects == []
