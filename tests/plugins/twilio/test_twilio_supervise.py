"""A supervisor on Twilio: joining an agent's conference with ``<Dial><Conference>`` (monitor
is ``muted``, whisper ``coach``-es the agent's CallSid, barge is neither), and switching roles
by finding the room by FriendlyName and updating the supervisor's Participant resource
(``Muted``, ``Coaching``, ``CallSidToCoach``), exactly as Twilio's REST API takes them."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
from twilio_helpers import ACME_NUMBER, CALLEE, call_ref, provider_for

from kernel import Platform, tenant_scope
from plugins.calls import (
    Conference,
    PlaceCall,
    ProviderRefused,
    SuperviseMember,
    SupervisorRole,
)
from plugins.twilio.testing import TwilioDouble

ROOM = "agent-7"


async def live_call(platform: Platform, tenant: uuid.UUID, double: TwilioDouble) -> str:
    with tenant_scope(tenant):
        request = PlaceCall(call_id=uuid.uuid4(), from_number=ACME_NUMBER, to_number=CALLEE)
        placed = await provider_for(platform, tenant).place_call(request)
    double.calls[placed.provider_call_id].status = "in-progress"
    return placed.provider_call_id


async def redirect(platform, tenant, sid, steps) -> None:
    with tenant_scope(tenant):
        await provider_for(platform, tenant).redirect(call_ref(sid), steps)


async def supervise(platform, tenant, sid, role, coach=None, room=ROOM) -> None:
    request = SuperviseMember(
        call=call_ref(sid),
        conference=room,
        role=role,
        coach_call_id=coach,
        command_id=uuid.uuid4().hex,
    )
    with tenant_scope(tenant):
        await provider_for(platform, tenant).supervise(request)


@pytest.fixture
async def agent(platform, tenant, double) -> str:
    """The agent's leg, in the conference ``agent-7`` (which it starts)."""
    sid = await live_call(platform, tenant, double)
    await redirect(platform, tenant, sid, [Conference(name=ROOM, end_on_exit=True)])
    return sid


@pytest.fixture
async def supervisor(platform, tenant, double, agent) -> str:
    return await live_call(platform, tenant, double)


def joined(double: TwilioDouble, sid: str) -> dict[str, str]:
    """The ``<Conference>`` attributes of the document the supervisor's leg was sent."""
    [update] = double.to("POST", f"/Calls/{sid}.json")
    root = ET.fromstring(update.form["Twiml"])
    [dial] = list(root)
    [room] = list(dial)
    assert (dial.tag, room.tag, room.text) == ("Dial", "Conference", ROOM)
    return dict(room.attrib)


JOINS = {
    SupervisorRole.MONITOR: {"muted": "true"},
    SupervisorRole.WHISPER: {"muted": "false", "coach": "AGENT"},
    SupervisorRole.BARGE: {"muted": "false"},
}


@pytest.mark.parametrize("role", list(SupervisorRole))
async def test_a_supervisor_joins_the_agents_room_in_its_role(
    platform, tenant, double, agent, supervisor, role
):
    step = Conference(name=ROOM, supervisor=role, coach_call_id=agent)
    await redirect(platform, tenant, supervisor, [step])
    expected = {k: agent if v == "AGENT" else v for k, v in JOINS[role].items()}
    assert joined(double, supervisor) == {
        "beep": "false",
        "startConferenceOnEnter": "false",  # a supervisor never starts a room
        "endConferenceOnExit": "false",
        **expected,
    }
    member = double.conference(ROOM).participants[supervisor]
    assert member.muted is (role is SupervisorRole.MONITOR)
    assert member.coaching is (role is SupervisorRole.WHISPER)
    assert member.call_sid_to_coach == (agent if role is SupervisorRole.WHISPER else None)


async def test_an_ordinary_member_keeps_its_muted_and_coach(platform, tenant, double, agent):
    sid = await live_call(platform, tenant, double)
    await redirect(platform, tenant, sid, [Conference(name=ROOM, muted=True, coach_call_id=agent)])
    assert joined(double, sid) == {
        "beep": "false",
        "coach": agent,
        "endConferenceOnExit": "false",
        "muted": "true",
        "startConferenceOnEnter": "true",
    }


async def test_switching_roles_updates_the_supervisors_participant(
    platform, tenant, double, agent, supervisor
):
    await redirect(
        platform, tenant, supervisor, [Conference(name=ROOM, supervisor=SupervisorRole.MONITOR)]
    )
    room = double.conference(ROOM)
    double.state.requests.clear()

    await supervise(platform, tenant, supervisor, SupervisorRole.WHISPER, agent)
    await supervise(platform, tenant, supervisor, SupervisorRole.BARGE)
    await supervise(platform, tenant, supervisor, SupervisorRole.MONITOR)

    lists = double.to("GET", "/Conferences.json")
    assert len(lists) == 3
    assert lists[0].path == f"/2010-04-01/Accounts/{double.account_sid}/Conferences.json"
    assert lists[0].query["FriendlyName"] == ROOM
    assert lists[0].query["Status"] == "in-progress"
    assert lists[0].auth == (double.account_sid, double.auth_token)
    updates = double.to("POST", f"/Participants/{supervisor}.json")
    assert updates[0].path == (
        f"/2010-04-01/Accounts/{double.account_sid}/Conferences/{room.sid}"
        f"/Participants/{supervisor}.json"
    )
    assert [dict(u.fields) for u in updates] == [
        {"Muted": "false", "Coaching": "true", "CallSidToCoach": agent},
        {"Muted": "false", "Coaching": "false"},
        {"Muted": "true", "Coaching": "false"},
    ]
    member = room.participants[supervisor]
    assert (member.muted, member.coaching, member.call_sid_to_coach) == (True, False, None)
    assert room.participants[agent].muted is False  # the agent is untouched


async def test_no_room_in_progress_is_a_refusal(platform, tenant, double, agent, supervisor):
    with pytest.raises(ProviderRefused, match="no conference 'agent-8' in progress"):
        await supervise(platform, tenant, supervisor, SupervisorRole.BARGE, room="agent-8")
    assert [r.path for r in double.requests if "/Participants/" in r.path] == []


async def test_a_supervisor_not_in_the_room_is_refused_by_twilio(
    platform, tenant, double, agent, supervisor
):
    with pytest.raises(ProviderRefused, match="20404"):
        await supervise(platform, tenant, supervisor, SupervisorRole.BARGE)
