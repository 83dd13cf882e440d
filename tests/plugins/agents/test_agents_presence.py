"""Presence through the API: an agent changes their own state, the state machine refuses
what it does not allow (409 naming `from` and `to`), every change is published with the
time spent in the previous state and kept in the agent's history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from agents_helpers import BASE, add_call, create_agent, person, route
from sqlalchemy import update

from kernel import tenant_scope, utcnow
from kernel.testing import published_events
from plugins.agents import Agent, AgentState


@pytest.fixture
async def ana(kraliki_client, kraliki_make_user, owner):
    """An agent user with a profile; (person, agent)."""
    user = await person(kraliki_client, kraliki_make_user, owner, "ana", "agent")
    agent = await create_agent(kraliki_client, owner.headers, user_id=str(user.user_id))
    await kraliki_client.post(
        f"{BASE}/reason-codes", headers=owner.headers, json={"code": "lunch", "label": "Lunch"}
    )
    return user, agent


async def put_state(client, headers, state, reason_code=None):
    body = {"state": state} | ({"reason_code": reason_code} if reason_code else {})
    return await client.put(f"{BASE}/me/state", headers=headers, json=body)


async def test_an_agent_changes_their_own_state(kraliki_client, kraliki_platform, owner, ana):
    user, agent = ana
    me = await kraliki_client.get(f"{BASE}/me", headers=user.headers)
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["state"]) == (agent["id"], "offline")
    # An hour offline, so that the change reports the time in the previous state.
    with tenant_scope(owner.tenant_id):
        async with kraliki_platform.database.session() as session:
            await session.execute(update(Agent).values(state_since=utcnow() - timedelta(hours=1)))
            await session.commit()
    ready = await put_state(kraliki_client, user.headers, "available")
    assert ready.status_code == 200, ready.text
    assert (ready.json()["state"], ready.json()["state_version"]) == ("available", 1)
    assert ready.json()["idle_since"] is not None
    away = await put_state(kraliki_client, user.headers, "away", "lunch")
    assert (away.json()["state"], away.json()["reason_code"]) == ("away", "lunch")
    other_code = await put_state(kraliki_client, user.headers, "away", "missed")
    assert other_code.status_code == 200, "away to away with another code"
    off = await put_state(kraliki_client, user.headers, "offline")
    assert (off.json()["state"], off.json()["reason_code"]) == ("offline", None)
    events = [
        p
        for n, p in await published_events(kraliki_platform, owner.tenant_id)
        if n == "agents.agent.state_changed"
    ]
    assert [(e["from_state"], e["to_state"], e["cause"]) for e in events] == [
        ("offline", "available", "agent"),
        ("available", "away", "agent"),
        ("away", "away", "agent"),
        ("away", "offline", "agent"),
    ]
    assert 3590 < events[0]["seconds_in_previous"] < 3700
    assert events[1]["reason_code"] == "lunch"
    assert events[0]["user_id"] == str(user.user_id)
    assert [e["state_version"] for e in events] == [1, 2, 3, 4]
    history = await kraliki_client.get(f"{BASE}/{agent['id']}/history", headers=user.headers)
    assert history.status_code == 200
    items = history.json()["items"]
    assert [(i["from_state"], i["to_state"]) for i in items] == [
        ("away", "offline"),
        ("away", "away"),
        ("available", "away"),
        ("offline", "available"),
    ]
    assert items[-1]["seconds_in_previous"] > 3590
    page = await kraliki_client.get(
        f"{BASE}/{agent['id']}/history", headers=user.headers, params={"limit": 3}
    )
    rest = await kraliki_client.get(
        f"{BASE}/{agent['id']}/history",
        headers=user.headers,
        params={"limit": 3, "cursor": page.json()["next_cursor"]},
    )
    assert [i["to_state"] for i in rest.json()["items"]] == ["available"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"state": "away"}, "reason codes"),
        ({"state": "away", "reason_code": "gym"}, "'gym'"),
        ({"state": "offline"}, "offline to offline"),
    ],
)
async def test_refused_changes_name_from_and_to(kraliki_client, ana, body, why):
    user, _agent = ana
    response = await kraliki_client.put(f"{BASE}/me/state", headers=user.headers, json=body)
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "/problems/agents-transition-refused"
    assert (problem["from"], problem["to"]) == ("offline", body["state"])
    assert why in problem["detail"]


async def test_routing_states_are_not_the_agents_to_leave(
    kraliki_client, kraliki_platform, owner, ana
):
    user, agent = ana
    await put_state(kraliki_client, user.headers, "available")
    call_id = await add_call(kraliki_platform, owner.tenant_id)
    await route(
        kraliki_platform,
        owner.tenant_id,
        agent["id"],
        AgentState.RESERVED,
        AgentState.ON_CALL,
        call_id=call_id,
    )
    for state in ("available", "offline", "away"):
        refused = await put_state(kraliki_client, user.headers, state, "lunch")
        assert refused.status_code == 409
        assert (refused.json()["from"], refused.json()["to"]) == ("on_call", state)
    forced = await kraliki_client.put(
        f"{BASE}/{agent['id']}/state",
        headers=owner.headers,
        json={"state": "offline", "reason": "end of shift"},
    )
    assert forced.status_code == 409, "not even a supervisor ends a call this way"
    assert (forced.json()["from"], forced.json()["to"]) == ("on_call", "offline")
    me = await kraliki_client.get(f"{BASE}/me", headers=user.headers)
    assert (me.json()["state"], me.json()["current_call_id"]) == ("on_call", str(call_id))


async def test_declining_an_offer_is_going_away(kraliki_client, kraliki_platform, owner, ana):
    user, agent = ana
    await put_state(kraliki_client, user.headers, "available")
    call_id = await add_call(kraliki_platform, owner.tenant_id)
    await route(
        kraliki_platform, owner.tenant_id, agent["id"], AgentState.RESERVED, call_id=call_id
    )
    back = await put_state(kraliki_client, user.headers, "available")
    assert back.status_code == 409
    declined = await put_state(kraliki_client, user.headers, "away", "lunch")
    assert declined.status_code == 200
    assert declined.json()["current_call_id"] is None


async def test_an_agent_changes_only_their_own_state(kraliki_client, kraliki_make_user, owner, ana):
    user, agent = ana
    bot = await create_agent(
        kraliki_client, owner.headers, display_name="Bot", reach={"kind": "loopback"}
    )
    forced = await kraliki_client.put(
        f"{BASE}/{bot['id']}/state",
        headers=user.headers,
        json={"state": "available", "reason": "x"},
    )
    assert forced.status_code == 403
    own = await kraliki_client.put(
        f"{BASE}/{agent['id']}/state",
        headers=user.headers,
        json={"state": "available", "reason": "x"},
    )
    assert own.status_code == 403, "forcing needs agents.state:force, even on oneself"
    assert (
        await kraliki_client.get(f"{BASE}/{bot['id']}", headers=user.headers)
    ).status_code == 404
    listed = await kraliki_client.get(BASE, headers=user.headers)
    assert [i["id"] for i in listed.json()["items"]] == [agent["id"]]
    integrator = await person(kraliki_client, kraliki_make_user, owner, "crm", "integrator")
    no_state = await put_state(kraliki_client, integrator.headers, "available")
    assert no_state.status_code == 403
    without_profile = await person(kraliki_client, kraliki_make_user, owner, "sue", "supervisor")
    missing = await put_state(kraliki_client, without_profile.headers, "available")
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/agents-no-profile"


async def test_an_inactive_agent_stays_offline(kraliki_client, owner, ana):
    user, agent = ana
    await kraliki_client.patch(
        f"{BASE}/{agent['id']}", headers=owner.headers, json={"active": False}
    )
    refused = await put_state(kraliki_client, user.headers, "available")
    assert refused.status_code == 409
    assert "inactive" in refused.json()["detail"]


async def test_a_deactivated_reason_code_cannot_be_chosen(kraliki_client, owner, ana):
    user, _agent = ana
    codes = await kraliki_client.get(f"{BASE}/reason-codes", headers=user.headers)
    lunch = next(c for c in codes.json() if c["code"] == "lunch")
    await kraliki_client.patch(
        f"{BASE}/reason-codes/{lunch['id']}", headers=owner.headers, json={"active": False}
    )
    refused = await put_state(kraliki_client, user.headers, "away", "lunch")
    assert refused.status_code == 409
