"""The check before every dial, through the API (`POST /campaigns/{id}/check`), and the
organization's calling-window rules (`/campaigns/settings`)."""

from __future__ import annotations

from campaigns_helpers import BASE, create, progressive

NEW_YORK = "America/New_York"
SETTINGS = f"{BASE}/settings"
# Wednesday 2027-03-03; New York is UTC-5, Los Angeles UTC-8.
TEN_AM_NY = "2027-03-03T15:00:00Z"


async def _contact(client, world, number: str, **fields) -> str:
    response = await client.post(
        "/api/v1/contacts",
        headers=world.headers,
        json={"name": "Pat", "phones": [number], **fields},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _active(client, world, **fields) -> str:
    body = progressive(
        world,
        schedule={"time_zone": NEW_YORK, "hours": [{"start": "09:00", "end": "20:00"}]},
        **fields,
    )
    campaign = await create(client, world, body)
    started = await client.post(f"{BASE}/{campaign['id']}/activate", headers=world.headers)
    assert started.status_code == 200, started.text
    return str(campaign["id"])


async def _check(client, world, campaign_id: str, contact_id: str, at: str, **fields):
    response = await client.post(
        f"{BASE}/{campaign_id}/check",
        headers=world.headers,
        json={"contact_id": contact_id, "at": at, **fields},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_dial_inside_every_rule_is_allowed_with_each_rules_record(client, world):
    campaign = await _active(client, world)
    contact = await _contact(client, world, "+12125550147", time_zone=NEW_YORK)
    decision = await _check(client, world, campaign, contact, TEN_AM_NY)
    assert decision["allowed"] is True
    assert decision["rule"] == "allowed"
    assert decision["number"] == "+12125550147"
    assert decision["next_allowed_at"] == "2027-03-03T15:00:00Z"
    checks = decision["checks"]
    assert set(checks) == {"campaign", "contact", "schedule", "window", "frequency", "callable"}
    assert checks["schedule"]["rule"] == "schedule.open"
    assert checks["frequency"]["rule"] == "frequency.allowed"
    assert checks["frequency"]["counts"] == {NEW_YORK: {"day": 0, "week": 0}}
    assert checks["window"]["rule"] == "window.allowed"
    assert checks["window"]["zone_source"] == "contact"
    assert [z["zone"] for z in checks["window"]["zones"]] == [NEW_YORK]
    assert checks["callable"]["rule"] == "allowed"


async def test_the_campaigns_hours_and_the_persons_window_both_hold(client, world):
    campaign = await _active(client, world)
    new_yorker = await _contact(client, world, "+12125550147", time_zone=NEW_YORK)
    # 08:30 in New York: the window is open, the campaign's hours are not (09:00)
    early = await _check(client, world, campaign, new_yorker, "2027-03-03T13:30:00Z")
    assert (early["allowed"], early["rule"]) == (False, "schedule.closed_hours")
    assert early["checks"]["window"]["allowed"] is True
    assert early["next_allowed_at"] == "2027-03-03T14:00:00Z"
    # 09:30 in New York is 06:30 in Los Angeles: the person's window opens at 08:00 there
    angeleno = await _contact(client, world, "+13105550123", time_zone="America/Los_Angeles")
    west = await _check(client, world, campaign, angeleno, "2027-03-03T14:30:00Z")
    assert (west["rule"], west["checks"]["schedule"]["allowed"]) == ("window.too_early", True)
    assert west["next_allowed_at"] == "2027-03-03T16:00:00Z"
    # 19:30 in Los Angeles is 22:30 in New York: the campaign closed at 20:00 New York time,
    # and the next morning its 09:00 is 06:00 in Los Angeles; both allow at 08:00 there
    late = await _check(client, world, campaign, angeleno, "2027-03-04T03:30:00Z")
    assert late["rule"] == "schedule.closed_hours"
    assert late["next_allowed_at"] == "2027-03-04T16:00:00Z"


async def test_do_not_call_and_consent_refuse_for_good(client, world):
    campaign = await _active(client, world)
    listed = await _contact(client, world, "+12125550148", time_zone=NEW_YORK)
    dnc = await client.post(
        "/api/v1/contacts/dnc", headers=world.headers, json={"value": "+12125550148"}
    )
    assert dnc.status_code == 201, dnc.text
    refused = await _check(client, world, campaign, listed, TEN_AM_NY)
    assert (refused["allowed"], refused["rule"], refused["next_allowed_at"]) == (
        False,
        "dnc-number",
        None,
    )
    assert refused["checks"]["callable"]["dnc_entry_id"] == dnc.json()["id"]
    marketing = await _active(client, world, name="Upsell", consent_purpose="marketing")
    unconsented = await _contact(client, world, "+12125550149", time_zone=NEW_YORK)
    decision = await _check(client, world, marketing, unconsented, TEN_AM_NY)
    assert (decision["rule"], decision["next_allowed_at"]) == ("no-consent", None)


async def test_the_contact_and_number_must_be_the_campaigns_to_call(client, world):
    campaign = await _active(client, world)
    contact = await _contact(client, world, "+12125550147", time_zone=NEW_YORK)
    other = await _check(client, world, campaign, contact, TEN_AM_NY, number="+12125550999")
    assert other["rule"] == "contact.number_not_theirs"
    missing = await _check(
        client, world, campaign, "00000000-0000-4000-8000-000000000009", TEN_AM_NY
    )
    assert (missing["rule"], missing["next_allowed_at"]) == ("contact.unknown", None)
    draft = await create(client, world, progressive(world, name="Not yet"))
    idle = await _check(client, world, draft["id"], contact, TEN_AM_NY)
    assert (idle["rule"], idle["next_allowed_at"]) == ("campaign.not_active", None)
    assert idle["checks"]["window"]["allowed"] is True  # every rule still judged


async def test_the_organizations_stricter_rules_apply_and_looser_ones_are_refused(
    client, world, as_role
):
    default = await client.get(SETTINGS, headers=world.headers)
    assert default.status_code == 200
    assert default.json()["window_rules"]["regions"] == []
    looser = await client.put(
        SETTINGS,
        headers=world.headers,
        json={"window_rules": {"window": {"start": "07:00", "end": "21:00"}}},
    )
    assert looser.status_code == 422
    assert looser.json()["errors"][0]["loc"][:3] == ["body", "window_rules", "window"]
    stricter = {
        "window_rules": {
            "regions": [
                {"region": {"country": "US", "subdivision": "US-NY"}, "closed_days": ["wed"]}
            ]
        }
    }
    agent = await as_role("agent")
    assert (await client.put(SETTINGS, headers=agent, json=stricter)).status_code == 403
    stored = await client.put(SETTINGS, headers=world.headers, json=stricter)
    assert stored.status_code == 200, stored.text
    campaign = await _active(client, world)
    new_yorker = await _contact(client, world, "+12125550147", time_zone=NEW_YORK)
    closed = await _check(client, world, campaign, new_yorker, TEN_AM_NY)
    assert closed["rule"] == "window.closed_day"
    assert closed["checks"]["window"]["zones"][0]["sources"] == ["region US-NY"]
    assert closed["next_allowed_at"] == "2027-03-04T14:00:00Z"  # Thursday 09:00, the campaign
