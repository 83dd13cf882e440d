"""An offer's life without a provider: the agent leg's turns (answered, busy, no answer),
expiry by the dispatch job, withdrawal, ring-all, the end of the conversation and wrap-up."""

from __future__ import annotations

from datetime import timedelta

from routing_helpers import (
    add_agents,
    add_item,
    add_queue,
    agent,
    changes_of,
    kraliki_app,  # noqa: F401 (a fixture)
    leg_turn,
    new_tenant,
    offers_of,
    reload,
    route_once,
    run_dispatch,
    tenant_session,
    wakeups,
)
from sqlalchemy import select, update

from kernel import utcnow
from kernel.testing import published_events
from plugins.agents import Agent, AgentState, HandledCall, change_state
from plugins.calls import Conference, Hangup, Say
from plugins.queues import ItemStatus, Offer, QueueItem
from plugins.queues.routing import (
    agent_leg_ended,
    agent_leg_start,
    caller_ended,
    withdraw,
)
from plugins.queues.routing.conversation import end_wrap_ups


async def seeded(platform, *agents, strategy="longest_idle", **queue_values):
    tenant = await new_tenant(platform)
    async with tenant_session(platform, tenant) as session:
        queue = await add_queue(session, strategy=strategy, **queue_values)
        made = await add_agents(session, queue, *agents)
        item = await add_item(session, queue)
        await session.commit()
    return tenant, queue, item, {a.display_name: a.id for a in made}


async def leg(platform, tenant, offer, status, handler=agent_leg_ended, **options):
    async with tenant_session(platform, tenant) as session:
        result = await handler(
            leg_turn(platform, session, tenant, offer, status, **options), offer.id
        )
        await session.commit()
        return result


async def answered(platform, tenant, offer):
    return await leg(platform, tenant, offer, "in-progress", agent_leg_start, reason="start")


async def test_a_missed_leg_puts_the_agent_away_and_the_call_goes_to_the_next(kraliki_platform):
    tenant, _, item, ids = await seeded(
        kraliki_platform, agent("first", idle_for=90), agent("second", idle_for=10)
    )
    (offer,) = await route_once(kraliki_platform, tenant)
    assert offer.agent_id == ids["first"]
    await leg(kraliki_platform, tenant, offer, "no-answer")
    missed = await reload(kraliki_platform, tenant, Offer, offer.id)
    assert (missed.status, missed.reason) == ("missed", "no-answer")
    assert missed.decided_at is not None
    first = await reload(kraliki_platform, tenant, Agent, ids["first"])
    assert (first.state, first.reason_code) == ("away", "missed")
    assert await changes_of(kraliki_platform, tenant, ids["first"]) == [
        "available>reserved:routing",
        "reserved>away:routing",
    ]
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).status == "waiting"
    assert "queues.dispatch" in await wakeups(kraliki_platform, tenant)
    (again,) = await route_once(kraliki_platform, tenant)
    assert (again.item_id, again.agent_id) == (item.id, ids["second"])
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).offers == 2


async def test_a_busy_leg_is_a_decline_and_a_failed_one_a_failure(kraliki_platform):
    tenant, _, _, ids = await seeded(kraliki_platform, agent("a", idle_for=90), agent("b"))
    (offer,) = await route_once(kraliki_platform, tenant)
    await leg(kraliki_platform, tenant, offer, "busy")
    assert (await reload(kraliki_platform, tenant, Offer, offer.id)).status == "declined"
    (offer,) = await route_once(kraliki_platform, tenant)
    await leg(kraliki_platform, tenant, offer, "failed")
    assert (await reload(kraliki_platform, tenant, Offer, offer.id)).status == "failed"
    for agent_id in ids.values():
        assert (await reload(kraliki_platform, tenant, Agent, agent_id)).state == "away"


async def test_an_unplaced_offer_expires_by_the_job_and_the_call_waits_again(kraliki_platform):
    """A worker that died between the claim and placing the leg: the offer times out."""
    tenant, _, item, ids = await seeded(kraliki_platform, agent("only"))
    (offer,) = await route_once(kraliki_platform, tenant)
    async with tenant_session(kraliki_platform, tenant) as session:
        await session.execute(
            update(Offer)
            .where(Offer.id == offer.id)
            .values(expires_at=utcnow() - timedelta(seconds=1), reason="placing")
        )
        await session.commit()
    assert await run_dispatch(kraliki_platform, tenant) is None  # nothing left to wait for
    expired = await reload(kraliki_platform, tenant, Offer, offer.id)
    assert (expired.status, expired.reason) == ("missed", "timeout")
    only = await reload(kraliki_platform, tenant, Agent, ids["only"])
    assert (only.state, only.reason_code) == ("away", "missed")
    assert (await changes_of(kraliki_platform, tenant, ids["only"]))[-1] == "reserved>away:timeout"
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).status == "waiting"


