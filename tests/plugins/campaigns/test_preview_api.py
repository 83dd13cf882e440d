"""Preview mode through HTTP, as the agent page uses it: the next contact with its history,
consent, local time and decision; call (the agent's leg placed with the campaigns handler,
``place_call`` replaced by a recorder: the loopback end to end is
``test_preview_loopback.py``), skip, callback; who may work which campaign; contacts the
check refuses are recorded and never shown; (PostgreSQL) agents asking at once never get
one contact."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from campaigns_helpers import BASE, NUMBER
from preview_helpers import (
    agent_profile,
    attempts,
    contact,
    make_available,
    night_zone,
    ok,
    preview_campaign,
    set_members,
)

from kernel import utcnow
from kernel.testing import DEFAULT_TEST_PASSWORD, login
from plugins.campaigns.preview import work as work_module

NEXT = f"{BASE}/preview/next"


@pytest.fixture(autouse=True)
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_BACKGROUND_WORKERS", "false")


class Placer:
    """Stands in for ``place_call``: records each request, commits, answers a call id."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def __call__(self, platform: Any, session: Any, request: Any) -> SimpleNamespace:
        await asyncio.sleep(0)
        self.requests.append(request)
        await session.commit()
        return SimpleNamespace(id=uuid.uuid4())


@pytest.fixture
def placer(monkeypatch: pytest.MonkeyPatch) -> Placer:
    fake = Placer()
    monkeypatch.setattr(work_module, "place_call", fake)
    return fake


class Desk:
    """An organization's preview desk: agents (users with profiles) in the world's team."""

    def __init__(self, client: httpx.AsyncClient, owner: Any, make_user: Any, world: Any):
        self.client, self.owner, self.make_user, self.world = client, owner, make_user, world

    async def agent(self, name: str, *, team: bool = True, role: str = "agent") -> dict[str, str]:
        email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@{self.owner.slug}.example.com"
        user_id = await self.make_user(self.owner.tenant_id, email, roles=[role])
        agent_id = await agent_profile(self.client, self.owner.headers, str(user_id), name)
        headers = await login(self.client, email, DEFAULT_TEST_PASSWORD, tenant=self.owner.slug)
        headers = {**headers, "X-Agent-Id": agent_id}
        if team:
            current = await ok(
                await self.client.get(
                    f"/api/v1/agents/teams/{self.world.team_id}", headers=self.owner.headers
                )
            )
            members = [str(a) for a in current.get("agent_ids", [])]
            await set_members(
                self.client, self.owner.headers, self.world.team_id, [*members, agent_id]
            )
        return headers


@pytest.fixture
def desk(client, owner, kraliki_make_user, world) -> Desk:
    return Desk(client, owner, kraliki_make_user, world)


async def three(client, world) -> list[str]:
    return [
        await contact(client, world.headers, name, f"+1415555{3000 + i}")
        for i, name in enumerate(("Ada", "Ben", "Cleo"))
    ]


def path(campaign_id: str, preview: dict[str, Any], action: str) -> str:
    return f"{BASE}/{campaign_id}/attempts/{preview['attempt']['id']}/{action}"


async def test_next_shows_the_contact_its_consent_local_time_and_decision(client, world, desk):
    ada, ben, cleo = await three(client, world)
    campaign_id = await preview_campaign(
        client, world.headers, [ada, ben, cleo], team_id=world.team_id
    )
    me = await desk.agent("Ann")
    preview = await ok(await client.post(NEXT, headers=me, json={}))
    attempt = preview["attempt"]
    assert (attempt["status"], attempt["allowed"], attempt["rule"]) == (
        "previewing",
        True,
        "allowed",
    )
    assert attempt["agent_id"] == me["X-Agent-Id"]
    assert (attempt["contact_id"], attempt["number"]) == (ada, "+14155553000")
    assert preview["campaign"]["id"] == campaign_id
    assert preview["contact"]["name"] == "Ada"
    assert [p["number"] for p in preview["contact"]["phones"]] == ["+14155553000"]
    [local] = preview["contact"]["local_times"]
    assert local["zone"] == preview["contact"]["time_zone"]
    assert local["local_time"][11:13] == "12"  # midday there
    assert preview["consent"]["purpose"] == "informational"
    assert preview["consent"]["allowed"] is True
    assert preview["decision"]["rule"] == "allowed"
    assert set(preview["decision"]["checks"]) >= {"schedule", "window", "frequency", "callable"}
    assert preview["history"] == []
    # Asking again gives the same contact: one preview at a time.
    again = await ok(await client.post(NEXT, headers=me, json={"campaign_id": campaign_id}))
    assert again["attempt"]["id"] == attempt["id"]
    # The contact is held: the campaign's progress counts it as being dialled.
    progress = (await ok(await client.get(f"{BASE}/{campaign_id}", headers=world.headers)))[
        "progress"
    ]
    assert progress["contacts"]["dialing"] == 1
    # Another agent gets the next contact.
    other = await desk.agent("Bob")
    theirs = await ok(await client.post(NEXT, headers=other, json={}))
    assert theirs["attempt"]["contact_id"] == ben


