"""Handing calls between the IVR and another call handler (what queues do): a node passes the
caller on (``HandOver``), the other handler hands it back to a node of the flow
(``<flow id>@<node id>``) and the flow goes on there with its variables and path."""

from __future__ import annotations

import json
import types
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import pytest
from ivr_helpers import IVR_ALL
from sqlalchemy import select
from test_ivr_runtime import (
    CALLER,
    CALLS_ALL,
    OUR_NUMBER,
    SECRET,
    answer,
    published_flow,
    ring,
    route_number,
    sessions,
    steps_of,
)

from kernel import PluginInfo, __version__, hookimpl, tenant_scope
from kernel.testing import create_tenant
from plugins.calls import (
    Call,
    CallHandler,
    CallRequest,
    CallTurn,
    HandlerSpec,
    hand_over,
    place_call,
)
from plugins.calls.testing import fakeline_plugin, fakeline_webhook, set_call_settings
from plugins.ivr import ExitSpec, HandOver, NodeConfig, NodeContext, NodeResult, NodeType
from plugins.ivr.runtime import IvrHandler

HOLD = "Please hold for the next agent."


class DeskConfig(NodeConfig):
    type: Literal["desk.enqueue"] = "desk.enqueue"
    queue: str
    handler: str = "desk"


class EnqueueNode(NodeType):
    name = "desk.enqueue"
    config = DeskConfig
    ends = True

    def exits(self, config: Any) -> ExitSpec:
        # Where the queue hands the caller back (with target <flow id>@<that node>).
        return ExitSpec(required=frozenset({"fallback"}))

    async def enter(self, ctx: NodeContext, config: DeskConfig) -> NodeResult:
        return HandOver(
            config.handler, config.queue, prompts=[ctx.say("Joining the {{ queue }} queue.")]
        )


class Desk(CallHandler):
    """A stand-in for the queues: holds the caller in a gather; a key sends them back to
    the IVR at the node its target names (``back@<flow id>@<node id>`` starts there at once)."""

    name = "desk"

    async def start(self, turn: CallTurn) -> Sequence[Any]:
        target = turn.call.target or ""
        if target.startswith("back@"):
            return await hand_over(turn, "ivr", target.removeprefix("back@"))
        turn.note("desk.holding", queue=target)
        return [{"kind": "gather", "prompt": [{"kind": "say", "text": HOLD}], "num_digits": 1}]

    async def resume(self, turn: CallTurn) -> Sequence[Any] | None:
        flow_id = turn.call.metadata["flow_id"]
        return await hand_over(turn, "ivr", f"{flow_id}@{turn.call.metadata['node']}")


def desk_plugin() -> types.SimpleNamespace:
    info = PluginInfo(name="desk", version=__version__, requires=("calls", "ivr"))
    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(lambda: info),
        kraliki_call_handlers=hookimpl(lambda: [HandlerSpec(Desk())]),
        kraliki_ivr_node_types=hookimpl(lambda: [EnqueueNode()]),
    )
    plugin.__name__ = "desk"
    return plugin


@pytest.fixture
def kraliki_extra_plugins():
    return [fakeline_plugin(), desk_plugin()]


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


async def handler_of(platform, tenant_id: uuid.UUID, call_id: uuid.UUID) -> tuple[Any, Any]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            row = await session.scalar(select(Call).where(Call.id == call_id))
            assert row is not None
            return row.handler, row.handler_target


