"""A supervisor on Telnyx: joining an agent's live conference with ``supervisor_role``
(``whisper_call_control_ids`` naming the agent's leg for a whisper), never creating one, and
switching roles with ``POST /v2/conferences/{id}/actions/update``, exactly as Call Control
takes them."""

from __future__ import annotations

import uuid

import pytest
from telnyx_helpers import CALLEE, CALLER, call_ref

from plugins.calls import (
    Conference,
    PlaceCall,
    ProviderRefused,
    SuperviseMember,
    SupervisorRole,
)

ROOM = "agent-7"


async def dialled(provider) -> str:
    placed = await provider.place_call(
        PlaceCall(call_id=uuid.uuid4(), from_number=CALLER, to_number=CALLEE)
    )
    return placed.provider_call_id


@pytest.fixture
async def agent(provider, telnyx) -> str:
    """The agent's leg, in the conference ``agent-7`` it created."""
    leg = await dialled(provider)
    await provider.execute(call_ref(leg), [Conference(name=ROOM, end_on_exit=True)])
    return leg


@pytest.fixture
async def supervisor(provider, telnyx, agent) -> str:
    leg = await dialled(provider)
    telnyx.requests.clear()
    return leg


def supervise(provider, leg, role, coach=None, room=ROOM):
    return provider.supervise(
        SuperviseMember(
            call=call_ref(leg),
            conference=room,
            role=role,
            coach_call_id=coach,
            command_id=f"supervise-{uuid.uuid4().hex}",
        )
    )


ROLES = {
    SupervisorRole.MONITOR: {"supervisor_role": "monitor"},
    SupervisorRole.WHISPER: {"supervisor_role": "whisper", "whisper_call_control_ids": ["AGENT"]},
    SupervisorRole.BARGE: {"supervisor_role": "barge"},
}


def expected(role: SupervisorRole, agent: str) -> dict:
    return {
        key: [agent] if key == "whisper_call_control_ids" else value
        for key, value in ROLES[role].items()
    }


@pytest.mark.parametrize("role", list(SupervisorRole))
async def test_a_supervisor_joins_the_agents_room_in_its_role(
    provider, telnyx, agent, supervisor, role
):
    step = Conference(name=ROOM, supervisor=role, coach_call_id=agent)
    await provider.execute(call_ref(supervisor), [step])
    [room] = telnyx.api.conferences.values()
    sent = [(r.method, r.path, r.status) for r in telnyx.requests]
    assert sent == [
        ("GET", "/v2/conferences", 200),
        ("POST", f"/v2/conferences/{room['id']}/actions/join", 200),
    ]
    join = telnyx.requests[1]
    assert join.body == {
        "call_control_id": supervisor,
        "beep_enabled": "never",
        "end_conference_on_exit": False,
        "command_id": join.command_id,
        **expected(role, agent),
    }
    assert room["participants"] == [agent, supervisor]
    whisper_to = [agent] if role is SupervisorRole.WHISPER else []
    assert room["supervisors"] == {supervisor: {"role": role.value, "whisper_to": whisper_to}}


async def test_an_ordinary_member_keeps_its_mute_and_coach(provider, telnyx, agent, supervisor):
    step = Conference(name=ROOM, muted=True, coach_call_id=agent)
    await provider.execute(call_ref(supervisor), [step])
    join = telnyx.requests[1]
    assert join.body["mute"] is True
    assert join.body["start_conference_on_enter"] is True
    assert join.body["supervisor_role"] == "whisper"
    assert join.body["whisper_call_control_ids"] == [agent]


async def test_a_supervisor_never_creates_a_room(provider, telnyx, supervisor):
    step = Conference(name="agent-8", supervisor=SupervisorRole.MONITOR)
    with pytest.raises(ProviderRefused, match="no conference 'agent-8' in progress") as caught:
        await provider.execute(call_ref(supervisor), [step])
    assert caught.value.code == "no-conference"
    assert [(r.method, r.path) for r in telnyx.requests] == [("GET", "/v2/conferences")]
    assert [room["name"] for room in telnyx.api.conferences.values()] == [ROOM]


async def test_switching_roles_updates_the_supervisor(provider, telnyx, agent, supervisor):
    step = Conference(name=ROOM, supervisor=SupervisorRole.MONITOR)
    await provider.execute(call_ref(supervisor), [step])
    [room] = telnyx.api.conferences.values()
    telnyx.requests.clear()

    for role in (SupervisorRole.WHISPER, SupervisorRole.BARGE, SupervisorRole.MONITOR):
        await supervise(provider, supervisor, role, agent)

    updates = [r for r in telnyx.requests if r.method == "POST"]
    assert [r.path for r in updates] == [f"/v2/conferences/{room['id']}/actions/update"] * 3
    lists = [r for r in telnyx.requests if r.method == "GET"]
    assert [r.query for r in lists] == [{"filter[name]": ROOM, "page[size]": "20"}] * 3
    assert [r.body for r in updates] == [
        {"call_control_id": supervisor, "command_id": r.command_id, **expected(role, agent)}
        for r, role in zip(
            updates,
            (SupervisorRole.WHISPER, SupervisorRole.BARGE, SupervisorRole.MONITOR),
            strict=True,
        )
    ]
    assert all(r.command_id.startswith("supervise-") for r in updates)
    assert room["supervisors"][supervisor] == {"role": "monitor", "whisper_to": []}


async def test_no_room_in_progress_is_a_refusal(provider, telnyx, supervisor):
    with pytest.raises(ProviderRefused, match="no conference 'agent-8' in progress"):
        await supervise(provider, supervisor, SupervisorRole.BARGE, room="agent-8")
    assert [r.method for r in telnyx.requests] == ["GET"]


async def test_a_supervisor_not_in_the_room_is_refused_by_telnyx(provider, telnyx, supervisor):
    with pytest.raises(ProviderRefused, match="404"):
        await supervise(provider, supervisor, SupervisorRole.BARGE)
