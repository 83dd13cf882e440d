"""Leaving a queue without an agent: the maximum wait passed or the queue full, to each kind
of overflow target (another queue keeping the caller's place, voicemail, an IVR flow at a
node, a goodbye)."""

from __future__ import annotations

import uuid

import caller_helpers
from caller_helpers import (
    age_item,
    gathered,
    hold_of,
    items,
    make_queue,
    queue_events,
    ring,
    route_to_queue,
    said,
)

kraliki_extra_plugins = caller_helpers.kraliki_extra_plugins
app, client, tenant = caller_helpers.app, caller_helpers.client, caller_helpers.tenant

AFTER_HOURS = {
    "start": "hello",
    "nodes": {
        "hello": {"type": "say", "text": "Main menu.", "exits": {"next": "sorry"}},
        "sorry": {"type": "hangup", "message": "Nobody could take your call. Goodbye."},
    },
}


async def published_flow(client, document: dict, name: str = "Main") -> str:
    created = await client.post("/api/v1/ivr/flows", json={"name": name, "draft": document})
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})
    assert published.status_code == 201, published.text
    return flow_id


async def waited_too_long(app, client, tenant, **queue) -> list[dict]:
    """A caller in a queue with a maximum wait whose deadline then passes: what they hear."""
    queue_id = await make_queue(app, tenant, max_wait_seconds=60, **queue)
    await route_to_queue(client, queue_id)
    await ring(client, tenant, "c1")
    [item] = await items(app, tenant)
    await age_item(app, tenant, item.id, deadline_at=1)
    return await gathered(client, tenant, "c1")


async def overflowed(app, tenant) -> list[dict]:
    return [p for n, p in await queue_events(app, tenant) if n == "queues.call.overflowed"]


async def test_max_wait_with_no_target_says_goodbye(app, client, tenant):
    steps = await waited_too_long(app, client, tenant)
    assert steps == [
        {"kind": "say", "text": steps[0]["text"], "voice": None, "language": "en-US"},
        {"kind": "hangup"},
    ]
    [item] = await items(app, tenant)
    assert (item.status, item.outcome) == ("overflowed", "max_wait")
    [event] = await overflowed(app, tenant)
    assert (event["target"], event["reason"]) == ("hangup", "max_wait")


async def test_max_wait_hangs_up_with_the_queues_message(app, client, tenant):
    steps = await waited_too_long(
        app, client, tenant, overflow={"kind": "hangup", "message": "Please try tomorrow."}
    )
    assert said(steps) == ["Please try tomorrow."]
    assert steps[-1] == {"kind": "hangup"}


async def test_max_wait_to_voicemail_records_a_message(app, client, tenant):
    steps = await waited_too_long(app, client, tenant, overflow={"kind": "voicemail"})
    assert [s["kind"] for s in steps] == ["say", "record", "say", "hangup"]
    assert "after the tone" in steps[0]["text"]
    [event] = await overflowed(app, tenant)
    assert event["target"] == "voicemail"


async def test_max_wait_to_another_queue_keeps_the_callers_place(app, client, tenant):
    other = await make_queue(app, tenant, "Overflow", greeting="Welcome to the overflow team.")
    # Someone already waits in the other queue, but entered after our caller.
    steps = await waited_too_long(
        app, client, tenant, overflow={"kind": "queue", "queue_id": str(other)}
    )
    assert said(steps)[:2] == ["Welcome to the overflow team.", "You are number 1 in line."]
    assert hold_of(steps)["kind"] == "gather"
    first, moved = await items(app, tenant)
    assert (first.status, moved.status) == ("overflowed", "waiting")
    assert moved.queue_id == other
    assert moved.entered_at == first.entered_at
    [event] = await overflowed(app, tenant)
    assert event["target"] == f"queue:{other}"

    # The caller's next hold turns are the other queue's.
    again = await gathered(client, tenant, "c1")
    assert hold_of(again)["kind"] == "gather"
    assert [i.status for i in await items(app, tenant)] == ["overflowed", "waiting"]


async def test_max_wait_to_an_ivr_node_runs_the_flow_from_there(app, client, tenant):
    flow_id = await published_flow(client, AFTER_HOURS)
    steps = await waited_too_long(
        app, client, tenant, overflow={"kind": "ivr", "flow_id": flow_id, "node_id": "sorry"}
    )
    assert said(steps) == ["Nobody could take your call. Goodbye."]
    assert steps[-1] == {"kind": "hangup"}
    [event] = await overflowed(app, tenant)
    assert event["target"] == f"ivr:{flow_id}@sorry"
    assert await caller_helpers.handler_of(app, tenant) == ("ivr", f"{flow_id}@sorry")


async def test_a_full_queue_overflows_at_once(app, client, tenant):
    queue_id = await make_queue(
        app, tenant, max_size=1, overflow={"kind": "hangup", "message": "We are busy."}
    )
    await route_to_queue(client, queue_id)
    await ring(client, tenant, "c1")
    steps = await ring(client, tenant, "c2", caller="+14155550198")
    assert said(steps) == ["We are busy."]
    assert steps[-1] == {"kind": "hangup"}
    waiting, full = await items(app, tenant)
    assert (waiting.status, full.status, full.outcome) == ("waiting", "overflowed", "full")
    [event] = await overflowed(app, tenant)
    assert event["reason"] == "full"
    # The first caller hangs up: room again.
    names = [n for n, _ in await queue_events(app, tenant)]
    assert names.count("queues.call.enqueued") == 1


async def test_a_queue_overflowing_to_a_full_queue_says_goodbye(app, client, tenant):
    other = await make_queue(app, tenant, "Small", max_size=0)
    steps = await waited_too_long(
        app, client, tenant, overflow={"kind": "queue", "queue_id": str(other)}
    )
    assert steps[-1] == {"kind": "hangup"}
    [item] = await items(app, tenant)
    assert item.status == "overflowed"


async def test_an_ivr_target_that_no_longer_exists_says_goodbye(app, client, tenant):
    steps = await waited_too_long(
        app,
        client,
        tenant,
        overflow={"kind": "ivr", "flow_id": str(uuid.uuid4()), "node_id": "gone"},
    )
    assert steps[-1] == {"kind": "hangup"}
