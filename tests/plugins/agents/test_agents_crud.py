"""Agent profiles through the API: create, read, list with filters, change with If-Match,
deactivate, delete; every invalid value in one 422 with `loc` and `message`."""

from __future__ import annotations

import uuid

import pytest
from agents_helpers import BASE, add_call, create_agent, create_team, person, route

from kernel.testing import audit_events, published_events
from plugins.agents import AgentState


@pytest.fixture
async def ana(kraliki_client, kraliki_make_user, owner):
    return await person(kraliki_client, kraliki_make_user, owner, "ana", "agent")


async def test_an_agent_is_created_offline_with_a_normalised_reach(
    kraliki_client, kraliki_platform, owner, ana
):
    team = await create_team(kraliki_client, owner.headers, "Billing")
    response = await kraliki_client.post(
        BASE,
        headers=owner.headers,
        json={
            "user_id": str(ana.user_id),
            "display_name": "Ana Nová",
            "reach": {"kind": "phone", "address": "+420 601 123 456"},
            "auto_accept": False,
            "skills": [{"skill": "billing", "level": 7}, {"skill": "cz"}],
            "languages": ["cs", "en-US"],
            "wrap_up_seconds": 15,
            "team_ids": [team["id"]],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{BASE}/{body['id']}"
    assert body["reach"] == {"kind": "phone", "address": "+420601123456", "loopback_script": None}
    assert body["skills"] == [{"skill": "billing", "level": 7}, {"skill": "cz", "level": 5}]
    assert (body["state"], body["active"], body["team_ids"]) == ("offline", True, [team["id"]])
    assert (body["auto_accept"], body["max_concurrent_calls"]) == (False, 1)
    events = await published_events(kraliki_platform, owner.tenant_id)
    assert ("agents.agent.created", {"agent_id": body["id"], "profile_version": 1}) in events
    fetched = await kraliki_client.get(f"{BASE}/{body['id']}", headers=owner.headers)
    assert fetched.json() == body


async def test_a_simulated_agent_has_no_user_and_only_a_loopback_reach(kraliki_client, owner):
    script = [{"answer_after": 2}, {"hangup_after": 30}]
    agent = await create_agent(
        kraliki_client,
        owner.headers,
        display_name="Bot",
        reach={"kind": "loopback", "loopback_script": script},
    )
    assert agent["user_id"] is None
    assert agent["reach"] == {"kind": "loopback", "address": "", "loopback_script": script}
    refused = await kraliki_client.post(
        BASE,
        headers=owner.headers,
        json={"display_name": "Nobody", "reach": {"kind": "sip", "address": "sip:x@pbx.test"}},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "user_id"]


async def test_every_invalid_value_is_listed_with_loc_and_message(kraliki_client, owner):
    response = await kraliki_client.post(
        BASE,
        headers=owner.headers,
        json={
            "user_id": str(uuid.uuid4()),
            "display_name": "X",
            "reach": {"kind": "phone", "address": "12", "loopback_script": ["answer"]},
            "skills": [{"skill": "a"}, {"skill": "a"}],
            "languages": ["cs", "not a tag"],
            "max_concurrent_calls": 2,
            "team_ids": [str(uuid.uuid4())],
        },
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/agents-invalid-agent"
    locs = {tuple(e["loc"]) for e in problem["errors"]}
    assert locs == {
        ("body", "reach", "address"),
        ("body", "reach", "loopback_script"),
        ("body", "skills", 1, "skill"),
        ("body", "languages", 1),
        ("body", "max_concurrent_calls"),
        ("body", "user_id"),
        ("body", "team_ids", 0),
    }
    assert all(e["message"] for e in problem["errors"])
    why = next(e for e in problem["errors"] if e["loc"] == ["body", "max_concurrent_calls"])
    assert "one call at a time" in why["message"]


async def test_schema_errors_carry_loc_and_message_too(kraliki_client, owner):
    response = await kraliki_client.post(
        BASE,
        headers=owner.headers,
        json={
            "display_name": "",
            "reach": {"kind": "fax"},
            "skills": [{"skill": "x", "level": 11}],
        },
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {tuple(e["loc"][:2]) for e in errors} >= {("body", "display_name"), ("body", "reach")}
    assert all(e["message"] for e in errors)


async def test_a_sip_reach_needs_a_sip_uri(kraliki_client, owner, ana):
    bad = await kraliki_client.post(
        BASE,
        headers=owner.headers,
        json={
            "user_id": str(ana.user_id),
            "display_name": "Ana",
            "reach": {"kind": "sip", "address": "ana@pbx"},
        },
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "reach", "address"]
    good = await create_agent(
        kraliki_client,
        owner.headers,
        user_id=str(ana.user_id),
        reach={"kind": "sip", "address": "sip:ana@pbx.example.com"},
    )
    assert good["reach"]["address"] == "sip:ana@pbx.example.com"


async def test_a_user_works_as_one_agent_and_must_be_of_the_organization(
    kraliki_client, kraliki_make_owner, owner, ana
):
    first = await create_agent(kraliki_client, owner.headers, user_id=str(ana.user_id))
    again = await kraliki_client.post(
        BASE,
        headers=owner.headers,
        json={
            "user_id": str(ana.user_id),
            "display_name": "Ana 2",
            "reach": {"kind": "phone", "address": "+420601123457"},
        },
    )
    assert again.status_code == 409
    assert again.json()["agent_id"] == first["id"]
    other = await kraliki_make_owner("globex")
    foreign = await kraliki_client.post(
        BASE,
        headers=other.headers,
        json={
            "user_id": str(ana.user_id),
            "display_name": "Ana",
            "reach": {"kind": "phone", "address": "+420601123456"},
        },
    )
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["loc"] == ["body", "user_id"]


async def test_if_match_refuses_a_change_based_on_an_old_version(
    kraliki_client, kraliki_platform, owner
):
    agent = await create_agent(
        kraliki_client, owner.headers, user_id=None, reach={"kind": "loopback"}
    )
    url = f"{BASE}/{agent['id']}"
    first = await kraliki_client.patch(
        url,
        headers={**owner.headers, "If-Match": '"1"'},
        json={"display_name": "Renamed", "skills": [{"skill": "sales", "level": 3}]},
    )
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"2"'
    assert first.json()["skills"] == [{"skill": "sales", "level": 3}]
    stale = await kraliki_client.patch(
        url, headers={**owner.headers, "If-Match": '"1"'}, json={"display_name": "Other"}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/agents-agent-changed"
    assert stale.json()["current_version"] == 2
    same = await kraliki_client.patch(url, headers=owner.headers, json={"display_name": "Renamed"})
    assert same.headers["ETag"] == '"2"', "a change that changes nothing keeps the version"
    bad = await kraliki_client.patch(url, headers=owner.headers, json={"max_concurrent_calls": 3})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "max_concurrent_calls"]
    events = await published_events(kraliki_platform, owner.tenant_id)
    assert ("agents.agent.updated", {"agent_id": agent["id"], "profile_version": 2}) in events


async def test_the_list_filters_by_state_skill_team_and_name(kraliki_client, owner):
    loop = {"kind": "loopback"}
    a = await create_agent(
        kraliki_client,
        owner.headers,
        display_name="Alice",
        reach=loop,
        skills=[{"skill": "billing", "level": 8}],
    )
    b = await create_agent(
        kraliki_client,
        owner.headers,
        display_name="Bob",
        reach=loop,
        skills=[{"skill": "billing", "level": 3}],
    )
    c = await create_agent(kraliki_client, owner.headers, display_name="Carol", reach=loop)
    team = await create_team(kraliki_client, owner.headers, "T", agent_ids=[c["id"]])
    forced = await kraliki_client.put(
        f"{BASE}/{b['id']}/state",
        headers=owner.headers,
        json={"state": "available", "reason": "test"},
    )
    assert forced.status_code == 200, forced.text

    async def names(**params):
        response = await kraliki_client.get(BASE, headers=owner.headers, params=params)
        assert response.status_code == 200, response.text
        return [item["display_name"] for item in response.json()["items"]]

    assert await names() == ["Alice", "Bob", "Carol"]
    assert await names(state="available") == ["Bob"]
    assert await names(state=["offline", "available"]) == ["Alice", "Bob", "Carol"]
    assert await names(skill="billing") == ["Alice", "Bob"]
    assert await names(skill="billing", min_level=5) == ["Alice"]
    assert await names(team_id=team["id"]) == ["Carol"]
    assert await names(q="ob") == ["Bob"]
    page = await kraliki_client.get(BASE, headers=owner.headers, params={"limit": 2})
    assert [i["id"] for i in page.json()["items"]] == [a["id"], b["id"]]
    rest = await kraliki_client.get(
        BASE, headers=owner.headers, params={"limit": 2, "cursor": page.json()["next_cursor"]}
    )
    assert [i["id"] for i in rest.json()["items"]] == [c["id"]]


async def test_deactivating_puts_the_agent_offline(kraliki_client, kraliki_platform, owner):
    agent = await create_agent(kraliki_client, owner.headers, reach={"kind": "loopback"})
    url = f"{BASE}/{agent['id']}"
    await kraliki_client.put(
        f"{url}/state", headers=owner.headers, json={"state": "available", "reason": "start"}
    )
    off = await kraliki_client.patch(url, headers=owner.headers, json={"active": False})
    assert off.status_code == 200, off.text
    assert (off.json()["active"], off.json()["state"]) == (False, "offline")
    events = await published_events(kraliki_platform, owner.tenant_id)
    changes = [p for n, p in events if n == "agents.agent.state_changed"]
    assert (changes[-1]["from_state"], changes[-1]["to_state"], changes[-1]["cause"]) == (
        "available",
        "offline",
        "system",
    )
    again = await kraliki_client.put(
        f"{url}/state", headers=owner.headers, json={"state": "available", "reason": "again"}
    )
    assert again.status_code == 409
    assert (again.json()["from"], again.json()["to"]) == ("offline", "available")


async def test_deleting_an_agent_is_audited_and_refused_during_a_call(
    kraliki_client, kraliki_platform, owner
):
    agent = await create_agent(kraliki_client, owner.headers, reach={"kind": "loopback"})
    busy = await create_agent(
        kraliki_client, owner.headers, display_name="Busy", reach={"kind": "loopback"}
    )
    await kraliki_client.put(
        f"{BASE}/{busy['id']}/state",
        headers=owner.headers,
        json={"state": "available", "reason": "start"},
    )
    call_id = await add_call(kraliki_platform, owner.tenant_id)
    await route(kraliki_platform, owner.tenant_id, busy["id"], AgentState.RESERVED, call_id=call_id)
    refused = await kraliki_client.delete(f"{BASE}/{busy['id']}", headers=owner.headers)
    assert refused.status_code == 409
    assert refused.json()["state"] == "reserved"
    stale = await kraliki_client.delete(
        f"{BASE}/{agent['id']}", headers={**owner.headers, "If-Match": '"7"'}
    )
    assert stale.status_code == 412
    gone = await kraliki_client.delete(
        f"{BASE}/{agent['id']}", headers={**owner.headers, "If-Match": '"1"'}
    )
    assert gone.status_code == 204
    assert (
        await kraliki_client.get(f"{BASE}/{agent['id']}", headers=owner.headers)
    ).status_code == 404
    audits = await audit_events(kraliki_platform, owner.tenant_id, action="agents.agent_deleted")
    assert [a.target_id for a in audits] == [agent["id"]]
    events = await published_events(kraliki_platform, owner.tenant_id)
    assert ("agents.agent.deleted", {"agent_id": agent["id"], "profile_version": 1}) in events
