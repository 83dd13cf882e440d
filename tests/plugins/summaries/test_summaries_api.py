"""The summaries API: analyzeCall on demand, reading and listing, who may do what, and one
organization never seeing another's summaries (nor their links on its calls)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from summaries_helpers import TERMINAL, call, ended, ok, speaking, summary

from kernel import add_user, tenant_scope, utcnow
from kernel.testing import DEFAULT_TEST_PASSWORD, create_tenant, login
from plugins.loopback.testing import LoopbackCalls

SAID = (
    "I'm calling about my broken router.",
    "The light keeps blinking red.",
    "Thank you, that's all.",
)


async def user(calls: LoopbackCalls, slug: str, role: str) -> dict[str, str]:
    """Headers of a new user with ``role`` in the organization ``slug`` (made if new)."""
    platform = calls.platform
    tenant_id = calls.tenant_id if slug == "loopback" else await create_tenant(platform, slug)
    email = f"{role}@{slug}.example.com"
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await add_user(session, email=email, password=DEFAULT_TEST_PASSWORD, roles=[role])
            await session.commit()
    async with httpx.AsyncClient(base_url=calls.url, timeout=30) as client:
        return await login(client, email, DEFAULT_TEST_PASSWORD, tenant=slug)


def problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == f"/problems/{slug}"


async def test_analyze_call_on_demand(loopback_calls, api):
    call_id = await call(api, speaking(*SAID))
    await ended(api, call_id)
    first = await summary(api, call_id)
    again = await ok(await api.post(f"/summaries/calls/{call_id}"))
    assert again["id"] == first["id"]
    assert again["status"] == "done"
    assert again["attempts"] == 1  # a fresh run, counted anew
    assert (again["reason"], again["outcome"]) == (first["reason"], first["outcome"])
    assert again["summarized_at"] >= first["summarized_at"]


async def test_a_call_that_was_not_answered_is_skipped_on_demand(loopback_calls, api):
    """Only answered calls are summarised by themselves; a busy one can be asked for."""
    busy = (await loopback_calls.place("busy"))["id"]
    assert (await ended(api, busy))["status"] == "busy"
    problem(await api.get(f"/summaries/calls/{busy}"), 404, "summaries-not-found")
    found = await ok(await api.post(f"/summaries/calls/{busy}"))
    assert (found["status"], found["skip_reason"]) == ("skipped", "no_transcript")
    assert (await ok(await api.get(f"/summaries/calls/{busy}")))["status"] == "skipped"


async def test_a_live_or_unknown_call_is_refused(loopback_calls, api):
    live = await call(api, ["answer", {"step": "wait", "seconds": 3000}])
    refused = await api.post(f"/summaries/calls/{live}")
    problem(refused, 409, "summaries-call-not-ended")
    assert refused.json()["call_status"] not in TERMINAL
    await ok(await api.post(f"/calls/{live}/hangup"))
    unknown = "00000000-0000-4000-8000-000000000000"
    problem(await api.post(f"/summaries/calls/{unknown}"), 404, "summaries-call-not-found")
    problem(await api.get(f"/summaries/calls/{unknown}"), 404, "summaries-not-found")


async def test_the_list_filters_by_status_and_time(loopback_calls, api):
    silent = await call(api, ["answer", {"step": "wait", "seconds": 5}, "hangup"])
    await summary(api, silent, status="skipped")
    done = await call(api, speaking(*SAID))
    await summary(api, done)
    everything = await ok(await api.get("/summaries"))
    assert [s["call_id"] for s in everything["items"]] == [done, silent]  # newest first
    page = await ok(await api.get("/summaries", params={"limit": 1}))
    assert [s["call_id"] for s in page["items"]] == [done]
    rest = await ok(await api.get("/summaries", params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [s["call_id"] for s in rest["items"]] == [silent]
    assert rest["next_cursor"] is None
    skipped = await ok(await api.get("/summaries", params={"status": "skipped"}))
    assert [s["call_id"] for s in skipped["items"]] == [silent]
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert (await ok(await api.get("/summaries", params={"since": later})))["items"] == []
    assert len((await ok(await api.get("/summaries", params={"until": later})))["items"]) == 2


async def test_agents_read_supervisors_ask(loopback_calls, api):
    call_id = await call(api, speaking(*SAID))
    await summary(api, call_id)
    url = loopback_calls.url
    agent = await user(loopback_calls, "loopback", "agent")
    supervisor = await user(loopback_calls, "loopback", "supervisor")
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=30) as client:
        read = await client.get(f"/summaries/calls/{call_id}", headers=agent)
        assert read.status_code == 200, read.text
        linked = await client.get(f"/calls/{call_id}", headers=agent)
        assert linked.json()["links"]["summary"]["status"] == "done"
        refused = await client.post(f"/summaries/calls/{call_id}", headers=agent)
        assert refused.status_code == 403, refused.text
        asked = await client.post(f"/summaries/calls/{call_id}", headers=supervisor)
        assert asked.status_code == 200, asked.text


async def test_another_organization_sees_nothing(loopback_calls, api):
    call_id = await call(api, speaking(*SAID))
    await summary(api, call_id)
    other = await user(loopback_calls, "other", "owner")
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=other, timeout=30
    ) as client:
        problem(await client.get(f"/summaries/calls/{call_id}"), 404, "summaries-not-found")
        problem(await client.post(f"/summaries/calls/{call_id}"), 404, "summaries-call-not-found")
        assert (await ok(await client.get("/summaries")))["items"] == []
    # The owner's summary did not move.
    assert (await summary(api, call_id))["attempts"] == 1