async def test_the_job_is_due_again_when_the_first_offer_expires(kraliki_platform):
    tenant, _, _, _ = await seeded(kraliki_platform, agent("manual", auto_accept=False))
    (offer,) = await route_once(kraliki_platform, tenant)
    assert await run_dispatch(kraliki_platform, tenant) == offer.expires_at


async def test_withdrawing_frees_the_agent(kraliki_platform):
    tenant, _, item, ids = await seeded(kraliki_platform, agent("a"))
    (offer,) = await route_once(kraliki_platform, tenant)
    async with tenant_session(kraliki_platform, tenant) as session:
        stored = await session.scalar(select(QueueItem).where(QueueItem.id == item.id))
        await withdraw(kraliki_platform, session, stored, reason="abandoned")
        await session.commit()
    assert (await reload(kraliki_platform, tenant, Offer, offer.id)).status == "withdrawn"
    assert (await reload(kraliki_platform, tenant, Agent, ids["a"])).state == "available"
    assert (await changes_of(kraliki_platform, tenant, ids["a"]))[-1] == (
        "reserved>available:routing"
    )
    left = await reload(kraliki_platform, tenant, QueueItem, item.id)
    assert left.status == ItemStatus.ABANDONED.value
    assert left.ended_at is not None
    assert "queues.dispatch" in await wakeups(kraliki_platform, tenant)
    # The leg rings on: once it is answered, it hears that the call is gone.
    steps = await answered(kraliki_platform, tenant, offer)
    assert [type(s) for s in steps] == [Say, Hangup]


async def test_an_answered_leg_connects_and_a_hang_up_starts_the_wrap_up(kraliki_platform):
    tenant, queue, item, ids = await seeded(kraliki_platform, agent("a"), name="Billing")
    (offer,) = await route_once(kraliki_platform, tenant)
    steps = await answered(kraliki_platform, tenant, offer)
    assert steps[0] == Say(text="Billing")
    assert steps[1] == Conference(name=f"kq-{item.id}", start_on_enter=True, end_on_exit=True)
    connected = await reload(kraliki_platform, tenant, QueueItem, item.id)
    assert (connected.status, connected.agent_id) == ("connected", ids["a"])
    assert connected.wait_seconds is not None
    assert connected.wait_seconds >= 5
    assert (await reload(kraliki_platform, tenant, Offer, offer.id)).status == "accepted"
    assert (await reload(kraliki_platform, tenant, Agent, ids["a"])).state == "on_call"
    async with tenant_session(kraliki_platform, tenant) as session:
        stored = await session.scalar(select(QueueItem).where(QueueItem.id == item.id))
        await caller_ended(kraliki_platform, session, stored)
        await session.commit()
    done = await reload(kraliki_platform, tenant, QueueItem, item.id)
    assert done.status == ItemStatus.COMPLETED.value
    assert (await reload(kraliki_platform, tenant, Offer, offer.id)).status == "ended"
    wrapping = await reload(kraliki_platform, tenant, Agent, ids["a"])
    assert wrapping.state == AgentState.WRAP_UP.value
    assert 29 <= (wrapping.wrap_up_until - utcnow()).total_seconds() <= 30  # tenant default
    async with tenant_session(kraliki_platform, tenant) as session:
        handled = await session.scalar(select(HandledCall))
        assert (handled.call_id, handled.queue_id) == (item.call_id, queue.id)
        assert handled.ended_at is not None
        assert await end_wrap_ups(kraliki_platform, session, utcnow()) == 0
        assert await end_wrap_ups(kraliki_platform, session, utcnow() + timedelta(seconds=31)) == 1
        await session.commit()
    assert (await changes_of(kraliki_platform, tenant, ids["a"]))[-2:] == [
        "on_call>wrap_up:routing",
        "wrap_up>available:timeout",
    ]


async def test_the_queue_s_wrap_up_then_the_agent_s(kraliki_platform):
    tenant, _, item, ids = await seeded(kraliki_platform, agent("a"), wrap_up_seconds=0)
    (offer,) = await route_once(kraliki_platform, tenant)
    await answered(kraliki_platform, tenant, offer)
    await leg(kraliki_platform, tenant, offer, "completed")  # the agent hung up
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).status == "completed"
    assert (await changes_of(kraliki_platform, tenant, ids["a"]))[-1] == (
        "on_call>available:routing"
    )
    tenant, _, item, ids = await seeded(kraliki_platform, agent("b", wrap_up_seconds=12))
    (offer,) = await route_once(kraliki_platform, tenant)
    await answered(kraliki_platform, tenant, offer)
    await leg(kraliki_platform, tenant, offer, "completed")
    b = await reload(kraliki_platform, tenant, Agent, ids["b"])
    assert b.state == "wrap_up"
    assert 11 <= (b.wrap_up_until - utcnow()).total_seconds() <= 12