FLOW = {
    "start": "set",
    "nodes": {
        "set": {"type": "set", "values": {"queue": '"billing"'}, "exits": {"next": "hello"}},
        "hello": {"type": "say", "text": "Welcome.", "exits": {"next": "enqueue"}},
        "enqueue": {"type": "desk.enqueue", "queue": "billing", "exits": {"fallback": "sorry"}},
        "sorry": {
            "type": "say",
            "text": "Nobody from {{ queue }} is free.",
            "exits": {"next": "bye"},
        },
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}


def said(steps: list[dict[str, Any]]) -> list[str]:
    texts = []
    for step in steps:
        if step["kind"] == "say":
            texts.append(step["text"])
        for part in step.get("prompt", []):
            if part["kind"] == "say":
                texts.append(part["text"])
    return texts


async def test_a_handler_hands_a_call_to_a_node_and_the_caller_hears_it(app, client, tenant):
    flow_id = await published_flow(client, FLOW)
    platform = app.state.platform
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            call = await place_call(
                platform,
                session,
                CallRequest(
                    to_number=CALLER,
                    from_number=OUR_NUMBER,
                    handler="desk",
                    handler_target=f"back@{flow_id}@bye",
                ),
            )
            sid = call.provider_call_id
    event = {"type": "needs", "call": sid, "reason": "answered", "direction": "outbound"}
    response = await fakeline_webhook(client, tenant, SECRET, [event], kind="voice")
    assert response.status_code == 200, response.text
    # Straight to the node: the flow's start (set, hello) did not run.
    assert steps_of(response) == [
        {"kind": "say", "text": "Goodbye.", "voice": None, "language": "en-US"},
        {"kind": "hangup"},
    ]
    assert await handler_of(platform, tenant, call.id) == ("ivr", f"{flow_id}@bye")
    detail = (await client.get(f"/api/v1/calls/{call.id}")).json()
    kinds = [(e["kind"], e["source"]) for e in detail["timeline"]]
    assert ("handed-over", "desk") in kinds
    assert ("ivr.started", "ivr") in kinds
    [flow_session] = await sessions(platform, tenant)
    assert flow_session.outcome == "hangup"
    assert flow_session.state["path"] == ["bye:ended"]


async def test_the_ivr_hands_over_and_takes_the_call_back_at_a_node(app, client, tenant):
    flow_id = await published_flow(client, FLOW)
    await route_number(client, flow_id)
    sid = f"TL{uuid.uuid4().hex}"
    steps = await ring(client, tenant, sid)
    assert said(steps) == ["Welcome.", "Joining the billing queue.", HOLD]
    [call] = (await client.get("/api/v1/calls")).json()["items"]
    platform = app.state.platform
    assert await handler_of(platform, tenant, uuid.UUID(call["id"])) == ("desk", "billing")
    [flow_session] = await sessions(platform, tenant)
    assert (flow_session.status, flow_session.outcome) == ("ended", "handed-over")
    # The desk gives up: back to the flow at "sorry", which still knows the queue.
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            row = await session.scalar(select(Call).where(Call.id == uuid.UUID(call["id"])))
            assert row is not None
            row.attributes = {"flow_id": flow_id, "node": "sorry"}
            await session.commit()
    response = await answer(client, tenant, sid, digits="0")
    assert said(json.loads(response.content)["steps"]) == [
        "Nobody from billing is free.",
        "Goodbye.",
    ]
    [flow_session] = await sessions(platform, tenant)
    assert (flow_session.status, flow_session.outcome) == ("ended", "hangup")
    assert flow_session.state["path"] == [
        "set:next",
        "hello:next",
        "enqueue:ended",
        "sorry:next",
        "bye:ended",
    ]
    timeline = (await client.get(f"/api/v1/calls/{call['id']}")).json()["timeline"]
    assert [e["kind"] for e in timeline if e["kind"] in ("handed-over", "ivr.resumed")] == [
        "handed-over",
        "handed-over",
        "ivr.resumed",
    ]


async def test_a_node_and_flow_target_is_checked(app, client, tenant):
    flow_id = await published_flow(client, FLOW)
    ivr = IvrHandler()  # the IVR's check, as calls asks it
    with tenant_scope(tenant):
        async with app.state.platform.database.session() as session:
            assert await ivr.check_target(session, f"{flow_id}@sorry") is None
            assert "no node" in (await ivr.check_target(session, f"{flow_id}@nowhere") or "")
            assert await ivr.check_target(session, f"{flow_id}@bad node!") is not None
            assert await ivr.check_target(session, "nonsense@sorry") is not None


async def test_handing_over_to_a_missing_handler_is_an_apology(client, tenant):
    document = json.loads(json.dumps(FLOW))
    document["nodes"]["enqueue"]["handler"] = "nowhere"
    flow_id = await published_flow(client, document)
    await route_number(client, flow_id)
    steps = await ring(client, tenant, f"TL{uuid.uuid4().hex}")
    assert said(steps)[:2] == ["Welcome.", "Joining the billing queue."]
    assert steps[-1] == {"kind": "hangup"}
    [call] = (await client.get("/api/v1/calls")).json()["items"]
    timeline = (await client.get(f"/api/v1/calls/{call['id']}")).json()["timeline"]
    [failed] = [e for e in timeline if e["kind"] == "ivr.handover-failed"]
    assert "nowhere" in failed["detail"]["error"]
