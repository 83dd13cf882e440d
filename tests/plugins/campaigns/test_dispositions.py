"""Dispositions through HTTP (``PUT /campaigns/{id}/attempts/{attempt_id}/disposition``): what
an answered call came to, one of the campaign's dispositions, recorded by the agent it was
connected to (or a supervisor or administrator, for any call).

The calls connected to agents are written directly (see ``reports_helpers``: the agent
modes' connection is the lead's work), each with the real check's decision."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from campaigns_helpers import BASE
from reports_helpers import NOON_LA, decision, ok, progressive, seconds, write_attempts

from kernel.testing import DEFAULT_TEST_PASSWORD, login, published_events


@pytest.fixture(autouse=True)
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_BACKGROUND_WORKERS", "false")


async def agent_user(client, owner, kraliki_make_user, name: str) -> tuple[dict, str, str]:
    """A user with the agent role, logged in, and their agent profile: (headers, user id,
    agent id)."""
    email = f"{name}-{uuid.uuid4().hex[:6]}@{owner.slug}.example.com"
    user_id = await kraliki_make_user(owner.tenant_id, email, roles=["agent"])
    agent = await ok(
        await client.post(
            "/api/v1/agents",
            headers=owner.headers,
            json={
                "user_id": str(user_id),
                "display_name": name,
                "reach": {"kind": "phone", "address": "+14155550123"},
            },
        ),
        201,
    )
    headers = await login(client, email, DEFAULT_TEST_PASSWORD, tenant=owner.slug)
    return headers, str(user_id), str(agent["id"])


async def calls(client, world, owner, platform, ana_agent: str, ben_agent: str):
    """A progressive campaign with a call connected to each agent, one nobody answered, one
    answered by a machine (no agent) and a decision that was blocked."""
    campaign_id = await progressive(client, world)
    ada, ben, cleo = world.contact_ids
    dialled = await decision(client, world, campaign_id, ada, NOON_LA)
    other = await decision(client, world, campaign_id, ben, NOON_LA + timedelta(minutes=1))
    missed = await decision(client, world, campaign_id, cleo, NOON_LA + timedelta(minutes=2))
    closed = await decision(client, world, campaign_id, cleo, NOON_LA + timedelta(hours=6))
    assert not closed["allowed"]

    def connected(record, agent_id: str):
        at = datetime.fromisoformat(record["at"])
        return {
            "decision": record,
            "placed_at": at,
            "answered_at": at + seconds(8),
            "answered_by": "human",
            "agent_id": uuid.UUID(agent_id),
            "connected_at": at + seconds(8.5),
            "ended_at": at + seconds(90),
            "outcome": "human",
        }

    ids = await write_attempts(
        platform,
        owner.tenant_id,
        campaign_id,
        [
            connected(dialled, ana_agent),
            connected(other, ben_agent),
            {"decision": missed, "outcome": "no_answer", "ended_at": NOON_LA},
            {"decision": missed, "outcome": "machine", "answered_by": "machine"},
            {"decision": closed},
        ],
    )
    return campaign_id, ids


def url(campaign_id: str, attempt_id: str) -> str:
    return f"{BASE}/{campaign_id}/attempts/{attempt_id}/disposition"


async def test_an_agent_disposes_their_own_calls(client, world, owner, platform, kraliki_make_user):
    ana, ana_user, ana_agent = await agent_user(client, owner, kraliki_make_user, "Ana")
    _, _, ben_agent = await agent_user(client, owner, kraliki_make_user, "Ben")
    campaign_id, (hers, his, _, machine, _) = await calls(
        client, world, owner, platform, ana_agent, ben_agent
    )
    done = await ok(
        await client.put(
            url(campaign_id, hers),
            headers=ana,
            json={"disposition": "sale", "note": "Renewed for two years."},
        )
    )
    assert (done["id"], done["disposition"], done["note"]) == (
        hers,
        "sale",
        "Renewed for two years.",
    )
    assert done["disposed_by"] == ana_user
    assert done["disposed_at"] is not None
    listed = await ok(
        await client.get(
            f"{BASE}/{campaign_id}/attempts",
            headers=world.headers,
            params={"contact_id": world.contact_ids[0]},
        )
    )
    assert [(a["disposition"], a["note"]) for a in listed["items"]] == [
        ("sale", "Renewed for two years.")
    ]
    # a correction replaces it (the note too)
    again = await ok(
        await client.put(url(campaign_id, hers), headers=ana, json={"disposition": "callback"})
    )
    assert (again["disposition"], again["note"]) == ("callback", None)
    events = [
        p
        for n, p in await published_events(platform, owner.tenant_id)
        if n == "campaigns.attempt.disposed"
    ]
    assert [(e["disposition"], e["previous_disposition"], e["has_note"]) for e in events] == [
        ("sale", None, True),
        ("callback", "sale", False),
    ]
    assert all(e["agent_id"] == ana_agent and e["by"] == ana_user for e in events)
    assert all("note" not in e for e in events)

    # someone else's call
    refused = await client.put(url(campaign_id, his), headers=ana, json={"disposition": "sale"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/campaigns-attempt-not-yours")
    # a machine's call was not connected to her either
    refused = await client.put(
        url(campaign_id, machine), headers=ana, json={"disposition": "no_sale"}
    )
    assert refused.status_code == 403, refused.text


async def test_a_supervisor_disposes_any_answered_call(
    client, world, owner, platform, kraliki_make_user, as_role
):
    _, _, ana_agent = await agent_user(client, owner, kraliki_make_user, "Ana")
    _, _, ben_agent = await agent_user(client, owner, kraliki_make_user, "Ben")
    campaign_id, (_, his, missed, machine, blocked) = await calls(
        client, world, owner, platform, ana_agent, ben_agent
    )
    supervisor = await as_role("supervisor")
    for attempt_id in (his, machine):
        done = await client.put(
            url(campaign_id, attempt_id), headers=supervisor, json={"disposition": "no_sale"}
        )
        assert done.status_code == 200, done.text
    for attempt_id in (missed, blocked):
        refused = await client.put(
            url(campaign_id, attempt_id), headers=supervisor, json={"disposition": "no_sale"}
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/campaigns-attempt-not-answered")
    unknown = await client.put(
        url(campaign_id, his), headers=supervisor, json={"disposition": "maybe"}
    )
    assert unknown.status_code == 422, unknown.text
    body = unknown.json()
    assert body["type"].endswith("/campaigns-disposition-unknown")
    [error] = body["errors"]
    assert error["loc"] == ["body", "disposition"]
    assert "sale, no_sale, callback" in error["message"]
    malformed = await client.put(
        url(campaign_id, his), headers=supervisor, json={"disposition": "Not A Slug"}
    )
    assert malformed.status_code == 422, malformed.text
    assert malformed.json()["errors"][0]["loc"] == ["body", "disposition"]
    missing = await client.put(
        url(campaign_id, str(uuid.uuid4())), headers=supervisor, json={"disposition": "sale"}
    )
    assert missing.status_code == 404, missing.text
    assert missing.json()["type"].endswith("/campaigns-attempt-not-found")
    # an attempt of another campaign is not this one's
    other = await progressive(client, world, name="Other")
    elsewhere = await client.put(url(other, his), headers=supervisor, json={"disposition": "sale"})
    assert elsewhere.status_code == 404, elsewhere.text
    integrator = await as_role("integrator")
    refused = await client.put(
        url(campaign_id, his), headers=integrator, json={"disposition": "sale"}
    )
    assert refused.status_code == 403, refused.text


async def test_another_organization_cannot_dispose(
    client, world, owner, platform, kraliki_make_user, kraliki_make_owner
):
    _, _, ana_agent = await agent_user(client, owner, kraliki_make_user, "Ana")
    campaign_id, (hers, *_) = await calls(client, world, owner, platform, ana_agent, ana_agent)
    other = await kraliki_make_owner("globex")
    response = await client.put(
        url(campaign_id, hers), headers=other.headers, json={"disposition": "sale"}
    )
    assert response.status_code == 404, response.text
    assert response.json()["type"].endswith("/campaigns-campaign-not-found")
    listed = await ok(await client.get(f"{BASE}/{campaign_id}/attempts", headers=world.headers))
    assert all(a["disposition"] is None for a in listed["items"])
