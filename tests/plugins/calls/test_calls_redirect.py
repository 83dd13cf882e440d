"""``redirect_call``: the public way for a plugin (queues) to replace what a live call runs,
checked (409), committed before the provider is asked, mapped to problems, and noted."""

from __future__ import annotations

import uuid

import pytest

from kernel import ProblemError, RejectedError, TransientError, tenant_scope
from plugins.calls import (
    CallStatus,
    Capability,
    Conference,
    Gather,
    Play,
    ProviderRefused,
    Say,
    UnsupportedAction,
    redirect_call,
)
from plugins.calls.testing import fakeline_log, fakeline_plugin


@pytest.fixture
async def live_call(place, send):
    call = await place()
    await send([{"type": "progress", "call": call["provider_call_id"], "status": "in-progress"}])
    return call


async def redirect(platform, tenant, call_id, steps, **options):
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return await redirect_call(platform, session, uuid.UUID(call_id), steps, **options)


async def test_a_live_call_is_redirected_and_the_timeline_says_so(
    client, platform, tenant, live_call
):
    room = Conference(name="queue-42", start_on_enter=True, end_on_exit=True)
    call = await redirect(platform, tenant, live_call["id"], [room], actor="queues")
    assert call.status == CallStatus.IN_PROGRESS.value
    [(ref, steps)] = fakeline_log(platform).redirected
    assert ref.provider_call_id == live_call["provider_call_id"]
    assert ref.status is CallStatus.IN_PROGRESS
    assert steps == [room]
    timeline = (await client.get(f"/api/v1/calls/{live_call['id']}")).json()["timeline"]
    [entry] = [e for e in timeline if e["kind"] == "redirected"]
    assert entry["source"] == "platform"
    assert entry["detail"] == {"actor": "queues", "steps": ["conference"]}


async def test_instructions_may_come_as_json(platform, tenant, live_call):
    await redirect(platform, tenant, live_call["id"], [{"kind": "say", "text": "Hello"}])
    [(_, steps)] = fakeline_log(platform).redirected
    assert steps == [Say(text="Hello")]


async def test_invalid_instructions_are_a_value_error(platform, tenant, live_call):
    with pytest.raises(ValueError):
        await redirect(platform, tenant, live_call["id"], [{"kind": "teleport"}])
    assert fakeline_log(platform).redirected == []


async def test_only_a_call_in_progress_is_redirected(platform, tenant, place, live_call, send):
    ringing = await place()
    with pytest.raises(ProblemError) as caught:
        await redirect(platform, tenant, ringing["id"], [Say(text="Hi")])
    assert caught.value.problem.status == 409
    assert caught.value.problem.slug == "calls-call-state-conflict"
    assert caught.value.extensions["call_status"] == "initiated"
    await send([{"type": "progress", "call": live_call["provider_call_id"], "status": "completed"}])
    with pytest.raises(ProblemError) as caught:
        await redirect(platform, tenant, live_call["id"], [Say(text="Hi")])
    assert caught.value.extensions["call_status"] == "completed"
    with pytest.raises(ProblemError) as caught:
        await redirect(platform, tenant, str(uuid.uuid4()), [Say(text="Hi")])
    assert caught.value.problem.status == 404
    assert fakeline_log(platform).redirected == []


@pytest.mark.parametrize(
    ("error", "slug", "status"),
    [
        (ProviderRefused("the call ended there"), "calls-provider-refused", 422),
        (RejectedError("fakeline", "nope", status=400), "calls-provider-refused", 422),
        (TransientError("fakeline", status=503), "calls-provider-unavailable", 503),
        (UnsupportedAction("fakeline cannot"), "calls-capability-missing", 409),
    ],
)
async def test_provider_failures_are_problems(
    platform, tenant, live_call, client, error, slug, status
):
    fakeline_log(platform).fail_next.append(error)
    with pytest.raises(ProblemError) as caught:
        await redirect(platform, tenant, live_call["id"], [Play(url="https://x.test/a.mp3")])
    assert (caught.value.problem.slug, caught.value.problem.status) == (slug, status)
    timeline = (await client.get(f"/api/v1/calls/{live_call['id']}")).json()["timeline"]
    assert "redirected" not in [e["kind"] for e in timeline]


async def test_no_transaction_is_open_while_the_provider_answers(platform, tenant, live_call):
    seen: list[bool] = []
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            log = fakeline_log(platform)
            original = log.maybe_fail

            def spy() -> None:
                seen.append(session.in_transaction())
                original()

            log.maybe_fail = spy  # type: ignore[method-assign]
            await redirect_call(platform, session, uuid.UUID(live_call["id"]), [Say(text="Hi")])
    assert seen == [False]


class TestAProviderWithoutConferencing:
    @pytest.fixture
    def kraliki_extra_plugins(self):
        plain = frozenset(Capability) - {Capability.CONFERENCING, Capability.SPEECH_RECOGNITION}
        return [fakeline_plugin(capabilities=plain)]

    async def test_a_step_it_cannot_run_is_refused_first(self, platform, tenant, live_call):
        for step, capability in [
            (Conference(name="room"), "conferencing"),
            (Gather(speech=True, dtmf=False), "speech-recognition"),
        ]:
            with pytest.raises(ProblemError) as caught:
                await redirect(platform, tenant, live_call["id"], [step])
            assert caught.value.problem.slug == "calls-capability-missing"
            assert caught.value.extensions["capability"] == capability
        assert fakeline_log(platform).redirected == []
