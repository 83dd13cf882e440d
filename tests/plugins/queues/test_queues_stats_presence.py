"""Queue figures follow agents' presence changes made through the agents API: a break, a
supervisor's forced state, a log-off each republish ``queues.queue.stats`` for every queue
the agent serves (directly or through a team), and for no other queue."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from queues_helpers import add_agent, add_team, create_queue

from kernel.testing import DEFAULT_TEST_PASSWORD, login, published_events

AGENTS = "/api/v1/agents"


@pytest.fixture
async def ana(client, kraliki_make_user, owner) -> tuple[str, dict[str, str]]:
    """An agent user with a phone reach, available: (agent id, her headers)."""
    email = f"ana@{owner.slug}.example.com"
    user_id = await kraliki_make_user(owner.tenant_id, email, roles=["agent"])
    headers = await login(client, email, DEFAULT_TEST_PASSWORD, tenant=owner.slug)
    created = await client.post(
        AGENTS,
        headers=owner.headers,
        json={
            "user_id": str(user_id),
            "display_name": "Ana",
            "reach": {"kind": "phone", "address": "+420601123456"},
        },
    )
    assert created.status_code == 201, created.text
    reason = await client.post(
        f"{AGENTS}/reason-codes", headers=owner.headers, json={"code": "lunch", "label": "Lunch"}
    )
    assert reason.status_code == 201, reason.text
    await put(client, f"{AGENTS}/me/state", headers, {"state": "available"})
    return created.json()["id"], headers


async def put(client, url: str, headers: dict[str, str], body: dict[str, Any]) -> None:
    response = await client.put(url, headers=headers, json=body)
    assert response.status_code == 200, response.text


async def stats(platform, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    return [p for n, p in await published_events(platform, tenant_id) if n == "queues.queue.stats"]


def agents_of(events: list[dict[str, Any]], queue_id: str) -> list[dict[str, int]]:
    return [e["agents"] for e in events if e["queue_id"] == queue_id]


async def test_a_break_shows_one_fewer_available_agent(client, owner, platform, tenant_id, ana):
    agent_id, headers = ana
    team = await add_team(platform, tenant_id, "Billing", [uuid.UUID(agent_id)])
    bob = await add_agent(platform, tenant_id, "Bob")
    direct = await create_queue(client, owner.headers, "Direct", agent_ids=[agent_id, str(bob)])
    by_team = await create_queue(client, owner.headers, "By team", team_ids=[str(team)])
    other = await create_queue(client, owner.headers, "Other", agent_ids=[str(bob)])
    before = len(await stats(platform, tenant_id))

    await put(client, f"{AGENTS}/me/state", headers, {"state": "away", "reason_code": "lunch"})

    published = (await stats(platform, tenant_id))[before:]
    assert sorted(e["queue_id"] for e in published) == sorted([direct["id"], by_team["id"]])
    [in_direct] = agents_of(published, direct["id"])
    assert (in_direct["available"], in_direct["away"]) == (1, 1)
    [in_team] = agents_of(published, by_team["id"])
    assert (in_team["available"], in_team["away"]) == (0, 1)
    assert agents_of(published, other["id"]) == []


async def test_a_forced_state_and_a_log_off_republish_too(client, owner, platform, tenant_id, ana):
    agent_id, headers = ana
    bob = await add_agent(platform, tenant_id, "Bob")
    queue = await create_queue(client, owner.headers, agent_ids=[agent_id, str(bob)])
    before = len(await stats(platform, tenant_id))

    forced = {"state": "offline", "reason": "shift ended"}
    await put(client, f"{AGENTS}/{bob}/state", owner.headers, forced)
    await put(client, f"{AGENTS}/me/state", headers, {"state": "offline"})
    await put(client, f"{AGENTS}/me/state", headers, {"state": "available"})

    seen = agents_of((await stats(platform, tenant_id))[before:], queue["id"])
    assert [(a["available"], a["offline"]) for a in seen] == [(1, 1), (0, 2), (1, 1)]
