"""A campaign seat on the loopback carrier for supervision tests, through the HTTP API: an
agent (a user with a loopback phone that answers and stays) seated in a progressive campaign
that dials one person; the carrier's callees (``KRALIKI_LOOPBACK_CALLEES``) are set before
the app reads them. ``api`` clients here have the ``/api/v1`` base."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from supervisor_sessions_helpers import ok

from kernel import add_user, tenant_scope, utcnow
from kernel.testing import DEFAULT_TEST_PASSWORD, login
from plugins.loopback.testing import LoopbackCalls

NUMBER = "+14155550100"
"""The organization's loopback number, the campaign's caller id."""
SEAT_PHONE = [{"answer_after": 1}, {"hangup_after": 14_400}]
"""The agent's phone: answers after 1 s and stays in the seat."""


def loopback_with_callees(request: pytest.FixtureRequest, callees: dict[str, Any]) -> LoopbackCalls:
    """The ``loopback_calls`` app, its carrier's callees set before the app reads them."""
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("KRALIKI_LOOPBACK_CALLEES", json.dumps(callees))
    found: LoopbackCalls = request.getfixturevalue("loopback_calls")
    return found


def midday_zone() -> str:
    """A fixed-offset zone where it is noon now (the calling window allows dials)."""
    offset = (12 - utcnow().hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


async def seat_agent(calls: LoopbackCalls, api: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """Ava, a user with the agent role and a loopback phone: her agent id and login headers."""
    email = "ava@loopback.example.com"
    with tenant_scope(calls.tenant_id):
        async with calls.platform.database.session() as session:
            user_id = await add_user(
                session, email=email, password=DEFAULT_TEST_PASSWORD, roles=["agent"]
            )
            await session.commit()
    body = {
        "display_name": "Ava",
        "user_id": str(user_id),
        "wrap_up_seconds": 1,
        "reach": {"kind": "loopback", "loopback_script": SEAT_PHONE},
    }
    agent = await ok(await api.post("/agents", json=body), 201)
    async with httpx.AsyncClient(base_url=calls.url, timeout=30) as client:
        headers = await login(client, email, tenant="loopback")
    return str(agent["id"]), headers


async def dialling_campaign(api: httpx.AsyncClient, agent_id: str, *people: str) -> str:
    """An active progressive campaign calling ``people`` in turn from :data:`NUMBER`, its
    queue served by ``agent_id``."""
    await ok(await api.post("/calls/numbers", json={"number": NUMBER, "provider": "loopback"}), 201)
    queue = await ok(
        await api.post("/queues", json={"name": "Outbound", "agent_ids": [agent_id]}), 201
    )
    zone = midday_zone()
    contact_ids = []
    for n, person in enumerate(people):
        contact = {"name": f"Contact {n}", "phones": [person], "time_zone": zone}
        contact_ids.append((await ok(await api.post("/contacts", json=contact), 201))["id"])
    body = {
        "name": "Renewals",
        "mode": "progressive",
        "source": {"kind": "list", "contact_ids": contact_ids},
        "queue_id": queue["id"],
        "caller_id": NUMBER,
        "consent_purpose": "informational",
        "amd": {"enabled": False},
        "schedule": {
            "time_zone": zone,
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "hours": [{"start": "09:00", "end": "16:00"}],
        },
    }
    campaign_id = str((await ok(await api.post("/campaigns", json=body), 201))["id"])
    await ok(await api.post(f"/campaigns/{campaign_id}/activate", json={}))
    return campaign_id


async def take_seat(api: httpx.AsyncClient, campaign_id: str, agent: dict[str, str]) -> str:
    await ok(await api.put("/agents/me/state", headers=agent, json={"state": "available"}))
    seat = await ok(await api.post(f"/campaigns/{campaign_id}/seats", headers=agent), 201)
    return str(seat["id"])


async def seats(api: httpx.AsyncClient, campaign_id: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await ok(
        await api.get(f"/campaigns/{campaign_id}/seats", params=params)
    )
    return found


async def attempts(api: httpx.AsyncClient, campaign_id: str) -> list[dict[str, Any]]:
    page = await ok(await api.get(f"/campaigns/{campaign_id}/attempts", params={"limit": 100}))
    items: list[dict[str, Any]] = page["items"]
    return items
