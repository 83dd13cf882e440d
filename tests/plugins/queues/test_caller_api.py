"""``POST /api/v1/queues/{id}/calls``: a live call (here in an IVR menu) moved into a queue:
its handler becomes the queue's, the provider is told to play the queue's greeting and hold
loop, and the caller's next turns are the queue's."""

from __future__ import annotations

import uuid

import caller_helpers
from caller_helpers import (
    IVR_NUMBER,
    gathered,
    handler_of,
    hang_up,
    hold_of,
    in_progress,
    items,
    make_queue,
    queue_events,
    ring,
    said,
)

from plugins.calls.testing import fakeline_log

kraliki_extra_plugins = caller_helpers.kraliki_extra_plugins
app, client, tenant = caller_helpers.app, caller_helpers.client, caller_helpers.tenant

MENU = {
    "start": "menu",
    "nodes": {
        "menu": {
            "type": "menu",
            "greeting": "Welcome.",
            "options": [{"key": "1", "label": "sales"}],
            "exits": {"1": "bye", "no_input": "bye", "no_match": "bye"},
        },
        "bye": {"type": "hangup", "message": "Goodbye."},
    },
}


async def caller_in_a_menu(client, tenant) -> str:
    created = await client.post("/api/v1/ivr/flows", json={"name": "Menu", "draft": MENU})
    flow_id = created.json()["id"]
    assert (await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})).status_code == 201
    number = await client.post(
        "/api/v1/calls/numbers",
        json={"number": IVR_NUMBER, "provider": "fakeline", "route": "ivr", "ivr_flow_id": flow_id},
    )
    assert number.status_code == 201, number.text
    await ring(client, tenant, "c1", to=IVR_NUMBER)
    await in_progress(client, tenant, "c1")
    [call] = (await client.get("/api/v1/calls")).json()["items"]
    assert call["status"] == "in-progress", call
    return str(call["id"])


async def test_a_live_call_is_put_in_a_queue(app, client, tenant):
    queue_id = await make_queue(app, tenant)
    call_id = await caller_in_a_menu(client, tenant)

    response = await client.post(
        f"/api/v1/queues/{queue_id}/calls", json={"call_id": call_id, "priority": 3}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["call_id"], body["position"], body["status"]) == (call_id, 1, "waiting")

    [(_, steps)] = fakeline_log(app.state.platform).redirected
    texts = [s.text for s in steps if s.kind == "say"]
    assert texts[:2] == ["Thank you for calling support.", "You are number 1 in line."]
    assert steps[-1].kind == "gather"
    assert await handler_of(app, tenant) == ("queues", str(queue_id))
    [item] = await items(app, tenant)
    assert (item.priority, str(item.id)) == (3, body["item_id"])

    # The caller's next turn is the queue's hold loop; hanging up abandons.
    assert hold_of(await gathered(client, tenant, "c1"))["kind"] == "gather"
    await hang_up(client, tenant, "c1")
    [item] = await items(app, tenant)
    assert item.status == "abandoned"
    names = [n for n, _ in await queue_events(app, tenant)]
    assert names == ["queues.call.enqueued", "queues.call.abandoned"]


async def test_a_call_waiting_already_is_refused(app, client, tenant):
    queue_id = await make_queue(app, tenant)
    call_id = await caller_in_a_menu(client, tenant)
    url = f"/api/v1/queues/{queue_id}/calls"
    assert (await client.post(url, json={"call_id": call_id})).status_code == 201
    again = await client.post(url, json={"call_id": call_id})
    assert again.status_code == 409, again.text
    assert again.json()["type"].endswith("queues-enqueue-already-queued")


async def test_a_call_that_ended_cannot_be_queued(app, client, tenant):
    queue_id = await make_queue(app, tenant)
    call_id = await caller_in_a_menu(client, tenant)
    await hang_up(client, tenant, "c1")
    response = await client.post(f"/api/v1/queues/{queue_id}/calls", json={"call_id": call_id})
    assert response.status_code == 409, response.text
    assert response.json()["call_status"] == "completed"


async def test_a_full_queue_refuses_the_call(app, client, tenant):
    queue_id = await make_queue(app, tenant, max_size=0)
    call_id = await caller_in_a_menu(client, tenant)
    response = await client.post(f"/api/v1/queues/{queue_id}/calls", json={"call_id": call_id})
    assert response.status_code == 409, response.text
    assert await items(app, tenant) == []


async def test_unknown_queue_and_call_are_404(app, client, tenant):
    queue_id = await make_queue(app, tenant)
    call_id = await caller_in_a_menu(client, tenant)
    unknown = str(uuid.uuid4())
    no_queue = await client.post(f"/api/v1/queues/{unknown}/calls", json={"call_id": call_id})
    assert no_queue.status_code == 404
    no_call = await client.post(f"/api/v1/queues/{queue_id}/calls", json={"call_id": unknown})
    assert no_call.status_code == 404


async def test_a_bad_priority_is_a_located_422(app, client, tenant):
    queue_id = await make_queue(app, tenant)
    response = await client.post(
        f"/api/v1/queues/{queue_id}/calls", json={"call_id": str(uuid.uuid4()), "priority": 1000}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "priority"]


async def test_it_needs_the_queue_calls_permission(app, client, tenant, kraliki_authenticate):
    queue_id = await make_queue(app, tenant)
    kraliki_authenticate(app, "queues:read", kind="user", tenant_id=tenant)
    response = await client.post(
        f"/api/v1/queues/{queue_id}/calls", json={"call_id": str(uuid.uuid4())}
    )
    assert response.status_code == 403


def test_said_reads_gather_prompts():
    assert said([{"kind": "gather", "prompt": [{"kind": "say", "text": "x"}]}]) == ["x"]
