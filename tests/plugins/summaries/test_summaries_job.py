"""The summaries job on real loopback calls: a finished call's transcript becomes a stored
summary (reason, outcome, follow-ups) and an event; a call where nothing was said is
skipped; a failing attempt is retried, and the last one fails the summary with an event;
end events delivered twice make one summary."""

from __future__ import annotations

import uuid

from summaries_helpers import call, ended, ok, speaking, summary

from kernel import DeliveredEvent, tenant_scope
from kernel.testing import wait_until
from plugins.loopback.testing import LoopbackCalls
from plugins.summaries import conversation

BILLING = (
    "Hello.",
    "I'm calling because I was charged twice for my March invoice.",
    "Could you send me a corrected invoice? I'll check my bank statement tonight.",
    "Thank you, that's all.",
)


def events_of(calls: LoopbackCalls, name: str, call_id: str) -> list[DeliveredEvent]:
    return [e for e in calls.delivered if e.name == name and e.payload["call_id"] == call_id]


async def test_a_finished_call_is_summarised_in_the_background(loopback_calls, api):
    call_id = await call(api, speaking(*BILLING))
    done_call = await ended(api, call_id)
    assert done_call["status"] == "completed"
    assert len(done_call["transcript"]) == len(BILLING)

    found = await summary(api, call_id)
    assert found["reason"] == "I'm calling because I was charged twice for my March invoice."
    assert found["outcome"] == "resolved"  # "that's all"
    assert found["follow_ups"] == ["Customer to check my bank statement tonight"]
    assert "charged twice" in found["summary"]
    assert (found["provider"], found["model"], found["fell_back"]) == ("offline", "offline", False)
    assert found["attempts"] == 1
    assert found["suggested_disposition"] is None  # the tenant never set a disposition

    await wait_until(
        lambda: events_of(loopback_calls, "summaries.call.summarized", call_id), within=10
    )
    [event] = events_of(loopback_calls, "summaries.call.summarized", call_id)
    assert event.payload["outcome"] == "resolved"
    assert event.payload["summary_id"] == found["id"]

    # Stored with the call: the call's answer links its summary.
    linked = (await ok(await api.get(f"/calls/{call_id}")))["links"]["summary"]
    assert linked == {
        "id": found["id"],
        "status": "done",
        "outcome": "resolved",
        "href": f"/api/v1/summaries/calls/{call_id}",
    }
    listed = await ok(await api.get("/summaries", params={"status": "done"}))
    assert [s["call_id"] for s in listed["items"]] == [call_id]


async def test_the_tenants_dispositions_are_suggested(loopback_calls, api):
    """The tenant's disposition codes are those its calls were given."""
    earlier = await call(api, speaking("Hi."))
    await ended(api, earlier)
    for disposition in ("sales-lead", "billing-refund"):
        await ok(await api.patch(f"/calls/{earlier}", json={"disposition": disposition}))
    call_id = await call(api, speaking(*BILLING, "Please refund the second charge."))
    await ended(api, call_id)
    found = await summary(api, call_id)
    assert found["suggested_disposition"] == "billing-refund"


async def test_a_call_where_nothing_was_said_is_skipped(loopback_calls, api):
    call_id = await call(api, ["answer", {"step": "wait", "seconds": 5}, "hangup"])
    assert (await ended(api, call_id))["transcript"] == []
    found = await summary(api, call_id, status="skipped")
    assert (found["skip_reason"], found["summary"], found["outcome"]) == (
        "no_transcript",
        "",
        None,
    )
    assert not events_of(loopback_calls, "summaries.call.summarized", call_id)


async def test_a_failed_attempt_is_retried(loopback_calls, api, monkeypatch):
    real = conversation.transcript
    failures: list[uuid.UUID] = []

    async def flaky(session, call_id):
        if not failures:
            failures.append(call_id)
            raise ConnectionError("the transcript store is away")
        return await real(session, call_id)

    monkeypatch.setattr(conversation, "transcript", flaky)
    call_id = await call(api, speaking(*BILLING))
    await ended(api, call_id)
    found = await summary(api, call_id)
    assert failures == [uuid.UUID(call_id)]
    assert found["attempts"] == 2
    assert found["last_error"] is None
    assert not events_of(loopback_calls, "summaries.call.failed", call_id)


async def test_the_last_failed_attempt_fails_the_summary(loopback_calls, api, monkeypatch):
    async def broken(session, call_id):
        raise ConnectionError("secret details stay out of the summary")

    monkeypatch.setattr(conversation, "transcript", broken)
    call_id = await call(api, speaking(*BILLING))
    await ended(api, call_id)
    found = await summary(api, call_id, status="failed")
    assert (found["attempts"], found["last_error"]) == (3, "ConnectionError")
    await wait_until(lambda: events_of(loopback_calls, "summaries.call.failed", call_id))
    [event] = events_of(loopback_calls, "summaries.call.failed", call_id)
    assert (event.payload["attempts"], event.payload["error"]) == (3, "ConnectionError")
    assert "secret" not in str(found) + str(event.payload)

    # Asked for again once the cause is gone: summarised now.
    monkeypatch.undo()
    again = await ok(await api.post(f"/summaries/calls/{call_id}"))
    assert (again["status"], again["attempts"], again["outcome"]) == ("done", 1, "resolved")


async def test_an_end_event_delivered_twice_makes_one_summary(loopback_calls, api):
    calls: LoopbackCalls = loopback_calls
    call_id = await call(api, speaking(*BILLING))
    await ended(api, call_id)
    first = await summary(api, call_id)
    await wait_until(lambda: events_of(calls, "summaries.call.summarized", call_id), within=10)
    [completed] = events_of(calls, "calls.call.completed", call_id)
    with tenant_scope(calls.tenant_id):
        await calls.platform.hooks.notify(
            "kraliki_events", platform=calls.platform, events=[completed, completed]
        )
    again = await summary(api, call_id)
    assert again == first
    listed = await ok(await api.get("/summaries"))
    assert [s["call_id"] for s in listed["items"]] == [call_id]
    assert len(events_of(calls, "summaries.call.summarized", call_id)) == 1