async def test_ring_all_the_first_to_answer_takes_the_call(kraliki_platform):
    tenant, _, item, ids = await seeded(
        kraliki_platform, agent("a"), agent("b"), agent("c"), strategy="ring_all"
    )
    offers = await route_once(kraliki_platform, tenant)
    assert len(offers) == 3
    winner, *others = offers
    await answered(kraliki_platform, tenant, winner)
    by_id = {o.id: o for o in await offers_of(kraliki_platform, tenant)}
    assert by_id[winner.id].status == "accepted"
    assert {by_id[o.id].status for o in others} == {"withdrawn"}
    for offer in others:
        assert (await reload(kraliki_platform, tenant, Agent, offer.agent_id)).state == "available"
        steps = await answered(kraliki_platform, tenant, offer)  # too late
        assert [type(s) for s in steps] == [Say, Hangup]
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).agent_id == winner.agent_id
    assert (await reload(kraliki_platform, tenant, Agent, winner.agent_id)).state == "on_call"
    assert set(ids.values()) == {o.agent_id for o in offers}


async def test_ring_all_waits_again_only_when_every_offer_is_missed(kraliki_platform):
    tenant, _, item, _ = await seeded(kraliki_platform, agent("a"), agent("b"), strategy="ring_all")
    first, second = await route_once(kraliki_platform, tenant)
    await leg(kraliki_platform, tenant, first, "no-answer")
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).status == "offered"
    await leg(kraliki_platform, tenant, second, "no-answer")
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).status == "waiting"


async def test_a_leg_of_another_call_does_not_end_the_offer(kraliki_platform):
    tenant, _, _, _ = await seeded(kraliki_platform, agent("a"))
    (offer,) = await route_once(kraliki_platform, tenant)
    await answered(kraliki_platform, tenant, offer)
    await leg(kraliki_platform, tenant, offer, "completed", call_id=offer.item_id)
    assert (await reload(kraliki_platform, tenant, Offer, offer.id)).status == "accepted"


async def test_a_caller_gone_before_the_bridge_ends_the_conversation(kraliki_platform):
    """The dispatch job cannot redirect a caller whose call is gone: the conversation ends
    and the agent wraps up."""
    tenant, _, item, ids = await seeded(kraliki_platform, agent("a"))
    (offer,) = await route_once(kraliki_platform, tenant)
    await answered(kraliki_platform, tenant, offer)
    await run_dispatch(kraliki_platform, tenant)
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).status == "completed"
    assert (await reload(kraliki_platform, tenant, Agent, ids["a"])).state == "wrap_up"


async def test_an_agent_who_becomes_available_wakes_routing(kraliki_platform):
    tenant, _, _, ids = await seeded(kraliki_platform, agent("a", state="away"))
    assert await wakeups(kraliki_platform, tenant) == []
    async with tenant_session(kraliki_platform, tenant) as session:
        a = await session.scalar(select(Agent).where(Agent.id == ids["a"]).with_for_update())
        await change_state(kraliki_platform, session, a, AgentState.AVAILABLE, cause="agent")
        await session.commit()
    assert await wakeups(kraliki_platform, tenant) == ["queues.dispatch"]
    offers = await route_once(kraliki_platform, tenant)
    assert [o.agent_id for o in offers] == [ids["a"]]


async def test_a_missed_offer_an_answer_and_the_end_publish_the_queue_s_figures(
    kraliki_platform,
):
    """``queues.queue.stats`` after each routing change, with the figures after it."""
    tenant, queue, item, _ = await seeded(
        kraliki_platform, agent("first", idle_for=90), agent("second", idle_for=10)
    )

    async def stats() -> list[tuple[int, int, int, int, int]]:
        return [
            (
                p["waiting"],
                p["answered_today"],
                p["agents"]["away"],
                p["agents"]["on_call"],
                p["agents"]["wrap_up"],
            )
            for name, p in await published_events(kraliki_platform, tenant)
            if name == "queues.queue.stats" and p["queue_id"] == str(queue.id)
        ]

    (offer,) = await route_once(kraliki_platform, tenant)
    await leg(kraliki_platform, tenant, offer, "no-answer")
    assert await stats() == [(1, 0, 1, 0, 0)]  # missed: first away, the call waits again
    (again,) = await route_once(kraliki_platform, tenant)
    await answered(kraliki_platform, tenant, again)
    assert (await stats())[-1] == (0, 1, 1, 1, 0)
    async with tenant_session(kraliki_platform, tenant) as session:
        stored = await session.scalar(select(QueueItem).where(QueueItem.id == item.id))
        await caller_ended(kraliki_platform, session, stored)
        await session.commit()
    assert (await stats())[-1] == (0, 1, 1, 0, 1)