async def test_skip_ends_the_preview_and_the_contact_comes_back_later(client, world, desk):
    ada, ben, cleo = await three(client, world)
    campaign_id = await preview_campaign(
        client, world.headers, [ada, ben, cleo], team_id=world.team_id
    )
    me = await desk.agent("Ann")
    preview = await ok(await client.post(NEXT, headers=me, json={}))
    missing = await client.post(path(campaign_id, preview, "skip"), headers=me, json={})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["body", "reason"]
    skipped = await ok(
        await client.post(
            path(campaign_id, preview, "skip"), headers=me, json={"reason": "asked for email"}
        )
    )
    assert (skipped["status"], skipped["outcome"], skipped["note"]) == (
        "ended",
        "skipped",
        "asked for email",
    )
    again = await client.post(
        path(campaign_id, preview, "skip"), headers=me, json={"reason": "twice"}
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("/campaigns-preview-over")
    # The next one is Ben; Ada is due again an hour later, not counted as a dial.
    nxt = await ok(await client.post(NEXT, headers=me, json={}))
    assert nxt["attempt"]["contact_id"] == ben
    assert nxt["attempt"]["attempt_no"] == 1
    progress = (await ok(await client.get(f"{BASE}/{campaign_id}", headers=world.headers)))[
        "progress"
    ]
    assert progress["contacts"]["scheduled"] == 1
    assert progress["attempts_placed"] == 0


async def test_a_callback_belongs_to_its_agent_and_comes_first(client, world, desk):
    ada, ben, cleo = await three(client, world)
    campaign_id = await preview_campaign(
        client, world.headers, [ada, ben, cleo], team_id=world.team_id
    )
    me = await desk.agent("Ann")
    other = await desk.agent("Bob")
    preview = await ok(await client.post(NEXT, headers=me, json={}))
    past = await client.post(
        path(campaign_id, preview, "callback"),
        headers=me,
        json={"at": (utcnow() - timedelta(minutes=1)).isoformat()},
    )
    assert past.status_code == 422
    assert past.json()["type"].endswith("/campaigns-preview-invalid-callback")
    assert past.json()["errors"][0]["loc"] == ["body", "at"]
    at = utcnow() + timedelta(seconds=2)
    scheduled = await ok(
        await client.post(
            path(campaign_id, preview, "callback"),
            headers=me,
            json={"at": at.isoformat(), "note": "after lunch"},
        )
    )
    assert (scheduled["status"], scheduled["outcome"], scheduled["note"]) == (
        "ended",
        "callback",
        "after lunch",
    )
    # Bob never gets Ada, even once the callback is due.
    theirs = await ok(await client.post(NEXT, headers=other, json={}))
    assert theirs["attempt"]["contact_id"] == ben
    await asyncio.sleep(max(0.0, (at - utcnow()).total_seconds()) + 0.2)
    mine = await ok(await client.post(NEXT, headers=me, json={}))
    assert mine["attempt"]["contact_id"] == ada  # before Cleo: her callback is due
    assert [(h["outcome"], h["note"]) for h in mine["history"]] == [("callback", "after lunch")]
    assert mine["history"][0]["campaign_name"] == "Renewals"


async def test_call_rings_the_agent_with_the_campaigns_handler(client, world, desk, placer):
    ada, ben, cleo = await three(client, world)
    campaign_id = await preview_campaign(
        client, world.headers, [ada, ben, cleo], team_id=world.team_id
    )
    me = await desk.agent("Ann")
    preview = await ok(await client.post(NEXT, headers=me, json={}))
    offline = await client.post(path(campaign_id, preview, "call"), headers=me)
    assert offline.status_code == 409, offline.text
    assert offline.json()["type"].endswith("/campaigns-preview-agent-busy")
    assert offline.json()["state"] == "offline"
    await make_available(client, me)
    other = await desk.agent("Bob")
    theirs = await client.post(path(campaign_id, preview, "call"), headers=other)
    assert theirs.status_code == 404
    assert theirs.json()["type"].endswith("/campaigns-preview-not-found")
    called = await ok(await client.post(path(campaign_id, preview, "call"), headers=me))
    assert called["status"] == "dialing"
    assert called["call_id"] is not None
    assert called["decision"]["previewed"]["rule"] == "allowed"
    [request] = placer.requests
    assert (request.to_number, request.from_number) == ("+14155550777", NUMBER)
    assert (request.handler, request.handler_target) == (
        "campaigns",
        f"preview:{preview['attempt']['id']}",
    )
    assert request.metadata["campaign_id"] == campaign_id
    state = await ok(await client.get("/api/v1/agents/me", headers=me))
    assert state["state"] == "reserved"
    twice = await client.post(path(campaign_id, preview, "call"), headers=me)
    assert twice.status_code == 409
    assert twice.json()["type"].endswith("/campaigns-preview-over")


async def test_a_contact_blocked_when_the_call_starts_ends_the_attempt(client, world, desk, placer):
    ada, ben, cleo = await three(client, world)
    campaign_id = await preview_campaign(
        client, world.headers, [ada, ben, cleo], team_id=world.team_id
    )
    me = await desk.agent("Ann")
    await make_available(client, me)
    preview = await ok(await client.post(NEXT, headers=me, json={}))
    await ok(
        await client.post(
            "/api/v1/contacts/dnc", headers=world.headers, json={"value": "+14155553000"}
        ),
        201,
    )
    refused = await client.post(path(campaign_id, preview, "call"), headers=me)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"].endswith("/campaigns-preview-blocked")
    assert (problem["rule"], problem["next_allowed_at"]) == ("dnc-number", None)
    assert placer.requests == []
    [blocked] = await attempts(client, world.headers, campaign_id, contact_id=ada)
    assert (blocked["status"], blocked["rule"], blocked["allowed"]) == (
        "blocked",
        "dnc-number",
        False,
    )
    progress = (await ok(await client.get(f"{BASE}/{campaign_id}", headers=world.headers)))[
        "progress"
    ]
    assert progress["contacts"]["blocked"] == 1


async def test_contacts_the_check_refuses_are_recorded_and_never_shown(client, world, desk):
    listed = await contact(client, world.headers, "Listed", "+14155553100")
    asleep = await contact(client, world.headers, "Asleep", "+14155553101", night_zone())
    fine = await contact(client, world.headers, "Fine", "+14155553102")
    await ok(
        await client.post(
            "/api/v1/contacts/dnc", headers=world.headers, json={"value": "+14155553100"}
        ),
        201,
    )
    campaign_id = await preview_campaign(
        client, world.headers, [listed, asleep, fine], team_id=world.team_id
    )
    me = await desk.agent("Ann")
    preview = await ok(await client.post(NEXT, headers=me, json={}))
    assert preview["attempt"]["contact_id"] == fine
    by_contact = {a["contact_id"]: a for a in await attempts(client, world.headers, campaign_id)}
    assert by_contact[listed]["status"] == "blocked"
    assert by_contact[listed]["rule"] == "dnc-number"
    assert by_contact[asleep]["status"] == "blocked"
    assert by_contact[asleep]["rule"].startswith("window.")
    assert by_contact[asleep]["decision"]["next_allowed_at"] is not None
    progress = (await ok(await client.get(f"{BASE}/{campaign_id}", headers=world.headers)))[
        "progress"
    ]
    assert (progress["contacts"]["blocked"], progress["contacts"]["scheduled"]) == (1, 1)


async def test_only_agents_who_work_the_campaign_get_its_contacts(client, world, desk):
    ada, ben, cleo = await three(client, world)
    campaign_id = await preview_campaign(
        client, world.headers, [ada, ben, cleo], team_id=world.team_id
    )
    outsider = await desk.agent("Olga", team=False)
    refused = await client.post(NEXT, headers=outsider, json={"campaign_id": campaign_id})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/campaigns-not-your-campaign")
    nothing = await client.post(NEXT, headers=outsider, json={})
    assert nothing.status_code == 204
    # Serving the campaign's queue is enough too.
    queued = await preview_campaign(
        client, world.headers, [ada], queue_id=world.queue_id, name="Queue renewals"
    )
    await ok(
        await client.patch(
            f"/api/v1/queues/{world.queue_id}",
            headers=world.headers,
            json={"agent_ids": [outsider["X-Agent-Id"]]},
        )
    )
    served = await ok(await client.post(NEXT, headers=outsider, json={"campaign_id": queued}))
    assert served["attempt"]["contact_id"] == ada
    # A user without an agent profile, and a role without the permission.
    no_profile = await client.post(NEXT, headers=world.headers, json={})
    assert no_profile.status_code == 404
    assert no_profile.json()["type"].endswith("/campaigns-no-agent")
    integrator = await desk.agent("Ivan", role="integrator")
    assert (await client.post(NEXT, headers=integrator, json={})).status_code == 403


async def test_not_a_preview_campaign_and_nothing_due(client, world, desk):
    ada, _ben, _cleo = await three(client, world)
    progressive = await ok(
        await client.post(
            BASE,
            headers=world.headers,
            json={
                "name": "Progressive",
                "mode": "progressive",
                "source": {"kind": "list", "contact_ids": [ada]},
                "team_id": world.team_id,
                "caller_id": NUMBER,
                "consent_purpose": "informational",
            },
        ),
        201,
    )
    me = await desk.agent("Ann")
    refused = await client.post(NEXT, headers=me, json={"campaign_id": progressive["id"]})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/campaigns-preview-unavailable")
    assert (await client.post(NEXT, headers=me, json={})).status_code == 204


async def test_another_organization_sees_nothing(client, world, desk, kraliki_make_owner):
    ada, ben, cleo = await three(client, world)
    campaign_id = await preview_campaign(
        client, world.headers, [ada, ben, cleo], team_id=world.team_id
    )
    me = await desk.agent("Ann")
    preview = await ok(await client.post(NEXT, headers=me, json={}))
    globex = await kraliki_make_owner("globex")
    theirs = await agent_profile(client, globex.headers, await _owner_id(client, globex), "G")
    assert theirs
    for action, body in (("call", None), ("skip", {"reason": "x"})):
        response = await client.post(
            path(campaign_id, preview, action), headers=globex.headers, json=body
        )
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/campaigns-campaign-not-found")
    stranger = await client.post(NEXT, headers=globex.headers, json={"campaign_id": campaign_id})
    assert stranger.status_code == 404
    assert stranger.json()["type"].endswith("/campaigns-campaign-not-found")


async def _owner_id(client: httpx.AsyncClient, owner: Any) -> str:
    me = await ok(await client.get("/api/v1/auth/me", headers=owner.headers))
    return str(me["subject"])


@pytest.mark.postgres_only
async def test_agents_asking_at_once_never_get_one_contact(client, world, desk):
    contacts = [
        await contact(client, world.headers, f"C{n}", f"+1415555{3200 + n}") for n in range(12)
    ]
    await preview_campaign(client, world.headers, contacts, team_id=world.team_id)
    agents = [await desk.agent(f"A{n}") for n in range(8)]
    answers = await asyncio.gather(*(client.post(NEXT, headers=a, json={}) for a in agents))
    got = [(await ok(r))["attempt"]["contact_id"] for r in answers]
    assert len(got) == 8
    assert len(set(got)) == 8
