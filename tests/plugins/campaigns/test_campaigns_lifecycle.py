"""A campaign's states through the API: draft -> active <-> paused -> completed -> archived,
activation refused while the campaign cannot dial lawfully, and what an active campaign may
still change."""

from __future__ import annotations

from campaigns_helpers import BASE, CALLBACK, create, errors_at, progressive

from kernel.testing import published_events

MESSAGE = {"text": "This was Acme Renewals calling.", "callback_number": CALLBACK}


async def _move(client, world, campaign_id: str, action: str, reason: str = ""):
    return await client.post(
        f"{BASE}/{campaign_id}/{action}", headers=world.headers, json={"reason": reason}
    )


async def test_a_campaign_goes_through_its_states(client, world, platform, owner):
    campaign = await create(client, world, progressive(world))
    cid = campaign["id"]
    started = await _move(client, world, cid, "activate", "spring push")
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "active"
    first_activation = started.json()["activated_at"]
    assert first_activation is not None
    paused = await _move(client, world, cid, "deactivate", "lunch")
    assert paused.json()["state"] == "paused"
    resumed = await _move(client, world, cid, "activate")
    assert resumed.json()["state"] == "active"
    assert resumed.json()["activated_at"] == first_activation  # the first one is kept
    assert (await _move(client, world, cid, "complete")).json()["state"] == "completed"
    archived = await _move(client, world, cid, "archive")
    assert archived.json()["state"] == "archived"
    assert archived.headers["etag"] == f'"{archived.json()["version"]}"'
    changes = [
        (p["previous_state"], p["state"], p["reason"])
        for n, p in await published_events(platform, owner.tenant_id)
        if n == "campaigns.campaign.state_changed"
    ]
    assert changes == [
        ("draft", "active", "spring push"),
        ("active", "paused", "lunch"),
        ("paused", "active", ""),
        ("active", "completed", ""),
        ("completed", "archived", ""),
    ]
    audit = await client.get("/api/v1/audit?limit=50", headers=world.headers)
    actions = [e["action"] for e in audit.json()["items"]]
    assert "campaigns.campaign_activated" in actions
    assert "campaigns.campaign_archived" in actions


async def test_a_state_change_from_the_wrong_state_is_refused(client, world):
    listed = {"kind": "list", "contact_ids": world.contact_ids[:1]}
    campaign = await create(client, world, progressive(world, source=listed))
    cid = campaign["id"]
    for action in ("deactivate", "complete"):
        refused = await _move(client, world, cid, action)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/problems/campaigns-transition-refused")
        assert problem["state"] == "draft"
    await _move(client, world, cid, "activate")
    refused = await _move(client, world, cid, "archive")
    assert refused.status_code == 409
    assert refused.json()["to"] == "archived"


async def test_activation_lists_what_keeps_the_campaign_from_dialling(client, world):
    body = progressive(
        world,
        mode="predictive",
        source={"kind": "segment", "segment_id": world.segment_id},
        schedule={"time_zone": "America/New_York", "end_date": "2026-01-31"},
    )
    campaign = await create(client, world, body)
    refused = await _move(client, world, campaign["id"], "activate")
    assert refused.json()["type"].endswith("/problems/campaigns-cannot-activate")
    assert errors_at(refused) == {
        "abandon_message": (
            "a predictive campaign needs the message played to a person no agent could take"
        ),
        "schedule.end_date": "the schedule ended on 2026-01-31",
    }
    fixed = await client.patch(
        f"{BASE}/{campaign['id']}",
        headers=world.headers,
        json={"abandon_message": MESSAGE, "schedule": {"time_zone": "America/New_York"}},
    )
    assert fixed.status_code == 200, fixed.text
    assert (await _move(client, world, campaign["id"], "activate")).status_code == 200


async def test_a_campaign_without_contacts_or_whose_number_went_is_not_activated(client, world):
    empty = await client.post(
        "/api/v1/contacts/segments",
        headers=world.headers,
        json={"name": "Nobody", "filter": {"tags_any": ["nobody"]}},
    )
    campaign = await create(
        client,
        world,
        progressive(world, source={"kind": "segment", "segment_id": empty.json()["id"]}),
    )
    assert campaign["contacts"] == 0
    numbers = await client.get("/api/v1/calls/numbers", headers=world.headers)
    number_id = numbers.json()["items"][0]["id"]
    deleted = await client.delete(f"/api/v1/calls/numbers/{number_id}", headers=world.headers)
    assert deleted.status_code == 204, deleted.text
    refused = await _move(client, world, campaign["id"], "activate")
    assert errors_at(refused) == {
        "caller_id": "not one of the organization's numbers",
        "source": "the campaign has no contacts to call",
    }
    got = await client.get(f"{BASE}/{campaign['id']}", headers=world.headers)
    assert got.json()["state"] == "draft"


async def test_an_active_campaign_changes_only_what_is_safe(client, world):
    campaign = await create(client, world, progressive(world, max_abandon_rate=2.5))
    url = f"{BASE}/{campaign['id']}"
    await _move(client, world, campaign["id"], "activate")
    locked = await client.patch(
        url,
        headers=world.headers,
        json={"caller_id": CALLBACK, "consent_purpose": "marketing", "name": "Renamed"},
    )
    assert locked.status_code == 409, locked.text
    assert locked.json()["type"].endswith("/problems/campaigns-campaign-locked")
    assert locked.json()["fields"] == ["caller_id", "consent_purpose"]
    looser = await client.patch(
        url,
        headers=world.headers,
        json={"max_abandon_rate": 3.0, "frequency_caps": {"per_day": 3, "per_week": 6}},
    )
    assert looser.status_code == 409
    assert looser.json()["fields"] == ["max_abandon_rate", "frequency_caps"]
    safe = await client.patch(
        url,
        headers=world.headers,
        json={
            "name": "Renamed",
            "max_abandon_rate": 2.0,
            "frequency_caps": {"per_day": 1, "per_week": 3},
            "schedule": {"days": ["mon", "wed"], "hours": [{"start": "10:00", "end": "12:00"}]},
        },
    )
    assert safe.status_code == 200, safe.text
    assert safe.json()["max_abandon_rate"] == 2.0
    await _move(client, world, campaign["id"], "deactivate")
    unlocked = await client.patch(url, headers=world.headers, json={"consent_purpose": "marketing"})
    assert unlocked.status_code == 200, unlocked.text
    await _move(client, world, campaign["id"], "complete")
    finished = await client.patch(url, headers=world.headers, json={"description": "late"})
    assert finished.status_code == 409
    assert finished.json()["state"] == "completed"
