"""Stale calls: they stop holding the concurrent-call limit, reconciliation asks their provider
where they are (the calls.reconcile job, run as a worker would) and settles them through the
status machine; a hang-up the provider refuses for a call it no longer has ends the call."""

from __future__ import annotations

import uuid
from datetime import timedelta

from kernel import TransientError, utcnow
from kernel.testing import job_due_at
from plugins.calls.provider import Action, CallLost, CallProgress, CallStatus, ProviderRefused
from plugins.calls.testing import age_calls, call_events, fakeline_log, run_reconciliation

RINGING_STALE = 181  # seconds: past KRALIKI_CALLS_STALE_RINGING_SECONDS' default


async def _detail(client, call) -> dict:
    response = await client.get(f"/api/v1/calls/{call['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _events(platform, tenant_id, call_id) -> list[tuple[str, dict]]:
    return await call_events(platform, tenant_id, call_id)


async def _due_at(platform, tenant_id):
    return await job_due_at(platform, "calls.reconcile", tenant_id)


async def _limit(client, limit: int) -> None:
    body = {"primary_provider": "fakeline", "max_concurrent_calls": limit}
    response = await client.put("/api/v1/calls/settings", json=body)
    assert response.status_code == 200, response.text


async def test_a_new_call_wakes_reconciliation_for_when_it_could_go_stale(place, platform, tenant):
    before = utcnow()
    await place()
    due_at = await _due_at(platform, tenant)
    assert due_at is not None
    # The earliest a call can go stale: a ringing one not heard of for three minutes.
    assert before + timedelta(seconds=179) < due_at < utcnow() + timedelta(seconds=181)


async def test_stale_calls_do_not_hold_the_concurrent_call_limit(
    place, send, client, tenant, platform
):
    await _limit(client, 1)
    first = await place()
    refused = await client.post(
        "/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"}
    )
    assert refused.status_code == 429
    await age_calls(platform, tenant, RINGING_STALE - 10, call_id=uuid.UUID(first["id"]))
    still = await client.post("/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"})
    assert still.status_code == 429  # not stale yet
    await age_calls(platform, tenant, RINGING_STALE, call_id=uuid.UUID(first["id"]))
    second = await place()  # the first call, unheard of, no longer holds the slot

    # An answered call may go unheard of longer before it stops counting.
    await send([{"type": "progress", "call": second["provider_call_id"], "status": "in-progress"}])
    await age_calls(platform, tenant, 600, call_id=uuid.UUID(second["id"]))
    again = await client.post("/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"})
    assert again.status_code == 429
    assert (await _detail(client, first))["status"] == "initiated"  # untouched until reconciled


async def test_a_call_its_provider_ended_ends_here_with_its_end_event(
    place, client, platform, tenant
):
    call = await place()
    sid = call["provider_call_id"]
    fakeline_log(platform).states[sid] = CallProgress(
        sid, CallStatus.COMPLETED, duration_seconds=42, hangup_cause="normal"
    )
    await age_calls(platform, tenant, RINGING_STALE)
    await run_reconciliation(platform, tenant)

    done = await _detail(client, call)
    assert (done["status"], done["duration_seconds"], done["hangup_cause"]) == (
        "completed",
        42,
        "normal",
    )
    last = done["timeline"][-1]
    assert (last["kind"], last["source"], last["status"]) == ("status", "platform", "completed")
    assert last["detail"]["reason"] == "reconciled"
    name, payload = (await _events(platform, tenant, call["id"]))[-1]
    assert name == "calls.call.completed"
    assert (payload["reason"], payload["duration_seconds"]) == ("reconciled", 42)
    assert await _due_at(platform, tenant) is None  # no unended call left: no next run


async def test_a_provider_that_does_not_answer_leaves_calls_as_they_are_until_the_retry(
    place, client, platform, tenant
):
    calls = [await place(), await place()]
    log = fakeline_log(platform)
    log.fail_next.append(TransientError("fakeline", status=503))
    await age_calls(platform, tenant, RINGING_STALE)
    await run_reconciliation(platform, tenant)
    assert log.asked == []  # the second call was not asked: fakeline had just failed
    for call in calls:
        assert (await _detail(client, call))["status"] == "initiated"
    due_at = await _due_at(platform, tenant)
    retry = utcnow() + timedelta(seconds=60)  # KRALIKI_CALLS_RECONCILE_RETRY_SECONDS
    assert retry - timedelta(seconds=5) < due_at <= retry

    for call in calls:
        sid = call["provider_call_id"]
        log.states[sid] = CallProgress(sid, CallStatus.NO_ANSWER)
    await run_reconciliation(platform, tenant)
    for call in calls:
        assert (await _detail(client, call))["status"] == "no-answer"


