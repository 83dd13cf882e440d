"""An agentless campaign end to end on the loopback provider, through the HTTP API: three
contacts, one who answers (the flow runs, the attempt is human, the contact done), one busy
at the first call who answers the retry (the loopback carrier's per-number callees,
``KRALIKI_LOOPBACK_CALLEES``), one on the do-not-call list (a blocked attempt, never
dialled). The background workers run the dialer and deliver the calls' events; the retry,
due a minute later, is dialled by the job's handler run with a clock two minutes ahead.
The campaign completes by itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from campaigns_helpers import BASE, FLOW, NUMBER
from campaigns_loopback import (
    client_of,
    loopback_with_callees,
    midday_zone,
    ok,
    until,
)

from kernel import tenant_scope, utcnow
from plugins.campaigns.dialer import dial
from plugins.loopback import testing
from plugins.loopback.testing import LoopbackCalls

loopback_calls = testing.loopback_calls

ANSWERS = "+14155552001"
BUSY_THEN_ANSWERS = "+14155552002"
LISTED = "+14155552003"
CALLEES = {BUSY_THEN_ANSWERS: [["busy"], [{"answer_after": 2}, {"hangup_after": 10}]]}


@pytest.fixture
def calls(request: pytest.FixtureRequest) -> LoopbackCalls:
    return loopback_with_callees(request, CALLEES)


@pytest.fixture
async def api(calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(calls):
        yield client


async def setup(api: httpx.AsyncClient, zone: str) -> tuple[str, list[str]]:
    """The caller id, the flow, the three contacts (one on the do-not-call list) and an
    agentless campaign over them (busy: one retry a minute later)."""
    await ok(
        await api.post("/api/v1/calls/numbers", json={"number": NUMBER, "provider": "loopback"}),
        201,
    )
    flow = await ok(
        await api.post("/api/v1/ivr/flows", json={"name": "Reminder", "draft": FLOW}), 201
    )
    await ok(await api.post(f"/api/v1/ivr/flows/{flow['id']}/publish", json={}), 201)
    contacts = []
    for name, number in (("Ada", ANSWERS), ("Ben", BUSY_THEN_ANSWERS), ("Cleo", LISTED)):
        body = {"name": name, "phones": [number], "time_zone": zone}
        contacts.append(str((await ok(await api.post("/api/v1/contacts", json=body), 201))["id"]))
    await ok(await api.post("/api/v1/contacts/dnc", json={"value": LISTED}), 201)
    campaign = await ok(
        await api.post(
            BASE,
            json={
                "name": "Reminders",
                "mode": "agentless",
                "source": {"kind": "list", "contact_ids": contacts},
                "flow_id": flow["id"],
                "caller_id": NUMBER,
                "consent_purpose": "informational",
                "lines": 2,
                "schedule": {
                    "time_zone": zone,
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "hours": [{"start": "09:00", "end": "16:00"}],
                },
                "retry": {"busy": {"max_attempts": 1, "after_minutes": 1}},
            },
        ),
        201,
    )
    assert campaign["lines"] == 2
    assert campaign["progress"]["attempts"] == 0
    return str(campaign["id"]), contacts


async def attempts(api: httpx.AsyncClient, campaign_id: str, **filters: Any) -> list[Any]:
    page = await ok(await api.get(f"{BASE}/{campaign_id}/attempts", params=filters))
    items: list[Any] = page["items"]
    return items


async def test_an_agentless_campaign_dials_retries_blocks_and_completes(
    calls: LoopbackCalls, api: httpx.AsyncClient
):
    campaign_id, (ada, ben, cleo) = await setup(api, midday_zone())
    await ok(await api.post(f"{BASE}/{campaign_id}/activate", json={}))

    # The workers dial: Ada answers and hears the flow, Ben is busy, Cleo is never dialled.
    async def first_round_over() -> bool:
        progress = (await ok(await api.get(f"{BASE}/{campaign_id}")))["progress"]
        return progress["contacts"] == {
            "pending": 0,
            "scheduled": 1,
            "dialing": 0,
            "done": 1,
            "exhausted": 0,
            "blocked": 1,
        }

    await until(first_round_over)
    [answered] = await attempts(api, campaign_id, contact_id=ada)
    assert (answered["allowed"], answered["rule"], answered["status"]) == (True, "allowed", "ended")
    assert (answered["outcome"], answered["number"]) == ("human", ANSWERS)
    assert set(answered["decision"]["checks"]) == {
        "campaign",
        "contact",
        "schedule",
        "window",
        "frequency",
        "callable",
    }
    ivr = [e.name for e in calls.delivered if e.payload.get("call_id") == answered["call_id"]]
    assert "ivr.session.ended" in ivr
    [busy] = await attempts(api, campaign_id, contact_id=ben)
    assert (busy["status"], busy["outcome"], busy["attempt_no"]) == ("ended", "busy", 1)
    [blocked] = await attempts(api, campaign_id, allowed=False)
    assert (blocked["contact_id"], blocked["rule"], blocked["status"]) == (
        cleo,
        "dnc-number",
        "blocked",
    )
    assert blocked["call_id"] is None
    assert blocked["decision"]["checks"]["callable"]["rule"] == "dnc-number"
    dialled = {c["to"] for c in (await ok(await api.get("/api/v1/calls")))["items"]}
    assert ANSWERS in dialled
    assert LISTED not in dialled

    # Ben's retry is due a minute later: the dialer's run two minutes on reaches him.
    with tenant_scope(calls.tenant_id):
        await dial(calls.platform, calls.tenant_id, now=utcnow() + timedelta(minutes=2))

    async def completed() -> bool:
        return (await ok(await api.get(f"{BASE}/{campaign_id}")))["state"] == "completed"

    await until(completed)
    ben_attempts = await attempts(api, campaign_id, contact_id=ben)
    assert [(a["attempt_no"], a["outcome"]) for a in ben_attempts] == [(2, "human"), (1, "busy")]
    campaign = await ok(await api.get(f"{BASE}/{campaign_id}"))
    assert campaign["progress"]["contacts"]["done"] == 2
    assert campaign["progress"]["contacts"]["blocked"] == 1
    assert (campaign["progress"]["attempts"], campaign["progress"]["attempts_placed"]) == (4, 3)

    def states() -> list[tuple[str, str]]:
        return [
            (e.payload["state"], e.payload["by"])
            for e in calls.delivered
            if e.name == "campaigns.campaign.state_changed"
        ]

    async def told() -> bool:  # the events reach plugins after the API shows the change
        return bool(states()) and states()[-1][0] == "completed"

    await until(told)
    assert states()[-1] == ("completed", "dialer")
    ended = [e.payload for e in calls.delivered if e.name == "campaigns.attempt.ended"]
    assert sorted(p["outcome"] for p in ended) == ["busy", "human", "human"]
    assert all("number" not in p for p in ended)
