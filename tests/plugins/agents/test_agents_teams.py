"""Teams through the API: create, rename with If-Match, members and supervisors (audited),
delete; unknown ids are a 422 with `loc` and `message`; events for every change."""

from __future__ import annotations

import uuid

from agents_helpers import BASE, TEAMS, create_agent, create_team, person

from kernel.testing import audit_events, published_events


async def test_a_team_gets_members_and_supervisors(
    kraliki_client, kraliki_platform, kraliki_make_user, owner
):
    sue = await person(kraliki_client, kraliki_make_user, owner, "sue", "supervisor")
    ana = await create_agent(kraliki_client, owner.headers, reach={"kind": "loopback"})
    created = await kraliki_client.post(
        TEAMS, headers=owner.headers, json={"name": "Billing", "description": "Invoices"}
    )
    assert created.status_code == 201, created.text
    team = created.json()
    assert created.headers["Location"] == f"{TEAMS}/{team['id']}"
    assert (team["agent_ids"], team["supervisor_ids"], team["version"]) == ([], [], 1)
    url = f"{TEAMS}/{team['id']}"
    members = await kraliki_client.put(
        f"{url}/members",
        headers={**owner.headers, "If-Match": '"1"'},
        json={"agent_ids": [ana["id"], ana["id"]]},
    )
    assert members.status_code == 200, members.text
    assert (members.json()["agent_ids"], members.json()["version"]) == ([ana["id"]], 2)
    supervisors = await kraliki_client.put(
        f"{url}/supervisors", headers=owner.headers, json={"user_ids": [str(sue.user_id)]}
    )
    assert supervisors.json()["supervisor_ids"] == [str(sue.user_id)]
    cleared = await kraliki_client.put(
        f"{url}/supervisors", headers=owner.headers, json={"user_ids": []}
    )
    assert cleared.json()["supervisor_ids"] == []
    audits = await audit_events(
        kraliki_platform, owner.tenant_id, action="agents.team_supervisors_changed"
    )
    assert [a.details for a in audits] == [
        {"added": [str(sue.user_id)], "removed": []},
        {"added": [], "removed": [str(sue.user_id)]},
    ]
    agent = await kraliki_client.get(f"{BASE}/{ana['id']}", headers=owner.headers)
    assert agent.json()["team_ids"] == [team["id"]]
    listed = await kraliki_client.get(TEAMS, headers=sue.headers)
    assert [t["name"] for t in listed.json()["items"]] == ["Billing"]
    events = await published_events(kraliki_platform, owner.tenant_id)
    team_events = [n for n, p in events if n.startswith("agents.team.")]
    assert team_events == ["agents.team.created"] + ["agents.team.updated"] * 3


async def test_unknown_ids_are_listed_and_nothing_changes(
    kraliki_client, kraliki_make_owner, owner
):
    team = await create_team(kraliki_client, owner.headers, "T")
    other = await kraliki_make_owner("globex")
    ghost = str(uuid.uuid4())
    ana = await create_agent(kraliki_client, owner.headers, reach={"kind": "loopback"})
    bad = await kraliki_client.put(
        f"{TEAMS}/{team['id']}/members",
        headers=owner.headers,
        json={"agent_ids": [ana["id"], ghost]},
    )
    assert bad.status_code == 422
    assert bad.json()["type"] == "/problems/agents-invalid-team"
    assert [(e["loc"], bool(e["message"])) for e in bad.json()["errors"]] == [
        (["body", "agent_ids", 1], True)
    ]
    others_owner = await kraliki_client.get("/api/v1/auth/me", headers=other.headers)
    foreign_user = others_owner.json()["subject"]  # a user of another organization
    sup = await kraliki_client.put(
        f"{TEAMS}/{team['id']}/supervisors",
        headers=owner.headers,
        json={"user_ids": [foreign_user]},
    )
    assert sup.status_code == 422
    assert sup.json()["errors"][0]["loc"] == ["body", "user_ids", 0]
    unchanged = await kraliki_client.get(f"{TEAMS}/{team['id']}", headers=owner.headers)
    assert (unchanged.json()["agent_ids"], unchanged.json()["version"]) == ([], 1)


async def test_rename_delete_and_stale_versions(kraliki_client, kraliki_platform, owner):
    a = await create_team(kraliki_client, owner.headers, "A")
    await create_team(kraliki_client, owner.headers, "B")
    url = f"{TEAMS}/{a['id']}"
    taken = await kraliki_client.patch(url, headers=owner.headers, json={"name": "B"})
    assert taken.status_code == 409
    assert taken.json()["type"] == "/problems/agents-team-exists"
    dup = await kraliki_client.post(TEAMS, headers=owner.headers, json={"name": "A"})
    assert dup.status_code == 409
    renamed = await kraliki_client.patch(
        url, headers={**owner.headers, "If-Match": '"1"'}, json={"name": "Alpha"}
    )
    assert (renamed.status_code, renamed.headers["ETag"]) == (200, '"2"')
    stale = await kraliki_client.delete(url, headers={**owner.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    empty = await kraliki_client.post(TEAMS, headers=owner.headers, json={"name": ""})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["loc"] == ["body", "name"]
    gone = await kraliki_client.delete(url, headers=owner.headers)
    assert gone.status_code == 204
    assert (await kraliki_client.get(url, headers=owner.headers)).status_code == 404
    assert await audit_events(kraliki_platform, owner.tenant_id, action="agents.team_deleted")
    events = await published_events(kraliki_platform, owner.tenant_id)
    assert ("agents.team.deleted", {"team_id": a["id"]}) in events


async def test_only_admins_change_teams(kraliki_client, kraliki_make_user, owner):
    sue = await person(kraliki_client, kraliki_make_user, owner, "sue", "supervisor")
    refused = await kraliki_client.post(TEAMS, headers=sue.headers, json={"name": "Mine"})
    assert refused.status_code == 403
