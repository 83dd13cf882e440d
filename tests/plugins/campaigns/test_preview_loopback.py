"""A preview call end to end on the loopback provider, through the HTTP API: the agent (a
loopback agent whose phone answers) previews Ada and calls; the platform rings the agent,
who answers; the leg dials Ada (the carrier's default callee, who answers), the attempt
ends ``human`` and the contact is done; the agent was on the call, then wraps up. Next the
agent calls a busy contact: the attempt ends ``busy`` and the contact is scheduled by the
retry rules. An
agent whose phone is never answered leaves the contact uncalled (``not_placed``) and is
away, ``missed``. The background workers deliver the calls' events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from campaigns_helpers import BASE, NUMBER
from preview_helpers import attempts, contact, make_available, ok, preview_campaign

from kernel import tenant_scope
from kernel.testing import DEFAULT_TEST_PASSWORD, add_user, login
from plugins.loopback import testing
from plugins.loopback.testing import LoopbackCalls

loopback_calls = testing.loopback_calls

ANSWERS = "+14155554001"
"""The carrier's default callee: answers after 2 s, talks 10 s, hangs up."""
BUSY = "+14155550001"
"""Ends in 0001: busy (the party a dial reaches is chosen by the number's last digits)."""
NOBODY = "+14155554003"
AGENT_ANSWERS = [{"answer_after": 1}]
"""An agent's phone that rings 1 s and answers (then stays on until the platform hangs up)."""
AGENT_NEVER_ANSWERS = ["no_answer"]
NEXT = f"{BASE}/preview/next"


@pytest.fixture
def calls(loopback_calls: LoopbackCalls) -> LoopbackCalls:
    return loopback_calls


@pytest.fixture
async def api(calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers, timeout=30) as c:
        yield c


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.05)


