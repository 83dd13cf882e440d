"""Team scoping: a supervisor reaches the agents of the teams they lead (and themselves);
another team's agent does not exist for them (404). `agents:all` reaches everyone. Forcing
a state is audited."""

from __future__ import annotations

import uuid

import pytest
from agents_helpers import BASE, create_agent, create_team, person

from kernel import Principal, tenant_scope
from kernel.testing import audit_events, published_events
from plugins.agents import agent_scope


@pytest.fixture
async def floor(kraliki_client, kraliki_make_user, owner):
    """Two teams; Sue leads the first (with Ana and Sue herself), Bob is in the second."""
    sue = await person(kraliki_client, kraliki_make_user, owner, "sue", "supervisor")
    loop = {"kind": "loopback"}
    ana = await create_agent(kraliki_client, owner.headers, display_name="Ana", reach=loop)
    bob = await create_agent(kraliki_client, owner.headers, display_name="Bob", reach=loop)
    sue_agent = await create_agent(
        kraliki_client, owner.headers, display_name="Sue", user_id=str(sue.user_id)
    )
    mine = await create_team(
        kraliki_client, owner.headers, "Mine", agent_ids=[ana["id"]], supervisor_ids=[sue.user_id]
    )
    other = await create_team(kraliki_client, owner.headers, "Other", agent_ids=[bob["id"]])
    return sue, sue_agent, ana, bob, mine, other


async def test_a_supervisor_sees_only_their_teams_agents(kraliki_client, floor):
    sue, sue_agent, ana, bob, _mine, _other = floor
    listed = await kraliki_client.get(BASE, headers=sue.headers)
    assert [i["display_name"] for i in listed.json()["items"]] == ["Ana", "Sue"]
    assert (await kraliki_client.get(f"{BASE}/{ana['id']}", headers=sue.headers)).status_code == 200
    assert (
        await kraliki_client.get(f"{BASE}/{sue_agent['id']}", headers=sue.headers)
    ).status_code == 200
    for method, path, body in [
        ("GET", f"{BASE}/{bob['id']}", None),
        ("PATCH", f"{BASE}/{bob['id']}", {"display_name": "B"}),
        ("DELETE", f"{BASE}/{bob['id']}", None),
        ("PUT", f"{BASE}/{bob['id']}/state", {"state": "available", "reason": "x"}),
        ("GET", f"{BASE}/{bob['id']}/history", None),
        ("GET", f"{BASE}/{bob['id']}/calls", None),
    ]:
        response = await kraliki_client.request(method, path, headers=sue.headers, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["type"] == "/problems/agents-agent-not-found"


async def test_a_supervisor_forces_their_agents_state_audited(
    kraliki_client, kraliki_platform, owner, floor
):
    sue, _sue_agent, ana, _bob, _mine, _other = floor
    forced = await kraliki_client.put(
        f"{BASE}/{ana['id']}/state",
        headers=sue.headers,
        json={"state": "available", "reason": "shift starts"},
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["state"] == "available"
    no_reason = await kraliki_client.put(
        f"{BASE}/{ana['id']}/state", headers=sue.headers, json={"state": "offline"}
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["loc"] == ["body", "reason"]
    audits = await audit_events(kraliki_platform, owner.tenant_id, action="agents.state_forced")
    assert len(audits) == 1
    assert audits[0].target_id == ana["id"]
    assert audits[0].actor_id == str(sue.user_id)
    assert audits[0].details == {
        "from": "offline",
        "to": "available",
        "reason_code": None,
        "reason": "shift starts",
    }
    events = await published_events(kraliki_platform, owner.tenant_id)
    change = next(p for n, p in events if n == "agents.agent.state_changed")
    assert (change["cause"], change["actor"]) == ("supervisor", str(sue.user_id))


async def test_a_supervisor_creates_and_edits_agents_of_their_teams_only(kraliki_client, floor):
    sue, _sue_agent, ana, _bob, mine, other = floor
    loop = {"kind": "loopback"}
    outside = await kraliki_client.post(
        BASE, headers=sue.headers, json={"display_name": "New", "reach": loop}
    )
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["loc"] == ["body", "team_ids"]
    foreign = await kraliki_client.post(
        BASE,
        headers=sue.headers,
        json={"display_name": "New", "reach": loop, "team_ids": [other["id"]]},
    )
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["loc"] == ["body", "team_ids", 0]
    created = await create_agent(
        kraliki_client, sue.headers, display_name="New", reach=loop, team_ids=[mine["id"]]
    )
    assert created["team_ids"] == [mine["id"]]
    renamed = await kraliki_client.patch(
        f"{BASE}/{ana['id']}", headers=sue.headers, json={"display_name": "Ana B."}
    )
    assert renamed.status_code == 200


async def test_leaving_the_team_takes_the_agent_out_of_reach(kraliki_client, owner, floor):
    sue, _sue_agent, ana, _bob, mine, _other = floor
    emptied = await kraliki_client.put(
        f"{BASE}/teams/{mine['id']}/members", headers=owner.headers, json={"agent_ids": []}
    )
    assert emptied.status_code == 200
    assert (await kraliki_client.get(f"{BASE}/{ana['id']}", headers=sue.headers)).status_code == 404


async def test_agents_all_reaches_everyone_and_agent_scope_says_so(
    kraliki_client, kraliki_platform, kraliki_make_user, owner, floor
):
    sue, sue_agent, ana, bob, mine, _other = floor
    listed = await kraliki_client.get(BASE, headers=owner.headers)
    assert len(listed.json()["items"]) == 3
    admin = await person(kraliki_client, kraliki_make_user, owner, "adm", "admin")
    assert (
        await kraliki_client.get(f"{BASE}/{bob['id']}", headers=admin.headers)
    ).status_code == 200

    async def scope_of(principal):
        with tenant_scope(owner.tenant_id):
            async with kraliki_platform.database.session() as session:
                return await agent_scope(session, principal)

    sue_principal = Principal(subject=str(sue.user_id), kind="user", tenant_id=owner.tenant_id)
    scope = await scope_of(sue_principal)
    assert not scope.all
    assert {str(i) for i in scope.agent_ids} == {ana["id"], sue_agent["id"]}
    assert {str(i) for i in scope.team_ids} == {mine["id"]}
    everyone = await scope_of(
        Principal(
            subject="key",
            kind="api_key",
            tenant_id=owner.tenant_id,
            permissions=frozenset({"agents:all"}),
        )
    )
    assert everyone.all
    assert everyone.covers(uuid.UUID(bob["id"]))
