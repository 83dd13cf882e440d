"""Where an agent's conversation is (``agent_conversation``): the first plugin that knows
answers (``kraliki_agent_conversation``, sync or async); one that raises is logged, counted
and left out, never failing the caller."""

from __future__ import annotations

import uuid

import pytest
from agents_helpers import create_agent
from sqlalchemy import select

from kernel import tenant_scope
from plugins.agents import Agent, Conversation, agent_conversation

BOT = {"kind": "loopback"}
LEG = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    """A plugin whose hook always fails, and a bridge plugin that has Ada on a call."""

    def broken(platform, session, agent):
        raise RuntimeError("the broken plugin breaks")

    async def bridge(platform, session, agent):
        if agent.display_name != "Ada":
            return None
        return Conversation(
            conference=f"bridge-{agent.id}",
            provider="fakeline",
            agent_call_id=LEG,
            customer_call_id=None,
            source="bridge",
        )

    return [
        make_plugin("broken", requires=["agents"], agent_conversation=broken),
        make_plugin("bridge", requires=["agents"], agent_conversation=bridge),
    ]


async def conversation_of(platform, tenant_id, agent_id: str) -> Conversation | None:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            agent = await session.scalar(select(Agent).where(Agent.id == uuid.UUID(agent_id)))
            return await agent_conversation(platform, session, agent)


async def test_the_plugin_that_knows_answers_and_a_failing_one_is_left_out(
    kraliki_client, kraliki_platform, owner
):
    ada = await create_agent(kraliki_client, owner.headers, display_name="Ada", reach=BOT)
    bo = await create_agent(kraliki_client, owner.headers, display_name="Bo", reach=BOT)
    failures = kraliki_platform.hooks.failures
    assert await conversation_of(kraliki_platform, owner.tenant_id, ada["id"]) == Conversation(
        conference=f"bridge-{ada['id']}",
        provider="fakeline",
        agent_call_id=LEG,
        customer_call_id=None,
        source="bridge",
    )
    assert failures[("broken", "kraliki_agent_conversation")] == 1
    # Nobody knows of a conversation of Bo's (queues and campaigns neither: he is offline).
    assert await conversation_of(kraliki_platform, owner.tenant_id, bo["id"]) is None
    assert failures[("broken", "kraliki_agent_conversation")] == 2
