"""Campaigns through the API: created as drafts with every value checked against what the
organization has, listed, read, changed with If-Match, deleted while drafts; who may do what."""

from __future__ import annotations

from campaigns_helpers import BASE, CALLBACK, NUMBER, create, errors_at, progressive

from kernel.testing import published_events


async def test_a_campaign_starts_as_a_draft_with_safe_defaults(client, world, platform, owner):
    response = await client.post(BASE, headers=world.headers, json=progressive(world))
    assert response.status_code == 201, response.text
    campaign = response.json()
    assert response.headers["location"] == f"{BASE}/{campaign['id']}"
    assert response.headers["etag"] == '"1"'
    assert campaign["state"] == "draft"
    assert campaign["mode"] == "progressive"
    assert campaign["contacts"] == 3  # the segment's members now
    assert campaign["max_abandon_rate"] == 3.0
    assert campaign["ring_seconds"] == 25
    assert campaign["schedule"]["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert campaign["schedule"]["hours"] == [{"start": "09:00:00", "end": "20:00:00"}]
    assert campaign["retry"]["busy"] == {"max_attempts": 2, "after_minutes": 15}
    assert campaign["retry"]["max_attempts_per_contact"] == 4
    assert campaign["frequency_caps"] == {"per_day": 2, "per_week": 6}
    assert campaign["amd"] == {"enabled": True, "on_machine": "hangup", "message": None}
    assert campaign["activated_at"] is None
    events = await published_events(platform, owner.tenant_id)
    assert (
        "campaigns.campaign.created",
        {
            "campaign_id": campaign["id"],
            "mode": "progressive",
            "state": "draft",
            "revision": 1,
        },
    ) in events


async def test_a_static_list_keeps_its_order_and_is_replaced_whole(client, world):
    first, second, third = world.contact_ids
    campaign = await create(
        client,
        world,
        progressive(world, source={"kind": "list", "contact_ids": [third, first]}),
    )
    assert campaign["source"] == {"kind": "list", "segment_id": None, "contact_ids": [third, first]}
    assert campaign["contacts"] == 2
    changed = await client.patch(
        f"{BASE}/{campaign['id']}",
        headers=world.headers,
        json={"source": {"kind": "list", "contact_ids": [second]}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["source"]["contact_ids"] == [second]
    assert changed.json()["version"] == 2
    to_segment = await client.patch(
        f"{BASE}/{campaign['id']}",
        headers=world.headers,
        json={"source": {"kind": "segment", "segment_id": world.segment_id}},
    )
    assert to_segment.json()["source"] == {
        "kind": "segment",
        "segment_id": world.segment_id,
        "contact_ids": None,
    }
    assert to_segment.json()["contacts"] == 3


async def test_every_unknown_reference_is_named_in_one_422(client, world, kraliki_make_owner):
    other = await kraliki_make_owner("beta")
    theirs = await client.post(
        "/api/v1/contacts", headers=other.headers, json={"name": "Not yours"}
    )
    missing = "00000000-0000-4000-8000-000000000001"
    body = progressive(
        world,
        source={
            "kind": "list",
            "contact_ids": [world.contact_ids[0], theirs.json()["id"], missing],
        },
        queue_id=missing,
        team_id=missing,
        caller_id="+14155550111",
        consent_purpose="astrology",
    )
    response = await client.post(BASE, headers=world.headers, json=body)
    problem = response.json()
    assert problem["type"].endswith("/problems/campaigns-campaign-invalid")
    assert errors_at(response) == {
        "source.contact_ids.1": (
            "no contact of the organization has this id (or it was erased or merged)"
        ),
        "source.contact_ids.2": (
            "no contact of the organization has this id (or it was erased or merged)"
        ),
        "queue_id": "no queue of the organization has this id",
        "team_id": "no team of the organization has this id",
        "caller_id": "not one of the organization's numbers",
        "consent_purpose": (
            "not one of the organization's consent purposes "
            "(marketing, informational, debt_collection, surveys)"
        ),
    }
    unknown_segment = progressive(world, source={"kind": "segment", "segment_id": missing})
    response = await client.post(BASE, headers=world.headers, json=unknown_segment)
    assert errors_at(response) == {
        "source.segment_id": "no segment of the organization has this id"
    }


async def test_each_mode_needs_what_it_dials_with(client, world):
    nobody = progressive(world, queue_id=None)
    assert errors_at(await client.post(BASE, headers=world.headers, json=nobody)) == {
        "queue_id": "a progressive campaign needs a queue or a team"
    }
    by_team = await client.post(
        BASE, headers=world.headers, json=progressive(world, queue_id=None, team_id=world.team_id)
    )
    assert by_team.status_code == 201, by_team.text
    agentless = progressive(world, name="Reminders", mode="agentless", amd={"on_machine": "agent"})
    assert errors_at(await client.post(BASE, headers=world.headers, json=agentless)) == {
        "flow_id": "an agentless campaign needs the flow its calls run",
        "queue_id": "an agentless campaign has no agents",
        "amd.on_machine": "an agentless campaign has no agent to pass to",
    }
    reminders = progressive(world, name="Reminders", mode="agentless", queue_id=None)
    reminders["flow_id"] = world.flow_id
    created = await client.post(BASE, headers=world.headers, json=reminders)
    assert created.status_code == 201, created.text
    assert created.json()["flow_id"] == world.flow_id
    with_flow = progressive(world, name="Mixed", flow_id=world.flow_id)
    assert errors_at(await client.post(BASE, headers=world.headers, json=with_flow)) == {
        "flow_id": "only agentless campaigns run a flow"
    }


async def test_settings_out_of_bounds_are_refused_with_their_location(client, world):
    cases = {
        "max_abandon_rate": {"max_abandon_rate": 3.5},
        "ring_seconds": {"ring_seconds": 10},
        "schedule": {"schedule": {"start_date": "2027-02-01", "end_date": "2027-01-01"}},
        "schedule.time_zone": {"schedule": {"time_zone": "Mars/Olympus"}},
        "amd": {"amd": {"on_machine": "message"}},
        "abandon_message.callback_number": {
            "abandon_message": {"text": "This was Acme Renewals.", "callback_number": "12"}
        },
        "frequency_caps": {"frequency_caps": {"per_day": 3, "per_week": 2}},
        "dispositions": {"dispositions": ["sale", "sale"]},
    }
    for where, fields in cases.items():
        response = await client.post(BASE, headers=world.headers, json=progressive(world, **fields))
        assert response.status_code == 422, (where, response.text)
        locations = {".".join(map(str, e["loc"][1:])) for e in response.json()["errors"]}
        assert any(loc.startswith(where) for loc in locations), (where, locations)


async def test_names_are_unique_in_the_organization(client, world, kraliki_make_owner):
    await create(client, world, progressive(world))
    again = await client.post(BASE, headers=world.headers, json=progressive(world))
    assert again.status_code == 409
    assert again.json()["type"].endswith("/problems/campaigns-campaign-exists")


async def test_a_change_needs_the_current_version_and_says_what_changed(
    client, world, platform, owner
):
    campaign = await create(client, world, progressive(world))
    url = f"{BASE}/{campaign['id']}"
    changed = await client.patch(
        url,
        headers={**world.headers, "If-Match": '"1"'},
        json={"description": "Renewals due in April", "dispositions": ["renewed", "declined"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["dispositions"] == ["renewed", "declined"]
    stale = await client.patch(
        url, headers={**world.headers, "If-Match": '"1"'}, json={"description": "again"}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    same = await client.patch(
        url, headers=world.headers, json={"description": "Renewals due in April"}
    )
    assert same.json()["version"] == 2  # nothing changed, no new version
    updates = [
        p for n, p in await published_events(platform, owner.tenant_id) if n.endswith(".updated")
    ]
    assert [u["fields"] for u in updates] == [["description", "dispositions"]]


async def test_only_a_draft_is_deleted(client, world):
    draft = await create(client, world, progressive(world))
    assert (await client.delete(f"{BASE}/{draft['id']}", headers=world.headers)).status_code == 204
    assert (await client.get(f"{BASE}/{draft['id']}", headers=world.headers)).status_code == 404
    active = await create(client, world, progressive(world, name="Live"))
    await client.post(f"{BASE}/{active['id']}/activate", headers=world.headers)
    refused = await client.delete(f"{BASE}/{active['id']}", headers=world.headers)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/problems/campaigns-campaign-locked")
    assert refused.json()["state"] == "active"


async def test_campaigns_are_listed_by_name_and_filtered(client, world):
    for name in ("Winback", "Appointments", "Renewals"):
        await create(client, world, progressive(world, name=name))
    live = await create(client, world, progressive(world, name="Surveys"))
    await client.post(f"{BASE}/{live['id']}/activate", headers=world.headers)
    page = await client.get(f"{BASE}?limit=2", headers=world.headers)
    assert [c["name"] for c in page.json()["items"]] == ["Appointments", "Renewals"]
    rest = await client.get(f"{BASE}?cursor={page.json()['next_cursor']}", headers=world.headers)
    assert [c["name"] for c in rest.json()["items"]] == ["Surveys", "Winback"]
    active = await client.get(f"{BASE}?state=active", headers=world.headers)
    assert [c["name"] for c in active.json()["items"]] == ["Surveys"]
    found = await client.get(f"{BASE}?q=enew", headers=world.headers)
    assert [c["name"] for c in found.json()["items"]] == ["Renewals"]


async def test_who_may_read_change_and_start_campaigns(client, world, as_role):
    campaign = await create(client, world, progressive(world))
    url = f"{BASE}/{campaign['id']}"
    agent = await as_role("agent")
    assert (await client.get(url, headers=agent)).status_code == 200
    assert (await client.patch(url, headers=agent, json={"description": "x"})).status_code == 403
    assert (await client.post(f"{url}/activate", headers=agent)).status_code == 403
    supervisor = await as_role("supervisor")
    assert (
        await client.patch(url, headers=supervisor, json={"description": "x"})
    ).status_code == 403
    started = await client.post(f"{url}/activate", headers=supervisor)
    assert started.status_code == 200, started.text


async def test_another_organizations_campaign_is_not_found(client, world, kraliki_make_owner):
    campaign = await create(client, world, progressive(world))
    other = await kraliki_make_owner("beta")
    url = f"{BASE}/{campaign['id']}"
    for method, path in (
        ("GET", url),
        ("PATCH", url),
        ("DELETE", url),
        ("POST", f"{url}/activate"),
    ):
        body = {"description": "x"} if method == "PATCH" else None
        response = await client.request(method, path, headers=other.headers, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["type"].endswith("/problems/campaigns-campaign-not-found")
    listed = await client.get(BASE, headers=other.headers)
    assert listed.json()["items"] == []


async def test_the_abandoned_call_message_is_kept_as_given(client, world):
    message = {"text": "This was Acme Renewals calling.", "callback_number": CALLBACK}
    campaign = await create(
        client, world, progressive(world, mode="predictive", abandon_message=message)
    )
    assert campaign["abandon_message"] == message
    assert campaign["caller_id"] == NUMBER
