"""The claim without any provider: who gets which waiting call, per strategy, with skills,
their relaxation, membership, reach and priorities."""

from __future__ import annotations

from routing_helpers import (
    add_agents,
    add_item,
    add_queue,
    add_team,
    agent,
    changes_of,
    kraliki_app,  # noqa: F401 (a fixture)
    new_tenant,
    offers_of,
    reload,
    route_once,
    tenant_session,
)
from sqlalchemy import select

from kernel.testing import published_events
from plugins.agents import Agent, AgentState
from plugins.queues import ItemStatus, OfferStatus, QueueItem
from plugins.queues.models import QueueAgent


async def seed(platform, tenant, strategy="longest_idle", agents=(), skills=None, **queue_values):
    async with tenant_session(platform, tenant) as session:
        queue = await add_queue(session, strategy=strategy, **queue_values)
        made = await add_agents(session, queue, *agents, skills=skills)
        await session.commit()
        return queue, {a.display_name: a.id for a in made}


async def one_item(platform, tenant, queue, **values):
    async with tenant_session(platform, tenant) as session:
        item = await add_item(session, queue, **values)
        await session.commit()
        return item


async def test_longest_idle_offers_the_agent_idle_longest(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        agents=[agent("a", idle_for=30), agent("b", idle_for=90), agent("c", idle_for=60)],
    )
    item = await one_item(kraliki_platform, tenant, queue)
    offers = await route_once(kraliki_platform, tenant)
    assert [o.agent_id for o in offers] == [ids["b"]]
    offer = offers[0]
    assert offer.status == OfferStatus.RINGING.value
    assert not offer.ring_all
    assert (offer.expires_at - offer.created_at).total_seconds() == 20 + 5
    chosen = await reload(kraliki_platform, tenant, Agent, ids["b"])
    assert chosen.state == AgentState.RESERVED.value
    assert chosen.current_call_id == item.call_id
    assert chosen.last_offered_at is not None
    assert await changes_of(kraliki_platform, tenant, ids["b"]) == ["available>reserved:routing"]
    stored = await reload(kraliki_platform, tenant, QueueItem, item.id)
    assert stored.status == ItemStatus.OFFERED.value
    assert stored.offers == 1
    names = [name for name, _ in await published_events(kraliki_platform, tenant)]
    assert "queues.call.offered" in names
    assert "agents.agent.state_changed" in names
    assert await route_once(kraliki_platform, tenant) == []  # nothing left to offer


async def test_round_robin_offers_the_agent_offered_longest_ago(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        strategy="round_robin",
        agents=[
            agent("recent", idle_for=300, last_offered_ago=10),
            agent("old", idle_for=5, last_offered_ago=600),
            agent("other", idle_for=5, last_offered_ago=60),
        ],
    )
    await one_item(kraliki_platform, tenant, queue)
    assert [o.agent_id for o in await route_once(kraliki_platform, tenant)] == [ids["old"]]
    await one_item(kraliki_platform, tenant, queue)
    assert [o.agent_id for o in await route_once(kraliki_platform, tenant)] == [ids["other"]]


async def test_round_robin_takes_never_offered_agents_first(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        strategy="round_robin",
        agents=[agent("veteran", last_offered_ago=3600), agent("new")],
    )
    await one_item(kraliki_platform, tenant, queue)
    assert [o.agent_id for o in await route_once(kraliki_platform, tenant)] == [ids["new"]]


async def test_skills_offers_the_most_skilled_qualified_agent(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        strategy="skills",
        required_skills=[{"skill": "billing", "min_level": 3}],
        agents=[
            agent("novice", idle_for=500),
            agent("low", idle_for=400),
            agent("good", idle_for=100),
            agent("best", idle_for=10),
        ],
        skills={"low": {"billing": 2}, "good": {"billing": 5}, "best": {"billing": 8}},
    )
    await one_item(kraliki_platform, tenant, queue, required_skills=queue.required_skills)
    await one_item(kraliki_platform, tenant, queue, required_skills=queue.required_skills)
    await one_item(kraliki_platform, tenant, queue, required_skills=queue.required_skills)
    offers = await route_once(kraliki_platform, tenant)
    assert [o.agent_id for o in offers] == [ids["best"], ids["good"]]  # low and novice: < 3


async def test_skills_ties_go_to_the_longest_idle(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        strategy="skills",
        required_skills=[{"skill": "fr", "min_level": 1}],
        agents=[agent("x", idle_for=10), agent("y", idle_for=50)],
        skills={"x": {"fr": 4}, "y": {"fr": 4}},
    )
    await one_item(kraliki_platform, tenant, queue)
    assert [o.agent_id for o in await route_once(kraliki_platform, tenant)] == [ids["y"]]


async def test_required_skills_filter_every_strategy(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        required_skills=[{"skill": "billing", "min_level": 5}, {"skill": "de", "min_level": 1}],
        agents=[agent("both", idle_for=5), agent("billing-only", idle_for=500)],
        skills={"both": {"billing": 5, "de": 2}, "billing-only": {"billing": 9}},
    )
    await one_item(kraliki_platform, tenant, queue)
    assert [o.agent_id for o in await route_once(kraliki_platform, tenant)] == [ids["both"]]


async def test_skills_relax_after_the_queue_s_time(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        required_skills=[{"skill": "billing", "min_level": 5}],
        relax_skills_after_seconds=60,
        agents=[agent("generalist")],
    )
    young = await one_item(kraliki_platform, tenant, queue, waited=30)
    assert await route_once(kraliki_platform, tenant) == []
    old = await one_item(kraliki_platform, tenant, queue, waited=61)
    offers = await route_once(kraliki_platform, tenant)
    assert [(o.item_id, o.agent_id) for o in offers] == [(old.id, ids["generalist"])]
    assert (await reload(kraliki_platform, tenant, QueueItem, young.id)).status == "waiting"


