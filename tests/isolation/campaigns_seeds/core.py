"""Seeds the campaigns plugin's tables for the cross-tenant route walk: an active campaign
over a static list of one contact (a list entry, and the roster row its activation writes),
dialling from the tenant's number and taken by a queue of its own, the tenant's
calling-window rules, and an agentless campaign whose one contact is on the do-not-call list:
the dialer's run (the walk plugin's ``/jobs``) stores its blocked attempt; a preview campaign
of the owner's team, whose contact the owner's agent previews (or, on a day the tenant's
rules close, whose blocked attempt is kept); everything through the APIs."""

from __future__ import annotations

import asyncio
from typing import Any

from kernel import utcnow


async def seed(client: Any, tenant: Any) -> None:
    """Rows of every campaigns table for ``tenant`` (``.headers``, ``.slug``)."""
    h = tenant.headers
    numbers = await client.get("/api/v1/calls/numbers", headers=h)
    assert numbers.status_code == 200, numbers.text
    queue = await client.post(
        "/api/v1/queues", headers=h, json={"name": f"Campaign queue {tenant.slug}"}
    )
    assert queue.status_code == 201, queue.text
    contact = await client.post(
        "/api/v1/contacts",
        headers=h,
        json={"name": f"Campaign contact {tenant.slug}", "phones": ["+14155557777"]},
    )
    assert contact.status_code == 201, contact.text
    campaign = await client.post(
        "/api/v1/campaigns",
        headers=h,
        json={
            "name": f"Renewals {tenant.slug}",
            "mode": "progressive",
            "source": {"kind": "list", "contact_ids": [contact.json()["id"]]},
            "queue_id": queue.json()["id"],
            "caller_id": numbers.json()["items"][0]["number"],
            "consent_purpose": f"purpose_{tenant.slug}",
        },
    )
    assert campaign.status_code == 201, campaign.text
    started = await client.post(f"/api/v1/campaigns/{campaign.json()['id']}/activate", headers=h)
    assert started.status_code == 200, started.text
    rules = {"window": {"start": "09:00", "end": "20:00"}, "closed_days": ["sun"]}
    settings = await client.put(
        "/api/v1/campaigns/settings", headers=h, json={"window_rules": rules}
    )
    assert settings.status_code == 200, settings.text
    await _seed_attempt(client, tenant, numbers.json()["items"][0]["number"])
    await _seed_preview(client, tenant, numbers.json()["items"][0]["number"])
    await _seed_seat(client, tenant, numbers.json()["items"][0]["number"])


async def _seed_preview(client: Any, tenant: Any, caller_id: str) -> None:
    """A preview campaign of the owner's team over one contact where it is midday; the
    owner's agent asks for the next contact (an attempt either way: previewing, or blocked
    by the tenant's closed Sunday)."""
    h = tenant.headers
    offset = 12 - utcnow().hour
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
    me = await client.get("/api/v1/agents/me", headers=h)
    assert me.status_code == 200, me.text
    contact = await client.post(
        "/api/v1/contacts",
        headers=h,
        json={
            "name": f"Preview contact {tenant.slug}",
            "phones": ["+14155557779"],
            "time_zone": zone,
        },
    )
    assert contact.status_code == 201, contact.text
    campaign = await client.post(
        "/api/v1/campaigns",
        headers=h,
        json={
            "name": f"Preview {tenant.slug}",
            "mode": "preview",
            "source": {"kind": "list", "contact_ids": [contact.json()["id"]]},
            "team_id": me.json()["team_ids"][0],
            "caller_id": caller_id,
            "consent_purpose": f"purpose_{tenant.slug}",
            "schedule": {
                "time_zone": zone,
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "hours": [{"start": "07:00", "end": "17:00"}],
            },
        },
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    started = await client.post(f"/api/v1/campaigns/{campaign_id}/activate", headers=h)
    assert started.status_code == 200, started.text
    preview = await client.post(
        "/api/v1/campaigns/preview/next", headers=h, json={"campaign_id": campaign_id}
    )
    assert preview.status_code in (200, 204), preview.text
    attempts = await client.get(f"/api/v1/campaigns/{campaign_id}/attempts", headers=h)
    assert len(attempts.json()["items"]) == 1, attempts.text


async def _seed_seat(client: Any, tenant: Any, caller_id: str) -> None:
    """A progressive campaign taken by the owner's team; the owner (an available agent of
    that team, seeded by the agents plugin's seeds) takes a seat: their phone is rung."""
    h = tenant.headers
    me = await client.get("/api/v1/agents/me", headers=h)
    assert me.status_code == 200, me.text
    contact = await client.post(
        "/api/v1/contacts",
        headers=h,
        json={"name": f"Seated contact {tenant.slug}", "phones": ["+14155557779"]},
    )
    assert contact.status_code == 201, contact.text
    campaign = await client.post(
        "/api/v1/campaigns",
        headers=h,
        json={
            "name": f"Seated {tenant.slug}",
            "mode": "progressive",
            "source": {"kind": "list", "contact_ids": [contact.json()["id"]]},
            "team_id": me.json()["team_ids"][0],
            "caller_id": caller_id,
            "consent_purpose": f"purpose_{tenant.slug}",
        },
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    started = await client.post(f"/api/v1/campaigns/{campaign_id}/activate", headers=h)
    assert started.status_code == 200, started.text
    seat = await client.post(f"/api/v1/campaigns/{campaign_id}/seats", headers=h)
    assert seat.status_code == 201, seat.text


async def _seed_attempt(client: Any, tenant: Any, caller_id: str) -> None:
    """An agentless campaign over a contact on the do-not-call list: the dialer decides
    (blocked, never dialled) and keeps the attempt."""
    h = tenant.headers
    number = "+14155557778"
    contact = await client.post(
        "/api/v1/contacts",
        headers=h,
        json={"name": f"Listed contact {tenant.slug}", "phones": [number]},
    )
    assert contact.status_code == 201, contact.text
    dnc = await client.post("/api/v1/contacts/dnc", headers=h, json={"value": number})
    assert dnc.status_code == 201, dnc.text
    flows = await client.get("/api/v1/ivr/flows", headers=h)
    assert flows.status_code == 200, flows.text
    campaign = await client.post(
        "/api/v1/campaigns",
        headers=h,
        json={
            "name": f"Reminders {tenant.slug}",
            "mode": "agentless",
            "source": {"kind": "list", "contact_ids": [contact.json()["id"]]},
            "flow_id": flows.json()["items"][0]["id"],
            "caller_id": caller_id,
            "consent_purpose": f"purpose_{tenant.slug}",
        },
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    started = await client.post(f"/api/v1/campaigns/{campaign_id}/activate", headers=h)
    assert started.status_code == 200, started.text
    for _ in range(200):  # the workers may hold the job already: then wait for their run
        ran = await client.post("/api/v1/walkvault/jobs", headers=h)
        assert ran.status_code == 200, ran.text
        attempts = await client.get(f"/api/v1/campaigns/{campaign_id}/attempts", headers=h)
        assert attempts.status_code == 200, attempts.text
        if attempts.json()["items"]:
            break
        await asyncio.sleep(0.05)
    assert [a["allowed"] for a in attempts.json()["items"]] == [False], attempts.text
