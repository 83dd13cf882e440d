"""The same flow on real calls through the loopback provider (over HTTP, signed webhooks),
and the simulator's result for the same caller script equal to what the call did."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from ivr_calls import CALLER, MENU, NUMBER, flow_sessions
from ivr_helpers import IVR_ALL

from kernel.testing import create_tenant, serve_app
from plugins.calls import PERMISSIONS
from plugins.calls.testing import use_public_base_url

CALLS_ALL = tuple(p.key for p in PERMISSIONS)


@pytest.fixture(autouse=True)
def fast_carrier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.01")


@pytest.fixture
async def app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
async def api(app, kraliki_authenticate) -> AsyncIterator[httpx.AsyncClient]:
    tenant_id = await create_tenant(app.state.platform, "acme")
    app.state.tenant_id = tenant_id
    kraliki_authenticate(app, *IVR_ALL, *CALLS_ALL, kind="user", tenant_id=tenant_id)
    async with serve_app(app) as url:
        use_public_base_url(app.state.platform, url)
        async with httpx.AsyncClient(base_url=url) as client:
            yield client


ANSWERS = "+15551239999"
"""A transfer target loopback answers (any number but those ending 0001-0006)."""
NOBODY = "+15551230002"
"""Loopback rings this one until the transfer gives up."""


def menu_with(sales: str, **exits: str) -> dict[str, Any]:
    """The menu flow with its sales transfer going to ``sales`` (and these exits)."""
    document = json.loads(json.dumps(MENU))
    document["nodes"]["sales"]["number"] = sales
    document["nodes"]["sales"]["exits"] = exits
    return dict(document)


async def published(api: httpx.AsyncClient, document: dict[str, Any] = MENU) -> str:
    created = await api.post("/api/v1/ivr/flows", json={"name": "Main", "draft": document})
    flow_id = str(created.json()["id"])
    assert (await api.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})).status_code == 201
    return flow_id


async def call_with(api: httpx.AsyncClient, flow_id: str, script: list[Any]) -> dict[str, Any]:
    body = {"to": CALLER, "from": NUMBER, "flow_id": flow_id, "options": {"script": script}}
    placed = await api.post("/api/v1/calls", json=body)
    assert placed.status_code == 201, placed.text
    call_id = placed.json()["id"]
    async with asyncio.timeout(10):
        while True:
            call = (await api.get(f"/api/v1/calls/{call_id}")).json()
            if call["status"] in ("completed", "failed", "busy", "no-answer", "canceled"):
                return dict(call)
            await asyncio.sleep(0.02)


async def session_of(app, call_id: str):
    for kept in await flow_sessions(app.state.platform, app.state.tenant_id):
        if str(kept.call_id) == call_id:
            return kept
    raise AssertionError(f"no IVR session for call {call_id}")


@pytest.mark.parametrize(
    ("document", "callee", "caller_script"),
    [
        (menu_with(ANSWERS), ["answer", {"step": "press", "digits": "1"}], [{"digits": "1"}]),
        (
            MENU,  # sales (+1...0001) is busy on loopback; no exit: an apology
            ["answer", {"step": "press", "digits": "1"}],
            [{"digits": "1"}, {"transfer": "busy"}],
        ),
        (
            menu_with(NOBODY, no_answer="message"),
            ["answer", {"step": "press", "digits": "1"}, {"step": "say", "text": "Call me."}],
            [{"digits": "1"}, {"transfer": "no-answer"}],
        ),
        (
            MENU,
            ["answer", {"step": "press", "digits": "7"}, {"step": "press", "digits": "9"}],
            [{"digits": "7"}, {"digits": "9"}],
        ),
        (
            menu_with(ANSWERS),
            ["answer", {"step": "wait", "seconds": 15}, {"step": "press", "digits": "1"}],
            [{"silence": True}, {"digits": "1"}],
        ),
        (
            MENU,
            ["answer", {"step": "press", "digits": "2"}, {"step": "say", "text": "Hi, call me."}],
            [{"digits": "2"}],
        ),
    ],
    ids=[
        "sales",
        "sales-busy",
        "sales-no-answer-to-voicemail",
        "wrong-twice",
        "silence-then-sales",
        "voicemail",
    ],
)
async def test_the_simulator_does_what_a_loopback_call_does(
    api, app, document, callee, caller_script
):
    flow_id = await published(api, document)
    call = await call_with(api, flow_id, callee)
    kept = await session_of(app, call["id"])
    simulated = await api.post(
        f"/api/v1/ivr/flows/{flow_id}/simulate",
        json={
            "version": "current",
            "direction": "outbound",
            "caller": CALLER,
            "called": NUMBER,
            "steps": caller_script,
        },
    )
    assert simulated.status_code == 200, simulated.text
    result = simulated.json()
    assert kept.status == "ended"
    assert kept.state["path"] == result["path"]
    assert kept.outcome == result["outcome"]["kind"]
    timeline = [e for e in call["timeline"] if e["kind"] == "ivr.step" and "exit" in e["detail"]]
    assert [f"{e['detail']['node']}:{e['detail']['exit']}" for e in timeline] == [
        step for step in result["path"] if not step.endswith(":ended")
    ]


async def test_a_call_placed_with_a_flow_is_transferred(api, app):
    flow_id = await published(api, menu_with(ANSWERS))
    call = await call_with(api, flow_id, ["answer", {"step": "press", "digits": "1"}])
    # Sales answered and talked; when they hung up, the flow hung the caller's leg up.
    assert (call["status"], call["hangup_cause"]) == ("completed", "caller_hangup")
    kept = await session_of(app, call["id"])
    assert kept.outcome == "transferred"
    kinds = [e["kind"] for e in call["timeline"]]
    assert kinds.index("ivr.started") < kinds.index("dialed") < kinds.index("ivr.ended")
    [dialed] = [e for e in call["timeline"] if e["kind"] == "dialed"]
    assert dialed["status"] == "completed"


async def test_a_callee_hanging_up_mid_menu(api, app):
    flow_id = await published(api)
    call = await call_with(api, flow_id, ["answer", {"step": "wait", "seconds": 1}, "hangup"])
    kept = await session_of(app, call["id"])
    assert (kept.outcome, kept.state["outcome"]["node"]) == ("caller-hangup", "menu")


async def test_a_speech_menu_on_a_loopback_call_matches_the_simulator(api, app):
    speech_menu = json.loads(json.dumps(MENU))
    speech_menu["nodes"]["menu"]["input"] = "dtmf speech"
    created = await api.post("/api/v1/ivr/flows", json={"name": "Speech", "draft": speech_menu})
    flow_id = created.json()["id"]
    assert (await api.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})).status_code == 201
    call = await call_with(
        api,
        flow_id,
        ["answer", {"step": "wait", "seconds": 5}, {"step": "say", "text": "sales please"}],
    )
    kept = await session_of(app, call["id"])
    simulated = await api.post(
        f"/api/v1/ivr/flows/{flow_id}/simulate",
        json={"version": "current", "direction": "outbound", "steps": [{"speech": "sales please"}]},
    )
    assert kept.state["path"] == simulated.json()["path"] == ["hello:next", "menu:1", "sales:ended"]