async def test_item_skills_take_precedence_over_the_queue_s(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        required_skills=[{"skill": "billing", "min_level": 1}],
        agents=[agent("billing", idle_for=100), agent("vip", idle_for=1)],
        skills={"billing": {"billing": 3}, "vip": {"vip": 1, "billing": 1}},
    )
    await one_item(kraliki_platform, tenant, queue, required_skills=[{"skill": "vip"}])
    assert [o.agent_id for o in await route_once(kraliki_platform, tenant)] == [ids["vip"]]


async def test_only_members_of_the_queue_or_its_teams_are_offered(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    async with tenant_session(kraliki_platform, tenant) as session:
        queue = await add_queue(session)
        other = await add_queue(session, "Sales")
        _, member = await add_agents(
            session, other, agent("outsider", idle_for=900), agent("member", idle_for=10)
        )
        await add_team(session, queue, member)
        await session.commit()
    await one_item(kraliki_platform, tenant, queue)
    assert [o.agent_id for o in await route_once(kraliki_platform, tenant)] == [member.id]
    await one_item(kraliki_platform, tenant, queue)
    assert await route_once(kraliki_platform, tenant) == []


async def test_unavailable_and_inactive_agents_are_not_offered(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    idle = agent("inactive", idle_for=900)
    idle.active = False
    queue, _ = await seed(
        kraliki_platform,
        tenant,
        agents=[
            idle,
            agent("away", state="away"),
            agent("busy", state="on_call"),
            agent("wrapping", state="wrap_up"),
            agent("offline", state="offline"),
        ],
    )
    await one_item(kraliki_platform, tenant, queue)
    assert await route_once(kraliki_platform, tenant) == []


async def test_loopback_agents_take_only_loopback_calls(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        agents=[agent("simulated", reach="loopback", idle_for=900), agent("phone", idle_for=1)],
    )
    real = await one_item(kraliki_platform, tenant, queue, provider="twilio", waited=20)
    assert [(o.item_id, o.agent_id) for o in await route_once(kraliki_platform, tenant)] == [
        (real.id, ids["phone"])
    ]
    simulated = await one_item(kraliki_platform, tenant, queue, provider="loopback")
    assert [(o.item_id, o.agent_id) for o in await route_once(kraliki_platform, tenant)] == [
        (simulated.id, ids["simulated"])
    ]


async def test_higher_priority_first_then_the_longest_waiting(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    async with tenant_session(kraliki_platform, tenant) as session:
        low = await add_queue(session, "Low")
        high = await add_queue(session, "High", priority=5)
        (only,) = await add_agents(session, low, agent("only"))
        session.add(QueueAgent(queue_id=high.id, agent_id=only.id))
        oldest = await add_item(session, low, waited=300)
        await add_item(session, low, waited=100, priority=3)
        best = await add_item(session, high, waited=10)
        await session.commit()
    assert [o.item_id for o in await route_once(kraliki_platform, tenant)] == [best.id]
    async with tenant_session(kraliki_platform, tenant) as session:
        items = await session.scalars(select(QueueItem).where(QueueItem.status == "waiting"))
        assert oldest.id in {i.id for i in items}


async def test_item_priority_beats_waiting_time(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, _ = await seed(kraliki_platform, tenant, agents=[agent("only")])
    await one_item(kraliki_platform, tenant, queue, waited=300)
    urgent = await one_item(kraliki_platform, tenant, queue, waited=1, priority=9)
    assert [o.item_id for o in await route_once(kraliki_platform, tenant)] == [urgent.id]


async def test_ring_all_offers_every_eligible_agent(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, ids = await seed(
        kraliki_platform,
        tenant,
        strategy="ring_all",
        agents=[agent("a"), agent("b"), agent("c"), agent("away", state="away")],
    )
    item = await one_item(kraliki_platform, tenant, queue)
    offers = await route_once(kraliki_platform, tenant)
    assert sorted(o.agent_id for o in offers) == sorted([ids["a"], ids["b"], ids["c"]])
    assert all(o.ring_all and o.item_id == item.id for o in offers)
    assert len(await offers_of(kraliki_platform, tenant)) == 3


async def test_agents_who_do_not_auto_accept_get_a_pending_offer(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, _ = await seed(kraliki_platform, tenant, agents=[agent("manual", auto_accept=False)])
    await one_item(kraliki_platform, tenant, queue)
    (offer,) = await route_once(kraliki_platform, tenant)
    assert offer.status == OfferStatus.PENDING.value
    assert (offer.expires_at - offer.created_at).total_seconds() == 20


async def test_offer_timeout_comes_from_the_queue(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, _ = await seed(kraliki_platform, tenant, agents=[agent("a")], offer_timeout_seconds=7)
    await one_item(kraliki_platform, tenant, queue)
    (offer,) = await route_once(kraliki_platform, tenant)
    assert (offer.expires_at - offer.created_at).total_seconds() == 7 + 5


async def test_inactive_queues_and_ended_items_are_not_routed(kraliki_platform):
    tenant = await new_tenant(kraliki_platform)
    queue, _ = await seed(kraliki_platform, tenant, agents=[agent("a")], active=False)
    await one_item(kraliki_platform, tenant, queue)
    live, _ = await seed(kraliki_platform, tenant, agents=[], name="Live")
    await one_item(kraliki_platform, tenant, live, status="abandoned")
    assert await route_once(kraliki_platform, tenant) == []