async def loopback_agent(
    calls: LoopbackCalls, api: httpx.AsyncClient, name: str, script: list[Any], team_id: str
) -> dict[str, str]:
    """A user with the agent role and a loopback agent profile in the team, signed in."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@loopback.example.com"
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            user_id = await add_user(
                session, email=email, password=DEFAULT_TEST_PASSWORD, roles=["agent"]
            )
            await session.commit()
    body = {
        "display_name": name,
        "user_id": str(user_id),
        "reach": {"kind": "loopback", "loopback_script": script},
        "wrap_up_seconds": 1,
    }
    agent = await ok(await api.post("/api/v1/agents", json=body), 201)
    team = await ok(await api.get(f"/api/v1/agents/teams/{team_id}"))
    members = [*team["agent_ids"], agent["id"]]
    await ok(await api.put(f"/api/v1/agents/teams/{team_id}/members", json={"agent_ids": members}))
    async with httpx.AsyncClient(base_url=calls.url, timeout=30) as client:
        headers = await login(client, email, DEFAULT_TEST_PASSWORD, tenant="loopback")
    return {**headers, "X-Agent-Id": str(agent["id"])}


async def test_the_agent_answers_first_then_the_contact_is_dialled(
    calls: LoopbackCalls, api: httpx.AsyncClient
):
    await ok(
        await api.post("/api/v1/calls/numbers", json={"number": NUMBER, "provider": "loopback"}),
        201,
    )
    team = await ok(await api.post("/api/v1/agents/teams", json={"name": "Outbound"}), 201)
    headers = calls.headers
    ada = await contact(api, headers, "Ada", ANSWERS)
    ben = await contact(api, headers, "Ben", BUSY)
    cleo = await contact(api, headers, "Cleo", NOBODY)
    campaign_id = await preview_campaign(
        api,
        headers,
        [ada, ben, cleo],
        team_id=team["id"],
        retry={"busy": {"max_attempts": 1, "after_minutes": 5}},
    )
    ann = await loopback_agent(calls, api, "Ann", AGENT_ANSWERS, team["id"])
    await make_available(api, ann)

    preview = await ok(await api.post(NEXT, headers=ann, json={}))
    assert preview["contact"]["name"] == "Ada"
    attempt_id = preview["attempt"]["id"]
    called = await ok(
        await api.post(f"{BASE}/{campaign_id}/attempts/{attempt_id}/call", headers=ann)
    )
    assert called["status"] in ("dialing", "placed", "ended")

    async def reached() -> bool:
        [attempt] = await attempts(api, headers, campaign_id, contact_id=ada)
        return attempt["status"] == "ended"

    await until(reached)
    [attempt] = await attempts(api, headers, campaign_id, contact_id=ada)
    assert (attempt["outcome"], attempt["answered_by"]) == ("human", "human")
    assert attempt["placed_at"] is not None
    assert attempt["call_id"] is not None
    leg = await ok(await api.get(f"/api/v1/calls/{attempt['call_id']}"))
    assert leg["to"].startswith("sip:agent-")
    assert (leg["from"], leg["metadata"]["attempt_id"]) == (NUMBER, attempt_id)
    progress = (await ok(await api.get(f"{BASE}/{campaign_id}")))["progress"]
    assert progress["contacts"]["done"] == 1

    # The agent was on the call, then wraps up (1 s) and is available again.
    async def agent_states() -> list[str]:
        history = await ok(
            await api.get(f"/api/v1/agents/{ann['X-Agent-Id']}/history", params={"limit": 50})
        )
        return [h["to_state"] for h in reversed(history["items"])]

    async def wrapped_up() -> bool:
        states = await agent_states()
        return "wrap_up" in states

    await until(wrapped_up)
    states = await agent_states()
    assert states[states.index("reserved") :][:3] == ["reserved", "on_call", "wrap_up"]
    names = {e.name for e in calls.delivered if e.name.startswith("campaigns.attempt.")}
    assert {
        "campaigns.attempt.decided",
        "campaigns.attempt.previewed",
        "campaigns.attempt.called",
        "campaigns.attempt.ended",
    } <= names

    # Ben is busy: the attempt ends busy and the retry rule schedules him.
    async def available() -> bool:
        me = await ok(await api.get("/api/v1/agents/me", headers=ann))
        return bool(me["state"] in ("available", "wrap_up"))

    await until(available)
    preview = await ok(await api.post(NEXT, headers=ann, json={}))
    assert preview["contact"]["name"] == "Ben"
    await ok(
        await api.post(
            f"{BASE}/{campaign_id}/attempts/{preview['attempt']['id']}/call", headers=ann
        )
    )

    async def busy() -> bool:
        [attempt] = await attempts(api, headers, campaign_id, contact_id=ben)
        return attempt["status"] == "ended"

    await until(busy)
    [attempt] = await attempts(api, headers, campaign_id, contact_id=ben)
    assert attempt["outcome"] == "busy"
    progress = (await ok(await api.get(f"{BASE}/{campaign_id}")))["progress"]
    assert progress["contacts"]["scheduled"] == 1


async def test_an_agent_who_does_not_answer_leaves_the_contact_uncalled(
    calls: LoopbackCalls, api: httpx.AsyncClient
):
    await ok(
        await api.post("/api/v1/calls/numbers", json={"number": NUMBER, "provider": "loopback"}),
        201,
    )
    team = await ok(await api.post("/api/v1/agents/teams", json={"name": "Outbound"}), 201)
    ada = await contact(api, calls.headers, "Ada", ANSWERS)
    campaign_id = await preview_campaign(api, calls.headers, [ada], team_id=team["id"])
    bob = await loopback_agent(calls, api, "Bob", AGENT_NEVER_ANSWERS, team["id"])
    await make_available(api, bob)
    preview = await ok(await api.post(NEXT, headers=bob, json={}))
    await ok(
        await api.post(
            f"{BASE}/{campaign_id}/attempts/{preview['attempt']['id']}/call", headers=bob
        )
    )

    async def given_up() -> bool:
        [attempt] = await attempts(api, calls.headers, campaign_id, contact_id=ada)
        return attempt["status"] == "not_placed"

    await until(given_up, within=60)
    [attempt] = await attempts(api, calls.headers, campaign_id, contact_id=ada)
    assert (attempt["outcome"], attempt["placed_at"]) == (None, None)
    me = await ok(await api.get("/api/v1/agents/me", headers=bob))
    assert (me["state"], me["reason_code"]) == ("away", "missed")
    # The contact is due again at once, for anyone.
    await make_available(api, bob)
    again = await ok(await api.post(NEXT, headers=bob, json={}))
    assert again["attempt"]["contact_id"] == ada
    assert again["attempt"]["attempt_no"] == 1


async def test_a_preview_campaign_whose_last_contact_is_reached_completes(
    calls: LoopbackCalls, api: httpx.AsyncClient
):
    await ok(
        await api.post("/api/v1/calls/numbers", json={"number": NUMBER, "provider": "loopback"}),
        201,
    )
    team = await ok(await api.post("/api/v1/agents/teams", json={"name": "Outbound"}), 201)
    ada = await contact(api, calls.headers, "Ada", ANSWERS)
    campaign_id = await preview_campaign(api, calls.headers, [ada], team_id=team["id"])
    ann = await loopback_agent(calls, api, "Ann", AGENT_ANSWERS, team["id"])
    await make_available(api, ann)
    preview = await ok(await api.post(NEXT, headers=ann, json={}))
    await ok(
        await api.post(
            f"{BASE}/{campaign_id}/attempts/{preview['attempt']['id']}/call", headers=ann
        )
    )

    async def completed() -> bool:
        campaign = await ok(await api.get(f"{BASE}/{campaign_id}"))
        return bool(campaign["state"] == "completed")

    await until(completed)  # the dialer's job completes it once nobody is left
