"""Wrap-up through the API: the agent records the call's outcome (on the call, as
`PATCH /calls/{id}` would, and in their call history) and, when done, becomes available.
Also the handled-call history and the available counts."""

from __future__ import annotations

import pytest
from agents_helpers import BASE, add_call, create_agent, person, read_call, route

from kernel.testing import published_events
from plugins.agents import AgentState

S = AgentState


@pytest.fixture
async def ana(kraliki_client, kraliki_make_user, owner):
    user = await person(kraliki_client, kraliki_make_user, owner, "ana", "agent")
    agent = await create_agent(kraliki_client, owner.headers, user_id=str(user.user_id))
    ready = await kraliki_client.put(
        f"{BASE}/me/state", headers=user.headers, json={"state": "available"}
    )
    assert ready.status_code == 200
    return user, agent


async def test_wrap_up_sets_the_calls_outcome_and_ends_with_done(
    kraliki_client, kraliki_platform, owner, ana
):
    user, agent = ana
    call_id = await add_call(kraliki_platform, owner.tenant_id)
    await route(
        kraliki_platform,
        owner.tenant_id,
        agent["id"],
        S.RESERVED,
        S.ON_CALL,
        S.WRAP_UP,
        call_id=call_id,
    )
    noted = await kraliki_client.post(
        f"{BASE}/me/wrap-up", headers=user.headers, json={"disposition": "sale", "notes": "2 seats"}
    )
    assert noted.status_code == 200, noted.text
    assert noted.json()["agent"]["state"] == "wrap_up"
    assert noted.json()["call"]["disposition"] == "sale"
    call = await read_call(kraliki_platform, owner.tenant_id, call_id)
    assert (call.disposition, call.notes) == ("sale", "2 seats")
    events = await published_events(kraliki_platform, owner.tenant_id)
    updated = [p for n, p in events if n == "calls.call.updated"]
    assert updated[-1]["disposition"] == "sale"
    assert updated[-1]["changed"] == ["disposition", "notes"]
    done = await kraliki_client.post(
        f"{BASE}/me/wrap-up", headers=user.headers, json={"done": True}
    )
    assert done.status_code == 200, done.text
    assert (done.json()["agent"]["state"], done.json()["agent"]["current_call_id"]) == (
        "available",
        None,
    )
    assert done.json()["call"]["wrap_up_ended_at"] is not None
    assert done.json()["call"]["wrap_up_seconds"] >= 0
    change = [
        p
        for n, p in await published_events(kraliki_platform, owner.tenant_id)
        if n == "agents.agent.state_changed"
    ][-1]
    assert (change["from_state"], change["to_state"], change["cause"]) == (
        "wrap_up",
        "available",
        "agent",
    )
    changes = await kraliki_client.get(f"{BASE}/{agent['id']}/history", headers=user.headers)
    assert changes.json()["items"][0]["call_id"] == str(call_id), "leaving a call names it"
    history = await kraliki_client.get(f"{BASE}/{agent['id']}/calls", headers=user.headers)
    assert [(c["call_id"], c["disposition"]) for c in history.json()["items"]] == [
        (str(call_id), "sale")
    ]
    nothing = await kraliki_client.post(
        f"{BASE}/me/wrap-up", headers=user.headers, json={"disposition": "x"}
    )
    assert nothing.status_code == 409
    assert nothing.json()["type"] == "/problems/agents-no-call"
    later = await kraliki_client.post(
        f"{BASE}/me/wrap-up",
        headers=user.headers,
        json={"disposition": "callback", "call_id": str(call_id)},
    )
    assert later.status_code == 200, "a call handled earlier can still be dispositioned"
    assert (await read_call(kraliki_platform, owner.tenant_id, call_id)).disposition == "callback"


async def test_done_during_the_call_is_refused(kraliki_client, kraliki_platform, owner, ana):
    user, agent = ana
    call_id = await add_call(kraliki_platform, owner.tenant_id)
    await route(
        kraliki_platform, owner.tenant_id, agent["id"], S.RESERVED, S.ON_CALL, call_id=call_id
    )
    refused = await kraliki_client.post(
        f"{BASE}/me/wrap-up", headers=user.headers, json={"disposition": "sale", "done": True}
    )
    assert refused.status_code == 409
    assert (refused.json()["from"], refused.json()["to"]) == ("on_call", "available")
    assert (await read_call(kraliki_platform, owner.tenant_id, call_id)).disposition is None
    ok = await kraliki_client.post(
        f"{BASE}/me/wrap-up", headers=user.headers, json={"disposition": "sale"}
    )
    assert ok.status_code == 200, "an outcome can be noted during the call"
    bad = await kraliki_client.post(
        f"{BASE}/me/wrap-up", headers=user.headers, json={"disposition": "x" * 65}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "disposition"]


async def test_available_counts_by_skill(kraliki_client, owner, ana):
    _user, agent = ana
    await kraliki_client.patch(
        f"{BASE}/{agent['id']}",
        headers=owner.headers,
        json={"skills": [{"skill": "billing", "level": 8}, {"skill": "cz", "level": 2}]},
    )
    other = await create_agent(
        kraliki_client,
        owner.headers,
        display_name="Bot",
        reach={"kind": "loopback"},
        skills=[{"skill": "billing", "level": 3}],
    )
    await kraliki_client.put(
        f"{BASE}/{other['id']}/state",
        headers=owner.headers,
        json={"state": "available", "reason": "test"},
    )
    await create_agent(
        kraliki_client,
        owner.headers,
        display_name="Offline",
        reach={"kind": "loopback"},
        skills=[{"skill": "billing", "level": 9}],
    )
    url = f"{BASE}/available-count"
    everyone = await kraliki_client.get(url, headers=owner.headers)
    assert everyone.json() == {
        "available": 2,
        "by_skill": [{"skill": "billing", "available": 2}, {"skill": "cz", "available": 1}],
    }
    expert = await kraliki_client.get(
        url, headers=owner.headers, params={"skill": "billing", "min_level": 5}
    )
    assert expert.json() == {"available": 1, "by_skill": [{"skill": "billing", "available": 1}]}
