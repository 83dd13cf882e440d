"""The offer routes, as the agent page uses them: a real user with the agent role, logged in."""

from __future__ import annotations

import uuid

from routing_helpers import (
    add_agents,
    add_item,
    add_queue,
    agent,
    changes_of,
    kraliki_app,  # noqa: F401 (a fixture)
    reload,
    route_once,
    tenant_session,
    wakeups,
)
from sqlalchemy import select

from kernel.testing import create_tenant, login
from plugins.agents import Agent
from plugins.queues import Offer, QueueItem


async def agent_user(platform, client, make_user, *, auto_accept=False):
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    tenant = await create_tenant(platform, slug)
    user_id = await make_user(tenant, f"agent@{slug}.example.com", roles=["agent"])
    headers = await login(client, f"agent@{slug}.example.com", tenant=slug)
    async with tenant_session(platform, tenant) as session:
        queue = await add_queue(session, "Billing")
        (me,) = await add_agents(
            session, queue, agent("me", user_id=user_id, auto_accept=auto_accept)
        )
        item = await add_item(session, queue, context={"ivr_path": ["menu", "billing"]})
        await session.commit()
    return tenant, headers, me.id, item


async def test_my_offer_accept_and_decline(kraliki_platform, kraliki_client, kraliki_make_user):
    tenant, headers, me, item = await agent_user(
        kraliki_platform, kraliki_client, kraliki_make_user
    )
    nothing = await kraliki_client.get("/api/v1/queues/offers/mine", headers=headers)
    assert nothing.status_code == 200, nothing.text
    assert nothing.json() == {"offer": None}
    (offer,) = await route_once(kraliki_platform, tenant)
    mine = (await kraliki_client.get("/api/v1/queues/offers/mine", headers=headers)).json()
    assert mine["offer"]["id"] == str(offer.id)
    assert mine["offer"]["status"] == "pending"
    assert mine["offer"]["queue_name"] == "Billing"
    assert mine["offer"]["caller_number"] == item.caller_number
    assert mine["offer"]["context"] == {"ivr_path": ["menu", "billing"]}
    accepted = await kraliki_client.post(
        f"/api/v1/queues/offers/{offer.id}/accept", headers=headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "ringing"
    assert "queues.dispatch" in await wakeups(kraliki_platform, tenant)
    again = await kraliki_client.post(f"/api/v1/queues/offers/{offer.id}/accept", headers=headers)
    assert again.json()["status"] == "ringing"  # accepting twice changes nothing
    declined = await kraliki_client.post(
        f"/api/v1/queues/offers/{offer.id}/decline", headers=headers
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    assert (await reload(kraliki_platform, tenant, QueueItem, item.id)).status == "waiting"
    me_now = await reload(kraliki_platform, tenant, Agent, me)
    assert (me_now.state, me_now.reason_code) == ("away", "missed")
    assert (await changes_of(kraliki_platform, tenant, me))[-1] == "reserved>away:agent"
    late = await kraliki_client.post(f"/api/v1/queues/offers/{offer.id}/decline", headers=headers)
    assert late.status_code == 409
    assert late.json()["type"].endswith("/queues-offer-not-live")
    assert late.json()["status"] == 409


async def test_someone_else_s_offer_is_not_found(
    kraliki_platform, kraliki_client, kraliki_make_user
):
    tenant, headers, me, _ = await agent_user(kraliki_platform, kraliki_client, kraliki_make_user)
    async with tenant_session(kraliki_platform, tenant) as session:
        mine = await session.scalar(select(Agent).where(Agent.id == me))
        mine.state = "away"  # only the colleague is offered a call
        queue = await add_queue(session, "Other")
        await add_agents(session, queue, agent("colleague"))
        await add_item(session, queue)
        await session.commit()
    (theirs,) = await route_once(kraliki_platform, tenant)
    assert theirs.agent_id != me
    for path in ("accept", "decline"):
        response = await kraliki_client.post(
            f"/api/v1/queues/offers/{theirs.id}/{path}", headers=headers
        )
        assert response.status_code == 404
        assert response.json()["type"].endswith("/queues-offer-not-found")
    assert (await reload(kraliki_platform, tenant, Offer, theirs.id)).status == "ringing"
    missing = await kraliki_client.post(
        f"/api/v1/queues/offers/{uuid.uuid4()}/accept", headers=headers
    )
    assert missing.status_code == 404


async def test_a_user_without_an_agent_profile(kraliki_platform, kraliki_client, kraliki_make_user):
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    tenant = await create_tenant(kraliki_platform, slug)
    await kraliki_make_user(tenant, f"sup@{slug}.example.com", roles=["supervisor"])
    headers = await login(kraliki_client, f"sup@{slug}.example.com", tenant=slug)
    response = await kraliki_client.get("/api/v1/queues/offers/mine", headers=headers)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/queues-not-an-agent")


async def test_the_offer_routes_need_agents_state_write(kraliki_platform, kraliki_client):
    anonymous = await kraliki_client.get("/api/v1/queues/offers/mine")
    assert anonymous.status_code == 401
