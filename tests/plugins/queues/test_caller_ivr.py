"""The IVR's ``queues.enqueue`` node: a menu option puts the caller in a queue, the item
keeps the flow's path and variables, and the node's ``overflow`` (queue full) and
``timeout`` (maximum wait) exits bring the caller back to the flow."""

from __future__ import annotations

import uuid
from typing import Any

import caller_helpers
from caller_helpers import (
    IVR_NUMBER,
    age_item,
    gathered,
    handler_of,
    hold_of,
    items,
    make_queue,
    ring,
    said,
)

kraliki_extra_plugins = caller_helpers.kraliki_extra_plugins
app, client, tenant = caller_helpers.app, caller_helpers.client, caller_helpers.tenant


def desk(queue_id: uuid.UUID, **enqueue: Any) -> dict[str, Any]:
    return {
        "start": "tier",
        "nodes": {
            "tier": {"type": "set", "values": {"tier": '"gold"'}, "exits": {"next": "menu"}},
            "menu": {
                "type": "menu",
                "greeting": "Welcome.",
                "options": [{"key": "2", "label": "support"}],
                "exits": {"2": "support", "no_input": "bye", "no_match": "bye"},
            },
            "support": {
                "type": "queues.enqueue",
                "queue_id": str(queue_id),
                "exits": {"overflow": "busy", "timeout": "late"},
                **enqueue,
            },
            "busy": {"type": "hangup", "message": "Support is busy."},
            "late": {"type": "say", "text": "Sorry for the wait.", "exits": {"next": "bye"}},
            "bye": {"type": "hangup", "message": "Goodbye."},
        },
    }


async def publish_and_route(client, document: dict[str, Any]) -> str:
    created = await client.post("/api/v1/ivr/flows", json={"name": "Desk", "draft": document})
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/ivr/flows/{flow_id}/publish", json={})
    assert published.status_code == 201, published.text
    number = await client.post(
        "/api/v1/calls/numbers",
        json={"number": IVR_NUMBER, "provider": "fakeline", "route": "ivr", "ivr_flow_id": flow_id},
    )
    assert number.status_code == 201, number.text
    return flow_id


async def test_a_menu_option_enqueues_the_caller_with_the_flows_context(app, client, tenant):
    queue_id = await make_queue(app, tenant, max_wait_seconds=120)
    flow_id = await publish_and_route(client, desk(queue_id, priority=5))
    menu = await ring(client, tenant, "c1", to=IVR_NUMBER)
    assert said(menu) == ["Welcome. For support, press 2."]

    steps = await gathered(client, tenant, "c1", digits="2")
    assert said(steps)[:2] == ["Thank you for calling support.", "You are number 1 in line."]
    assert hold_of(steps)["num_digits"] == 1
    assert await handler_of(app, tenant) == ("queues", str(queue_id))

    [item] = await items(app, tenant)
    assert item.priority == 5
    assert item.context["ivr"]["flow_id"] == flow_id
    assert item.context["ivr"]["variables"]["tier"] == "gold"
    assert "menu:2" in item.context["ivr"]["path"]
    assert item.context["return"] == {"overflow": f"{flow_id}@busy", "timeout": f"{flow_id}@late"}

    # The hold loop goes on in the queue, not the flow.
    assert hold_of(await gathered(client, tenant, "c1"))["kind"] == "gather"


async def test_the_timeout_exit_brings_the_caller_back_to_the_flow(app, client, tenant):
    queue_id = await make_queue(app, tenant, max_wait_seconds=120)
    flow_id = await publish_and_route(client, desk(queue_id))
    await ring(client, tenant, "c1", to=IVR_NUMBER)
    await gathered(client, tenant, "c1", digits="2")
    [item] = await items(app, tenant)
    await age_item(app, tenant, item.id, deadline_at=1)

    steps = await gathered(client, tenant, "c1")
    assert said(steps) == ["Sorry for the wait.", "Goodbye."]
    assert steps[-1] == {"kind": "hangup"}
    assert await handler_of(app, tenant) == ("ivr", f"{flow_id}@late")
    [item] = await items(app, tenant)
    assert (item.status, item.outcome) == ("overflowed", "max_wait")


async def test_the_overflow_exit_takes_a_caller_the_full_queue_refuses(app, client, tenant):
    queue_id = await make_queue(app, tenant, max_size=0)
    await publish_and_route(client, desk(queue_id))
    await ring(client, tenant, "c1", to=IVR_NUMBER)
    steps = await gathered(client, tenant, "c1", digits="2")
    assert said(steps) == ["Support is busy."]
    [item] = await items(app, tenant)
    assert (item.status, item.outcome) == ("overflowed", "full")


async def test_the_priority_comes_from_the_flows_variable(app, client, tenant):
    queue_id = await make_queue(app, tenant)
    document = desk(queue_id)
    document["nodes"]["tier"]["values"]["queue_priority"] = "7"
    await publish_and_route(client, document)
    await ring(client, tenant, "c1", to=IVR_NUMBER)
    await gathered(client, tenant, "c1", digits="2")
    [item] = await items(app, tenant)
    assert item.priority == 7


async def test_the_node_type_is_listed_with_its_exits(client, tenant):
    types = (await client.get("/api/v1/ivr/node-types")).json()
    [enqueue] = [t for t in types if t["name"] == "queues.enqueue"]
    assert "queue" in enqueue["description"]
