"""Supervision sessions through the API, without calls: who may supervise whom, with which
mode, and what is refused before any phone rings."""

from __future__ import annotations

import uuid

import httpx
from supervisor_sessions_helpers import ok

from kernel.testing import TenantOwner


async def agent(client: httpx.AsyncClient, headers: dict[str, str], name: str = "Ann") -> str:
    body = {"display_name": name, "reach": {"kind": "loopback"}}
    return str(
        (await ok(await client.post("/api/v1/agents", json=body, headers=headers), 201))["id"]
    )


async def start(
    client: httpx.AsyncClient, headers: dict[str, str], agent_id: str, mode: str = "monitor"
) -> httpx.Response:
    return await client.post(
        "/api/v1/supervisor/sessions", json={"agent_id": agent_id, "mode": mode}, headers=headers
    )


def problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"].endswith(f"/{slug}"), body
    return body


async def test_an_agent_not_on_a_call_cannot_be_supervised(
    client: httpx.AsyncClient, owner: TenantOwner
) -> None:
    ann = await agent(client, owner.headers)
    body = problem(await start(client, owner.headers, ann), 409, "supervisor-agent-not-on-call")
    assert body["state"] == "offline"
    listed = await ok(await client.get("/api/v1/supervisor/sessions", headers=owner.headers))
    assert listed["items"] == []


async def test_a_supervisor_supervises_only_the_teams_they_lead(
    client: httpx.AsyncClient, owner: TenantOwner, as_role
) -> None:
    ann = await agent(client, owner.headers)
    lead = await as_role("supervisor")
    problem(await start(client, lead, ann), 404, "supervisor-agent-not-found")
    me = await ok(await client.get("/api/v1/auth/me", headers=lead))
    team = await ok(
        await client.post("/api/v1/agents/teams", json={"name": "Floor"}, headers=owner.headers),
        201,
    )
    await ok(
        await client.put(
            f"/api/v1/agents/teams/{team['id']}/members",
            json={"agent_ids": [ann]},
            headers=owner.headers,
        )
    )
    await ok(
        await client.put(
            f"/api/v1/agents/teams/{team['id']}/supervisors",
            json={"user_ids": [me["subject"]]},
            headers=owner.headers,
        )
    )
    # in scope now: refused only because Ann has no call
    problem(await start(client, lead, ann, "whisper"), 409, "supervisor-agent-not-on-call")


async def test_roles_without_supervision_are_refused(
    client: httpx.AsyncClient, owner: TenantOwner, as_role
) -> None:
    ann = await agent(client, owner.headers)
    for role in ("agent", "integrator"):
        headers = await as_role(role)
        response = await start(client, headers, ann)
        assert response.status_code == 403, response.text
        listed = await client.get("/api/v1/supervisor/sessions", headers=headers)
        assert listed.status_code == 403


async def test_unknown_and_foreign_agents_are_not_found(
    client: httpx.AsyncClient, owner: TenantOwner, kraliki_make_owner
) -> None:
    other: TenantOwner = await kraliki_make_owner("globex")
    theirs = await agent(client, other.headers, "Bob")
    problem(await start(client, owner.headers, theirs), 404, "supervisor-agent-not-found")
    problem(
        await start(client, owner.headers, str(uuid.uuid4())), 404, "supervisor-agent-not-found"
    )
    missing = await client.get(f"/api/v1/supervisor/sessions/{uuid.uuid4()}", headers=owner.headers)
    problem(missing, 404, "supervisor-session-not-found")


async def test_a_mode_must_be_one_of_three(client: httpx.AsyncClient, owner: TenantOwner) -> None:
    ann = await agent(client, owner.headers)
    response = await start(client, owner.headers, ann, "shout")
    assert response.status_code == 422, response.text
    assert any(error["loc"][-1] == "mode" for error in response.json()["errors"])


async def test_settings_say_whether_agents_are_told(
    client: httpx.AsyncClient, owner: TenantOwner, as_role
) -> None:
    url = "/api/v1/supervisor/settings"
    assert (await ok(await client.get(url, headers=owner.headers))) == {"announce_to_agent": False}
    changed = await ok(
        await client.put(url, json={"announce_to_agent": True}, headers=owner.headers)
    )
    assert changed == {"announce_to_agent": True}
    lead = await as_role("supervisor")
    assert (await ok(await client.get(url, headers=lead))) == {"announce_to_agent": True}
    refused = await client.put(url, json={"announce_to_agent": False}, headers=lead)
    assert refused.status_code == 403
