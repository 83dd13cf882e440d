"""A supervisor on the loopback carrier: it joins an agent's room in a role (monitor,
whisper, barge), switches roles while both calls go on, and ``who_hears`` says who hears
whom (monitor hears all and is heard by none; whisper is heard by the coached agent only;
barge is heard by all); each role taken is on the supervisor's call log."""

from __future__ import annotations

import uuid

import pytest

from kernel.testing import wait_until
from plugins.calls import (
    CallRef,
    CallStatus,
    Conference,
    Direction,
    PlaceCall,
    ProviderRefused,
    SuperviseMember,
    SupervisorRole,
)
from plugins.loopback.testing import (
    call_log,
    conference_members,
    conference_started,
    who_hears,
)

ON_THE_LINE = ["answer", {"step": "wait", "seconds": 3000}, "hangup"]
ROOM = "agent-7"


def ref(call_id: str) -> CallRef:
    return CallRef(
        id=uuid.uuid4(),
        provider_call_id=call_id,
        direction=Direction.OUTBOUND,
        status=CallStatus.IN_PROGRESS,
        from_number="+15005550100",
        to_number="+15005550199",
    )


async def running(carrier, receiver, instructions) -> str:
    """A placed call whose callee answered and which runs ``instructions``."""
    request = PlaceCall(
        call_id=uuid.uuid4(),
        from_number="+15005550100",
        to_number="+15005550199",
        timeout_seconds=6000,
        options={"script": ON_THE_LINE},
    )
    call_id = (await carrier.place_call(request)).provider_call_id
    receiver.answer(instructions)
    await wait_until(lambda: any(r.event.provider_call_id == call_id for r in receiver.of("voice")))
    return call_id


def supervise(carrier, call_id, role, coach=None, room=ROOM):
    return carrier.supervise(
        SuperviseMember(
            call=ref(call_id), conference=room, role=role, coach_call_id=coach, command_id="c"
        )
    )


@pytest.fixture
async def room(carrier, receiver, platform, tenant) -> tuple[str, str]:
    """An agent and a customer talking in ``agent-7``."""
    agent = await running(carrier, receiver, [Conference(name=ROOM, end_on_exit=True)])
    customer = await running(carrier, receiver, [Conference(name=ROOM)])
    await wait_until(lambda: len(conference_members(platform, tenant, ROOM)) == 2)
    return agent, customer


async def join(carrier, receiver, platform, tenant, step) -> str:
    supervisor = await running(carrier, receiver, [step])
    await wait_until(lambda: len(conference_members(platform, tenant, ROOM)) == 3)
    return supervisor


async def test_a_monitoring_supervisor_hears_everyone_and_nobody_hears_them(
    carrier, receiver, platform, tenant, room
):
    agent, customer = room
    step = Conference(name=ROOM, supervisor=SupervisorRole.MONITOR)
    supervisor = await join(carrier, receiver, platform, tenant, step)
    member = conference_members(platform, tenant, ROOM)[-1]
    assert (member.provider_call_id, member.supervisor, member.muted) == (
        supervisor,
        SupervisorRole.MONITOR,
        True,
    )
    assert who_hears(platform, tenant, ROOM) == {
        agent: {customer},
        customer: {agent},
        supervisor: {agent, customer},
    }
    assert call_log(platform, supervisor)[-2:] == [("conference", ROOM), ("supervisor", "monitor")]


async def test_roles_switch_while_the_calls_go_on(carrier, receiver, platform, tenant, room):
    agent, customer = room
    step = Conference(name=ROOM, supervisor=SupervisorRole.WHISPER, coach_call_id=agent)
    supervisor = await join(carrier, receiver, platform, tenant, step)
    assert who_hears(platform, tenant, ROOM) == {
        agent: {customer, supervisor},  # the coach is heard by the agent only
        customer: {agent},
        supervisor: {agent, customer},
    }

    await supervise(carrier, supervisor, SupervisorRole.BARGE)
    assert who_hears(platform, tenant, ROOM) == {
        agent: {customer, supervisor},
        customer: {agent, supervisor},
        supervisor: {agent, customer},
    }
    await supervise(carrier, supervisor, SupervisorRole.MONITOR)
    assert who_hears(platform, tenant, ROOM)[agent] == {customer}
    assert who_hears(platform, tenant, ROOM)[customer] == {agent}
    await supervise(carrier, supervisor, SupervisorRole.WHISPER, agent)
    assert who_hears(platform, tenant, ROOM)[agent] == {customer, supervisor}
    assert who_hears(platform, tenant, ROOM)[customer] == {agent}

    roles = [value for kind, value in call_log(platform, supervisor) if kind == "supervisor"]
    assert roles == ["whisper", "barge", "monitor", "whisper"]
    assert [m.provider_call_id for m in conference_members(platform, tenant, ROOM)] == [
        agent,
        customer,
        supervisor,
    ]
    assert not receiver.ended(agent)
    assert not receiver.ended(customer)


async def test_a_supervisor_does_not_start_a_room(carrier, receiver, platform, tenant):
    alone = await running(carrier, receiver, [Conference(name="agent-9", supervisor="barge")])
    await wait_until(lambda: len(conference_members(platform, tenant, "agent-9")) == 1)
    assert not conference_started(platform, tenant, "agent-9")
    assert who_hears(platform, tenant, "agent-9") == {alone: frozenset()}


async def test_a_call_in_no_such_room_is_refused(carrier, receiver, platform, tenant, room):
    agent, _ = room
    outsider = await running(carrier, receiver, [Conference(name="elsewhere")])
    with pytest.raises(ProviderRefused) as refused:
        await supervise(carrier, outsider, SupervisorRole.BARGE)
    assert refused.value.code == "not-in-conference"
    with pytest.raises(ProviderRefused) as refused:
        await supervise(carrier, agent, SupervisorRole.WHISPER)
    assert refused.value.code == "no-coached-call"
    with pytest.raises(ProviderRefused) as refused:
        await supervise(carrier, "LB" + "0" * 32, SupervisorRole.BARGE)
    assert refused.value.code == "call-unknown"
    assert conference_members(platform, tenant, ROOM)[0].supervisor is None
