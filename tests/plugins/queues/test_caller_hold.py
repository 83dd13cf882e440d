"""A caller dialling a number routed to a queue: the greeting, their place and estimated
wait, the hold loop (silence or music in a one-key gather, announcements every N seconds),
the callback key, hanging up while waiting."""

from __future__ import annotations

import caller_helpers
from caller_helpers import (
    age_item,
    gathered,
    hang_up,
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


async def test_a_caller_hears_the_greeting_and_their_place_and_waits(app, client, tenant):
    queue_id = await make_queue(app, tenant, announce_every_seconds=30)
    await route_to_queue(client, queue_id)

    first = await ring(client, tenant, "c1")
    assert said(first) == [
        "Thank you for calling support.",
        "You are number 1 in line.",
        "Your estimated wait is about 3 minutes.",
    ]
    hold = hold_of(first)
    assert hold["num_digits"] == 1
    assert hold["prompt"] == [{"kind": "pause", "seconds": 29}]
    assert hold["timeout_seconds"] == 1

    second = await ring(client, tenant, "c2", caller="+14155550198")
    assert "You are number 2 in line." in said(second)

    [one, two] = await items(app, tenant)
    assert (one.status, one.kind, one.caller_number) == ("waiting", "call", "+14155550199")
    assert two.entered_at >= one.entered_at
    enqueued = [p for n, p in await queue_events(app, tenant) if n == "queues.call.enqueued"]
    assert [p["position"] for p in enqueued] == [1, 2]


async def test_the_hold_loop_announces_only_when_due(app, client, tenant):
    queue_id = await make_queue(app, tenant, announce_every_seconds=20, announce_wait=False)
    await route_to_queue(client, queue_id)
    await ring(client, tenant, "c1")
    [item] = await items(app, tenant)

    early = await gathered(client, tenant, "c1")
    assert said(early) == []  # silence again: the next announcement is not due yet
    assert hold_of(early)["prompt"] == [{"kind": "pause", "seconds": 19}]

    await age_item(app, tenant, item.id, next_announce_at=0)
    due = await gathered(client, tenant, "c1")
    assert said(due) == ["You are number 1 in line."]
    again = await gathered(client, tenant, "c1")
    assert said(again) == []  # rescheduled 20 s on


async def test_music_on_hold_plays_in_the_gather(app, client, tenant):
    queue_id = await make_queue(
        app,
        tenant,
        music_url="https://example.com/hold.mp3",
        announce_position=False,
        announce_wait=False,
        greeting="",
    )
    await route_to_queue(client, queue_id)
    steps = await ring(client, tenant, "c1")
    assert said(steps) == []
    assert hold_of(steps)["prompt"] == [
        {"kind": "play", "url": "https://example.com/hold.mp3", "loop": 1}
    ]


async def test_without_announcements_the_loop_still_comes_back_for_the_maximum_wait(
    app, client, tenant
):
    queue_id = await make_queue(
        app, tenant, announce_position=False, announce_wait=False, max_wait_seconds=5
    )
    await route_to_queue(client, queue_id)
    steps = await ring(client, tenant, "c1")
    assert hold_of(steps)["prompt"] == [{"kind": "pause", "seconds": 4}]  # cut by max wait


async def test_the_callback_key_turns_the_call_into_a_callback_that_keeps_its_place(
    app, client, tenant
):
    queue_id = await make_queue(app, tenant, callback_enabled=True, callback_key="1")
    await route_to_queue(client, queue_id)
    first = await ring(client, tenant, "c1")
    assert any("press 1" in text for text in said(first))
    [before] = await items(app, tenant)

    steps = await gathered(client, tenant, "c1", digits="1")
    assert steps[-1] == {"kind": "hangup"}
    assert "call you back" in said(steps)[0]
    await hang_up(client, tenant, "c1")

    [item] = await items(app, tenant)
    assert (item.kind, item.status) == ("callback", "waiting")
    assert item.entered_at == before.entered_at
    assert item.callback_number == "+14155550199"
    names = [n for n, _ in await queue_events(app, tenant)]
    assert "queues.call.callback_requested" in names
    assert "queues.call.abandoned" not in names


async def test_a_key_without_callbacks_just_goes_on_holding(app, client, tenant):
    queue_id = await make_queue(app, tenant)
    await route_to_queue(client, queue_id)
    await ring(client, tenant, "c1")
    steps = await gathered(client, tenant, "c1", digits="1")
    assert steps[-1]["kind"] == "gather"
    [item] = await items(app, tenant)
    assert item.kind == "call"


async def test_hanging_up_while_waiting_abandons(app, client, tenant):
    queue_id = await make_queue(app, tenant)
    await route_to_queue(client, queue_id)
    await ring(client, tenant, "c1")
    await hang_up(client, tenant, "c1")

    [item] = await items(app, tenant)
    assert item.status == "abandoned"
    assert item.ended_at is not None
    assert item.wait_seconds is not None
    abandoned = [p for n, p in await queue_events(app, tenant) if n == "queues.call.abandoned"]
    assert [p["item_id"] for p in abandoned] == [str(item.id)]


async def test_a_number_cannot_route_to_a_queue_that_does_not_exist(client, tenant):
    response = await client.post(
        "/api/v1/calls/numbers",
        json={
            "number": "+14155550100",
            "provider": "fakeline",
            "route": "queues",
            "ivr_flow_id": "00000000-0000-4000-8000-000000000000",
        },
    )
    assert response.status_code == 422, response.text
    assert "no queue" in response.text


async def test_a_caller_whose_agent_answered_holds_on_until_bridged(app, client, tenant):
    """The agent answered while the caller's hold turn was on its way: the caller keeps
    holding (the routing job redirects them into the agent's conference), not hung up; once
    the conversation is over, a late turn ends the call."""
    from caller_helpers import SECRET

    from plugins.calls.testing import fakeline_webhook
    from plugins.queues.models import QueueItem

    queue_id = await make_queue(app, tenant, announce_every_seconds=30)
    await route_to_queue(client, queue_id)
    await ring(client, tenant, "c1")
    [item] = await items(app, tenant)
    await _set_status(app, tenant, QueueItem, item.id, "connected")

    steps = await gathered(client, tenant, "c1")
    assert said(steps) == []
    assert hold_of(steps)["num_digits"] == 1

    await _set_status(app, tenant, QueueItem, item.id, "completed")
    event = {"type": "needs", "call": "c1", "reason": "gathered"}
    late = await fakeline_webhook(client, tenant, SECRET, [event], kind="gather")
    assert (late.status_code, late.content) == (200, b"")  # nothing more to run: hung up


async def _set_status(app, tenant, model, item_id, status: str) -> None:
    from sqlalchemy import update

    from kernel import tenant_scope

    platform = app.state.platform
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            await session.execute(update(model).where(model.id == item_id).values(status=status))
            await session.commit()
