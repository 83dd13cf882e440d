"""The claim for calls a supervisor moved to one agent (``target_agent_id``): only that
agent is offered them, whatever the strategy, membership or skills; they wait while the
agent is busy without holding up the others, and the choice lapses when the agent is gone."""

from __future__ import annotations

from routing_helpers import (
    add_agents,
    add_item,
    add_queue,
    agent,
    kraliki_app,  # noqa: F401 (a fixture)
    new_tenant,
    reload,
    route_once,
    tenant_session,
)
from sqlalchemy import update

from plugins.agents import Agent, AgentState
from plugins.queues import ItemStatus, QueueItem


async def test_a_targeted_call_is_offered_to_its_agent_only(kraliki_platform):
    platform = kraliki_platform
    tenant = await new_tenant(platform)
    async with tenant_session(platform, tenant) as session:
        queue = await add_queue(
            session, strategy="ring_all", required_skills=[{"skill": "fr", "min_level": 3}]
        )
        [member] = await add_agents(session, queue, agent("member", idle_for=600))
        [outsider] = await add_agents(session, None, agent("outsider", idle_for=5))
        item = await add_item(session, queue, target_agent_id=outsider.id)
        await session.commit()
    offers = await route_once(platform, tenant)
    assert [(o.agent_id, o.ring_all) for o in offers] == [(outsider.id, False)]
    assert (await reload(platform, tenant, QueueItem, item.id)).status == "offered"
    assert (await reload(platform, tenant, Agent, member.id)).state == "available"


async def test_a_targeted_call_waits_for_its_busy_agent_and_goes_first_for_them(
    kraliki_platform,
):
    platform = kraliki_platform
    tenant = await new_tenant(platform)
    async with tenant_session(platform, tenant) as session:
        queue = await add_queue(session)
        chosen, other = await add_agents(
            session,
            queue,
            agent("chosen", state=AgentState.ON_CALL.value),
            agent("other", idle_for=30),
        )
        older = await add_item(session, queue, waited=300)
        targeted = await add_item(session, queue, waited=10, target_agent_id=chosen.id)
        await session.commit()
    # The chosen agent is busy: the targeted call waits, the other call is served.
    offers = await route_once(platform, tenant)
    assert [(o.item_id, o.agent_id) for o in offers] == [(older.id, other.id)]
    assert (await reload(platform, tenant, QueueItem, targeted.id)).status == "waiting"
    # A call that waited longer is behind the targeted one for the chosen agent.
    async with tenant_session(platform, tenant) as session:
        oldest = await add_item(session, queue, waited=900)
        await session.execute(
            update(Agent).where(Agent.id == chosen.id).values(state=AgentState.AVAILABLE.value)
        )
        await session.commit()
    offers = await route_once(platform, tenant)
    assert [(o.item_id, o.agent_id) for o in offers] == [(targeted.id, chosen.id)]
    assert (await reload(platform, tenant, QueueItem, oldest.id)).status == "waiting"


async def test_the_choice_lapses_when_the_agent_is_no_longer_active(kraliki_platform):
    platform = kraliki_platform
    tenant = await new_tenant(platform)
    async with tenant_session(platform, tenant) as session:
        queue = await add_queue(session)
        [member] = await add_agents(session, queue, agent("member"))
        [gone] = await add_agents(session, None, agent("gone"))
        gone.active = False
        item = await add_item(session, queue, target_agent_id=gone.id)
        await session.commit()
    offers = await route_once(platform, tenant)
    assert [o.agent_id for o in offers] == [member.id]
    stored = await reload(platform, tenant, QueueItem, item.id)
    assert (stored.status, stored.target_agent_id) == (ItemStatus.OFFERED.value, None)