async def test_a_call_its_provider_still_has_is_heard_of_again_or_moves_on(
    place, send, client, platform, tenant
):
    await _limit(client, 2)
    quiet, behind = await place(), await place()
    await send([{"type": "progress", "call": quiet["provider_call_id"], "status": "in-progress"}])
    sid = behind["provider_call_id"]
    fakeline_log(platform).states[sid] = CallProgress(sid, CallStatus.IN_PROGRESS)
    await age_calls(platform, tenant, 1000)
    entries = len((await _detail(client, quiet))["timeline"])
    await place()  # neither holds a slot while stale
    await run_reconciliation(platform, tenant)

    heard = await _detail(client, quiet)
    assert heard["status"] == "in-progress"
    assert len(heard["timeline"]) == entries  # confirming it adds nothing to its story
    moved = await _detail(client, behind)
    assert moved["status"] == "in-progress"  # its answered report had gone missing
    assert (await _events(platform, tenant, behind["id"]))[-1][0] == "calls.call.answered"
    refused = await client.post(
        "/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"}
    )
    assert refused.status_code == 429  # heard of again: they count again


async def test_a_call_the_provider_never_got_fails_as_placing_interrupted(client, platform, tenant):
    async def die(request, provider_call_id):
        raise RuntimeError("the process died while placing")

    fakeline_log(platform).on_place = die
    died = await client.post("/api/v1/calls", json={"to": "+14155550100", "from": "+14155550199"})
    assert died.status_code == 500
    listed = (await client.get("/api/v1/calls")).json()["items"]
    [call] = listed
    assert (call["status"], call["provider_call_id"]) == ("queued", None)

    await age_calls(platform, tenant, 200)  # placing may still be under way (300 s)
    await run_reconciliation(platform, tenant)
    assert (await _detail(client, call))["status"] == "queued"
    await age_calls(platform, tenant, 301)
    await run_reconciliation(platform, tenant)
    failed = await _detail(client, call)
    assert (failed["status"], failed["hangup_cause"]) == ("failed", "placing-interrupted")
    name, payload = (await _events(platform, tenant, call["id"]))[-1]
    assert (name, payload["reason"]) == ("calls.call.failed", "placing-interrupted")
    assert fakeline_log(platform).asked == []


async def test_a_call_its_provider_lost_fails_with_the_providers_reason(
    place, client, platform, tenant
):
    call = await place()
    sid = call["provider_call_id"]
    fakeline_log(platform).states[sid] = CallLost("no such call", code="unknown-at-provider")
    await age_calls(platform, tenant, RINGING_STALE)
    await run_reconciliation(platform, tenant)
    failed = await _detail(client, call)
    assert (failed["status"], failed["hangup_cause"]) == ("failed", "unknown-at-provider")
    name, payload = (await _events(platform, tenant, call["id"]))[-1]
    assert (name, payload["reason"]) == ("calls.call.failed", "unknown-at-provider")


# --- hang-up of a call its provider no longer has ------------------------------------------


async def test_a_hangup_the_provider_refuses_ends_a_call_it_no_longer_has(place, client, platform):
    call = await place()
    log = fakeline_log(platform)
    log.fail_next.append(ProviderRefused("no such call", code="gone"))
    log.states[call["provider_call_id"]] = CallLost("its carrier is gone", code="carrier-lost")
    response = await client.post(f"/api/v1/calls/{call['id']}/hangup")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["hangup_cause"]) == (
        "failed",
        "carrier-lost",
    )
    timeline = (await _detail(client, call))["timeline"]
    assert timeline[-1]["kind"] == "action"
    assert timeline[-1]["detail"] == {"action": "hangup", "actor": "test-user", "ended": "already"}


async def test_a_hangup_the_provider_refuses_for_a_call_it_still_has_stays_refused(
    place, client, platform
):
    call = await place()
    fakeline_log(platform).fail_next.append(ProviderRefused("busy line", code="nope"))
    response = await client.post(f"/api/v1/calls/{call['id']}/hangup")
    assert response.status_code == 422
    assert response.json()["type"].endswith("/calls-provider-refused")
    assert (await _detail(client, call))["status"] == "initiated"
    [asked] = fakeline_log(platform).asked
    assert asked.provider_call_id == call["provider_call_id"]
    assert fakeline_log(platform).controls == []  # the refused hang-up was not retried


async def test_a_hangup_the_provider_accepts_is_not_reconciled(place, client, platform):
    call = await place()
    response = await client.post(f"/api/v1/calls/{call['id']}/hangup")
    assert response.status_code == 200
    [control] = fakeline_log(platform).controls
    assert control.action is Action.HANGUP
    assert fakeline_log(platform).asked == []
