"""``supervise_call``: the public way for a supervisor plugin to change a supervisor's role
in an agent's conference, checked (409) like a redirect, committed before the provider is
asked, mapped to problems, and noted on the supervisor call's timeline."""

from __future__ import annotations

import uuid

import pytest

from kernel import ProblemError, RejectedError, TransientError, tenant_scope
from plugins.calls import (
    CallStatus,
    Capability,
    Conference,
    ProviderRefused,
    SupervisorRole,
    UnsupportedAction,
    redirect_call,
    supervise_call,
)
from plugins.calls.testing import fakeline_log, fakeline_plugin


@pytest.fixture
def live(place, send):
    async def make() -> dict:
        call = await place()
        progress = {"type": "progress", "call": call["provider_call_id"], "status": "in-progress"}
        await send([progress])
        return call

    return make


async def supervise(platform, tenant, call_id, **options):
    options.setdefault("conference", "agent-7")
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return await supervise_call(platform, session, uuid.UUID(call_id), **options)


async def test_a_whisper_reaches_the_provider_with_the_agents_leg_and_is_noted(
    client, platform, tenant, live
):
    agent, supervisor = await live(), await live()
    call = await supervise(
        platform,
        tenant,
        supervisor["id"],
        role=SupervisorRole.WHISPER,
        coach_call_id=uuid.UUID(agent["id"]),
        actor="user:42",
    )
    assert call.status == CallStatus.IN_PROGRESS.value
    [request] = fakeline_log(platform).supervised
    assert request.call.provider_call_id == supervisor["provider_call_id"]
    assert (request.conference, request.role) == ("agent-7", SupervisorRole.WHISPER)
    assert request.coach_call_id == agent["provider_call_id"]
    assert request.command_id.startswith("supervise-")
    timeline = (await client.get(f"/api/v1/calls/{supervisor['id']}")).json()["timeline"]
    [entry] = [e for e in timeline if e["kind"] == "supervision-changed"]
    assert entry["source"] == "platform"
    assert entry["detail"] == {
        "actor": "user:42",
        "role": "whisper",
        "conference": "agent-7",
        "coach_call_id": agent["id"],
    }


async def test_monitor_and_barge_need_no_coached_call(platform, tenant, live):
    supervisor = await live()
    for role in (SupervisorRole.MONITOR, SupervisorRole.BARGE):
        await supervise(platform, tenant, supervisor["id"], role=role, coach_call_id=None)
    log = fakeline_log(platform).supervised
    assert [(r.role, r.coach_call_id) for r in log] == [
        (SupervisorRole.MONITOR, None),
        (SupervisorRole.BARGE, None),
    ]
    assert len({r.command_id for r in log}) == 2


async def test_a_whisper_without_a_coached_call_is_a_value_error(platform, tenant, live):
    supervisor = await live()
    with pytest.raises(ValueError):
        await supervise(
            platform, tenant, supervisor["id"], role=SupervisorRole.WHISPER, coach_call_id=None
        )
    with pytest.raises(ValueError):
        Conference(name="agent-7", supervisor=SupervisorRole.WHISPER)
    assert fakeline_log(platform).supervised == []


async def test_both_calls_must_be_in_progress(platform, tenant, place, live, send):
    ringing, agent = await place(), await live()
    with pytest.raises(ProblemError) as caught:
        await supervise(
            platform, tenant, ringing["id"], role=SupervisorRole.MONITOR, coach_call_id=None
        )
    assert (caught.value.problem.status, caught.value.problem.slug) == (
        409,
        "calls-call-state-conflict",
    )
    assert caught.value.extensions["call_status"] == "initiated"
    supervisor = await live()
    await send([{"type": "progress", "call": agent["provider_call_id"], "status": "completed"}])
    with pytest.raises(ProblemError) as caught:
        await supervise(
            platform,
            tenant,
            supervisor["id"],
            role=SupervisorRole.WHISPER,
            coach_call_id=uuid.UUID(agent["id"]),
        )
    assert caught.value.problem.slug == "calls-call-state-conflict"
    assert caught.value.extensions["call_status"] == "completed"
    with pytest.raises(ProblemError) as caught:
        await supervise(
            platform,
            tenant,
            supervisor["id"],
            role=SupervisorRole.WHISPER,
            coach_call_id=uuid.uuid4(),
        )
    assert caught.value.problem.status == 404
    assert fakeline_log(platform).supervised == []


@pytest.mark.parametrize(
    ("error", "slug", "status"),
    [
        (ProviderRefused("no conference agent-7 is live"), "calls-provider-refused", 422),
        (RejectedError("fakeline", "nope", status=400), "calls-provider-refused", 422),
        (TransientError("fakeline", status=503), "calls-provider-unavailable", 503),
        (UnsupportedAction("fakeline cannot"), "calls-capability-missing", 409),
    ],
)
async def test_provider_failures_are_problems(platform, tenant, live, client, error, slug, status):
    supervisor = await live()
    fakeline_log(platform).fail_next.append(error)
    with pytest.raises(ProblemError) as caught:
        await supervise(
            platform, tenant, supervisor["id"], role=SupervisorRole.BARGE, coach_call_id=None
        )
    assert (caught.value.problem.slug, caught.value.problem.status) == (slug, status)
    if slug == "calls-capability-missing":
        assert caught.value.extensions["capability"] == "coaching"
    timeline = (await client.get(f"/api/v1/calls/{supervisor['id']}")).json()["timeline"]
    assert "supervision-changed" not in [e["kind"] for e in timeline]


async def test_no_transaction_is_open_while_the_provider_answers(platform, tenant, live):
    supervisor = await live()
    seen: list[bool] = []
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            log = fakeline_log(platform)
            original = log.maybe_fail

            def spy() -> None:
                seen.append(session.in_transaction())
                original()

            log.maybe_fail = spy  # type: ignore[method-assign]
            await supervise_call(
                platform,
                session,
                uuid.UUID(supervisor["id"]),
                conference="agent-7",
                role=SupervisorRole.MONITOR,
                coach_call_id=None,
            )
    assert seen == [False]


class TestAProviderWithoutCoaching:
    @pytest.fixture
    def kraliki_extra_plugins(self):
        return [fakeline_plugin(capabilities=frozenset(Capability) - {Capability.COACHING})]

    async def test_supervising_is_refused_naming_the_capability(self, platform, tenant, live):
        supervisor = await live()
        with pytest.raises(ProblemError) as caught:
            await supervise(
                platform, tenant, supervisor["id"], role=SupervisorRole.MONITOR, coach_call_id=None
            )
        assert (caught.value.problem.status, caught.value.problem.slug) == (
            409,
            "calls-capability-missing",
        )
        assert caught.value.extensions["capability"] == "coaching"
        assert fakeline_log(platform).supervised == []

    async def test_joining_as_a_supervisor_is_refused_too(self, platform, tenant, live):
        supervisor = await live()
        for role in SupervisorRole:
            room = Conference(name="agent-7", supervisor=role, coach_call_id="TL1")
            with tenant_scope(tenant), pytest.raises(ProblemError) as caught:
                async with platform.database.session() as session:
                    await redirect_call(platform, session, uuid.UUID(supervisor["id"]), [room])
            assert caught.value.extensions["capability"] == "coaching"
        # An ordinary member still joins.
        with tenant_scope(tenant):
            async with platform.database.session() as session:
                await redirect_call(
                    platform, session, uuid.UUID(supervisor["id"]), [Conference(name="agent-7")]
                )
        assert len(fakeline_log(platform).redirected) == 1
