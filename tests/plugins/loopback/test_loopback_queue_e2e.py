"""A queue's call flow on the loopback carrier, end to end through the platform: a caller
held in a hold loop by its handler, an agent leg placed (to a SIP URI) into a conference,
the caller redirected into that conference (``redirect_call``); the agent's script hangs up
and, its member ending the conference on exit, the caller's call ends too."""

from __future__ import annotations

import types
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from kernel import PluginInfo, __version__, hookimpl, tenant_scope
from kernel.testing import wait_until
from plugins.calls import (
    CallHandler,
    CallRequest,
    CallTurn,
    Conference,
    Gather,
    HandlerSpec,
    Play,
    place_call,
    redirect_call,
)
from plugins.loopback.testing import (
    LoopbackCalls,
    call_log,
    conference_members,
    conference_started,
    live_call,
)

ROOM = "queue-1"
HOLD = Gather(
    prompt=[Play(url="https://music.example.test/hold.mp3", loop=100)],
    num_digits=1,
    timeout_seconds=60,
)


class Holding(CallHandler):
    """Holds its calls in a hold-music gather; records every turn it is asked for."""

    name = "holding"

    def __init__(self) -> None:
        self.turns: list[str] = []

    async def start(self, turn: CallTurn) -> Sequence[Any]:
        self.turns.append("start")
        return [HOLD]

    async def resume(self, turn: CallTurn) -> Sequence[Any] | None:
        self.turns.append("input")
        return [HOLD]


HANDLER = Holding()


@pytest.fixture
def kraliki_extra_plugins():
    info = PluginInfo(name="holding", version=__version__, requires=("calls",))
    plugin = types.SimpleNamespace(
        kraliki_plugin_info=hookimpl(lambda: info),
        kraliki_call_handlers=hookimpl(lambda: [HandlerSpec(HANDLER)]),
    )
    plugin.__name__ = "holding"
    return [plugin]


async def placed(calls: LoopbackCalls, request: CallRequest) -> Any:
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            return await place_call(calls.platform, session, request)


async def call_detail(calls: LoopbackCalls, call_id: uuid.UUID) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers) as client:
        response = await client.get(f"/api/v1/calls/{call_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_held_caller_meets_the_agent_and_leaves_with_them(loopback_calls):
    calls = loopback_calls
    platform, tenant = calls.platform, calls.tenant_id
    HANDLER.turns.clear()
    caller = await placed(
        calls,
        CallRequest(
            to_number="+14155550123",
            from_number="+14155550100",
            handler="holding",
            options={"script": ["answer", {"step": "wait", "seconds": 5000}, "hangup"]},
        ),
    )
    sid = caller.provider_call_id
    await wait_until(lambda: (c := live_call(platform, sid)) is not None and c.gather is not None)

    agent = await placed(
        calls,
        CallRequest(
            to_number="sip:agent-7@pbx.example.test",
            from_number="+14155550100",
            instructions=[Conference(name=ROOM, start_on_enter=True, end_on_exit=True)],
            options={"script": ["answer", {"step": "wait", "seconds": 600}, "hangup"]},
            placed_by="queues",
        ),
    )
    await wait_until(lambda: len(conference_members(platform, tenant, ROOM)) == 1)
    assert conference_started(platform, tenant, ROOM)

    with tenant_scope(tenant):
        async with platform.database.session() as session:
            redirected = await redirect_call(
                platform, session, caller.id, [Conference(name=ROOM)], actor="queues"
            )
    assert redirected.status == "in-progress"
    await wait_until(lambda: len(conference_members(platform, tenant, ROOM)) == 2)
    members = [m.provider_call_id for m in conference_members(platform, tenant, ROOM)]
    assert members == [agent.provider_call_id, sid]

    def completed(call_id: uuid.UUID) -> bool:
        names = (e.name for e in calls.delivered if str(e.payload["call_id"]) == str(call_id))
        return "calls.call.completed" in names

    await wait_until(lambda: completed(caller.id) and completed(agent.id), within=30)
    caller_detail = await call_detail(calls, caller.id)
    agent_detail = await call_detail(calls, agent.id)
    assert agent_detail["hangup_cause"] == "callee_hangup"
    assert caller_detail["hangup_cause"] == "conference_ended"
    assert agent_detail["to"] == "sip:agent-7@pbx.example.test"
    [note] = [e for e in caller_detail["timeline"] if e["kind"] == "redirected"]
    assert note["detail"] == {"actor": "queues", "steps": ["conference"]}
    # The hold loop's gather was dropped by the redirect: the handler heard no input.
    assert HANDLER.turns == ["start"]
    assert ("redirected", "conference") in call_log(platform, sid)
    assert conference_members(platform, tenant, ROOM) == []
