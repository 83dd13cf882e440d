"""Contacts through the API as a frontend uses it: create, read, list with filters, change with
If-Match, delete, merge; custom fields and the default country."""

from __future__ import annotations

import uuid

import pytest

from kernel.testing import DEFAULT_TEST_PASSWORD, audit_events, login, published_events

BASE = "/api/v1/contacts"


@pytest.fixture
async def owner(kraliki_make_owner):
    return await kraliki_make_owner("acme")


@pytest.fixture
async def agent_headers(kraliki_client, kraliki_make_user, owner):
    await kraliki_make_user(owner.tenant_id, "agent@acme.example.com", roles=["agent"])
    return await login(
        kraliki_client, "agent@acme.example.com", DEFAULT_TEST_PASSWORD, tenant="acme"
    )


async def create(client, owner, **body):
    response = await client.post(BASE, headers=owner.headers, json=body)
    assert response.status_code == 201, response.text
    return response


async def test_a_contact_is_created_with_normalised_numbers(
    kraliki_client, owner, kraliki_platform
):
    await kraliki_client.put(
        f"{BASE}/settings", headers=owner.headers, json={"default_country": "CZ"}
    )
    response = await create(
        kraliki_client,
        owner,
        name="  Ana   Nová ",
        company="Acme",
        phones=["601 123 456", {"number": "+1 (415) 555-2671", "type": "work", "label": "desk"}],
        emails=["Ana@Example.COM"],
        tags=["VIP", "vip", "Lead"],
        country="cz",
        region="CZ-10",
        time_zone="Europe/Prague",
    )
    body = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{BASE}/{body['id']}"
    assert body["name"] == "Ana Nová"
    assert [p["number"] for p in body["phones"]] == ["+420601123456", "+14155552671"]
    assert body["phones"][0] == {
        "number": "+420601123456",
        "type": "mobile",
        "label": "",
        "region": "CZ",
        "time_zones": ["Europe/Prague"],
        "line_type": "mobile",
    }
    assert body["phones"][1]["type"] == "work"
    assert body["phones"][1]["time_zones"] == ["America/Los_Angeles"]
    assert body["emails"] == ["ana@example.com"]
    assert body["tags"] == ["vip", "lead"]
    assert (body["country"], body["region"]) == ("CZ", "10")
    events = await published_events(kraliki_platform, owner.tenant_id)
    assert (
        "contacts.contact.created",
        {"contact_id": body["id"], "contact_version": 1, "source": "api"},
    ) in events

    fetched = await kraliki_client.get(f"{BASE}/{body['id']}", headers=owner.headers)
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_every_invalid_value_is_listed_in_one_answer(kraliki_client, owner):
    response = await kraliki_client.post(
        BASE,
        headers=owner.headers,
        json={
            "name": "X",
            "phones": ["12", "+1 415 555 2671"],
            "emails": ["not-an-address"],
            "country": "XX",
            "time_zone": "Mars/Olympus",
            "custom_fields": {"plan": "gold"},
        },
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/contacts-invalid-contact"
    assert {e["field"] for e in problem["errors"]} == {
        "phones[0].number",
        "emails[0]",
        "country",
        "time_zone",
        "custom_fields.plan",
    }


async def test_a_contact_needs_something_to_know_it_by(kraliki_client, owner):
    response = await kraliki_client.post(BASE, headers=owner.headers, json={"city": "Brno"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


async def test_national_numbers_follow_the_default_country(kraliki_client, owner):
    us = await create(kraliki_client, owner, phones=["(212) 555-0100"])
    assert us.json()["phones"][0]["number"] == "+12125550100"
    changed = await kraliki_client.put(
        f"{BASE}/settings", headers=owner.headers, json={"default_country": "de"}
    )
    assert changed.json() == {"default_country": "DE"}
    de = await create(kraliki_client, owner, phones=["030 1234567"])
    assert de.json()["phones"][0]["number"] == "+49301234567"
    bad = await kraliki_client.put(
        f"{BASE}/settings", headers=owner.headers, json={"default_country": "QQ"}
    )
    assert bad.status_code == 422


async def test_if_match_refuses_a_change_based_on_an_old_version(
    kraliki_client, owner, kraliki_platform
):
    contact = (await create(kraliki_client, owner, name="Bo")).json()
    url = f"{BASE}/{contact['id']}"
    first = await kraliki_client.patch(
        url, headers={**owner.headers, "If-Match": '"1"'}, json={"company": "Initech"}
    )
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"2"'
    assert first.json()["company"] == "Initech"
    stale = await kraliki_client.patch(
        url, headers={**owner.headers, "If-Match": '"1"'}, json={"company": "Globex"}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/contacts-contact-changed"
    assert stale.json()["current_version"] == 2
    assert (await kraliki_client.get(url, headers=owner.headers)).json()["company"] == "Initech"
    weak = await kraliki_client.patch(
        url, headers={**owner.headers, "If-Match": 'W/"2"'}, json={"tags": ["a"]}
    )
    assert weak.status_code == 200
    unchanged = await kraliki_client.patch(url, headers=owner.headers, json={"tags": ["a"]})
    assert unchanged.headers["ETag"] == '"3"', "a change that changes nothing keeps the version"
    events = [
        p
        for name, p in await published_events(kraliki_platform, owner.tenant_id)
        if name == "contacts.contact.updated"
    ]
    assert [e["changed"] for e in events] == [["company"], ["tags"]]


async def test_a_patch_changes_only_what_it_sends(kraliki_client, owner):
    await kraliki_client.post(
        f"{BASE}/fields",
        headers=owner.headers,
        json={"key": "plan", "type": "choice", "choices": ["gold", "silver"]},
    )
    await kraliki_client.post(
        f"{BASE}/fields", headers=owner.headers, json={"key": "seats", "type": "number"}
    )
    contact = (
        await create(
            kraliki_client,
            owner,
            name="Cy",
            phones=["+14155552671"],
            custom_fields={"plan": "gold", "seats": "12"},
        )
    ).json()
    assert contact["custom_fields"] == {"plan": "gold", "seats": 12}
    url = f"{BASE}/{contact['id']}"
    patched = await kraliki_client.patch(
        url,
        headers=owner.headers,
        json={"custom_fields": {"seats": None}, "emails": ["cy@x.example"]},
    )
    body = patched.json()
    assert body["custom_fields"] == {"plan": "gold"}
    assert body["phones"][0]["number"] == "+14155552671"
    assert body["name"] == "Cy"
    wrong = await kraliki_client.patch(
        url, headers=owner.headers, json={"custom_fields": {"plan": "bronze"}}
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"] == [
        {
            "loc": ["body", "custom_fields", "plan"],
            "message": "must be one of: gold, silver",
            "field": "custom_fields.plan",
            "reason": "must be one of: gold, silver",
        }
    ]


async def test_list_filters(kraliki_client, owner):
    await kraliki_client.post(
        f"{BASE}/fields", headers=owner.headers, json={"key": "plan", "type": "text"}
    )
    ana = (
        await create(
            kraliki_client,
            owner,
            name="Ana Smith",
            phones=["+14155552671"],
            tags=["vip", "west"],
            custom_fields={"plan": "gold"},
            country="US",
        )
    ).json()
    bo = (
        await create(
            kraliki_client,
            owner,
            name="Bo Jones",
            company="Smithers Ltd",
            emails=["bo@jones.example"],
            tags=["vip"],
            country="GB",
        )
    ).json()
    (await create(kraliki_client, owner, name="Cy Young", phones=["+442079460000"]))

    async def names(**params):
        response = await kraliki_client.get(BASE, headers=owner.headers, params=params)
        assert response.status_code == 200, response.text
        return sorted(c["name"] for c in response.json()["items"])

    assert await names(q="smith") == ["Ana Smith", "Bo Jones"]
    assert await names(q="(415) 555") == ["Ana Smith"]
    assert await names(q="JONES.EXAMPLE") == ["Bo Jones"]
    assert await names(tag=["vip", "west"]) == ["Ana Smith"]
    assert await names(tag="VIP") == ["Ana Smith", "Bo Jones"]
    assert await names(field="plan:gold") == ["Ana Smith"]
    assert await names(country="gb") == ["Bo Jones"]
    assert await names(q="nobody") == []
    unknown = await kraliki_client.get(BASE, headers=owner.headers, params={"field": "nope:1"})
    assert unknown.status_code == 422
    assert unknown.json()["type"] == "/problems/contacts-filter-unknown-fields"
    since = bo["updated_at"]
    assert "Bo Jones" in await names(updated_since=since)
    assert "Ana Smith" not in await names(updated_since=since) or ana["updated_at"] >= since


async def test_pages_walk_every_contact_once(kraliki_client, owner):
    for i in range(7):
        await create(kraliki_client, owner, name=f"P{i}")
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await kraliki_client.get(BASE, headers=owner.headers, params=params)).json()
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"P{i}" for i in range(7)]


async def test_merge_keeps_history(kraliki_client, owner, kraliki_platform):
    a = (
        await create(kraliki_client, owner, name="Ana", phones=["+14155552671"], tags=["vip"])
    ).json()
    b = (
        await create(
            kraliki_client,
            owner,
            name="Ana S.",
            company="Acme",
            phones=["+14155552671", "+12125550100"],
            emails=["ana@acme.example"],
            tags=["lead"],
            external_id="crm-7",
        )
    ).json()
    merged = await kraliki_client.post(
        f"{BASE}/{a['id']}/merge",
        headers={**owner.headers, "If-Match": '"1"'},
        json={"other_id": b["id"]},
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["name"] == "Ana"
    assert body["company"] == "Acme"
    assert body["external_id"] == "crm-7"
    assert [p["number"] for p in body["phones"]] == ["+14155552671", "+12125550100"]
    assert body["emails"] == ["ana@acme.example"]
    assert body["tags"] == ["vip", "lead"]
    old = (await kraliki_client.get(f"{BASE}/{b['id']}", headers=owner.headers)).json()
    assert old["merged_into"] == a["id"]
    assert old["name"] == "Ana S.", "the merged contact is kept as it was, for history"
    listed = (await kraliki_client.get(BASE, headers=owner.headers)).json()["items"]
    assert [c["id"] for c in listed] == [a["id"]]
    found = (
        await kraliki_client.get(BASE, headers=owner.headers, params={"q": "2125550100"})
    ).json()
    assert [c["id"] for c in found["items"]] == [a["id"]]
    again = await kraliki_client.post(
        f"{BASE}/{a['id']}/merge", headers=owner.headers, json={"other_id": b["id"]}
    )
    assert again.status_code == 422
    assert again.json()["type"] == "/problems/contacts-merge-refused"
    itself = await kraliki_client.post(
        f"{BASE}/{a['id']}/merge", headers=owner.headers, json={"other_id": a["id"]}
    )
    assert itself.status_code == 422
    change_old = await kraliki_client.patch(
        f"{BASE}/{b['id']}", headers=owner.headers, json={"name": "x"}
    )
    assert change_old.status_code == 409
    assert change_old.json()["merged_into"] == a["id"]
    names = [name for name, _ in await published_events(kraliki_platform, owner.tenant_id)]
    assert "contacts.contact.merged" in names
    audit = await audit_events(kraliki_platform, owner.tenant_id, action="contacts.contact_merged")
    assert audit[0].details == {"merged_id": b["id"]}


async def test_delete(kraliki_client, owner, kraliki_platform, agent_headers):
    contact = (await create(kraliki_client, owner, name="Del")).json()
    url = f"{BASE}/{contact['id']}"
    assert (await kraliki_client.delete(url, headers=agent_headers)).status_code == 403
    assert (
        await kraliki_client.delete(url, headers={**owner.headers, "If-Match": '"9"'})
    ).status_code == 412
    assert (await kraliki_client.delete(url, headers=owner.headers)).status_code == 204
    missing = await kraliki_client.get(url, headers=owner.headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/contacts-contact-not-found"
    assert await audit_events(kraliki_platform, owner.tenant_id, action="contacts.contact_deleted")


async def test_agents_read_and_write_contacts_but_not_fields_or_settings(
    kraliki_client, agent_headers
):
    created = await kraliki_client.post(BASE, headers=agent_headers, json={"name": "From agent"})
    assert created.status_code == 201
    assert (await kraliki_client.get(BASE, headers=agent_headers)).status_code == 200
    field = await kraliki_client.post(
        f"{BASE}/fields", headers=agent_headers, json={"key": "k", "type": "text"}
    )
    assert field.status_code == 403
    settings = await kraliki_client.put(
        f"{BASE}/settings", headers=agent_headers, json={"default_country": "GB"}
    )
    assert settings.status_code == 403


async def test_custom_field_definitions(kraliki_client, owner):
    url = f"{BASE}/fields"
    made = await kraliki_client.post(
        url,
        headers=owner.headers,
        json={"key": "renewal", "type": "date", "label": "Renewal", "required": True},
    )
    assert made.status_code == 201
    dup = await kraliki_client.post(
        url, headers=owner.headers, json={"key": "renewal", "type": "text"}
    )
    assert dup.status_code == 409
    no_choices = await kraliki_client.post(
        url, headers=owner.headers, json={"key": "tier", "type": "choice"}
    )
    assert no_choices.status_code == 422
    retype = await kraliki_client.patch(
        f"{url}/renewal", headers=owner.headers, json={"type": "number"}
    )
    assert retype.status_code == 409
    required = await kraliki_client.post(BASE, headers=owner.headers, json={"name": "No renewal"})
    assert [(e["field"], e["reason"]) for e in required.json()["errors"]] == [
        ("custom_fields.renewal", "required")
    ]
    bad_date = await kraliki_client.post(
        BASE, headers=owner.headers, json={"name": "R", "custom_fields": {"renewal": "31/12/2026"}}
    )
    assert bad_date.status_code == 422
    good = await kraliki_client.post(
        BASE, headers=owner.headers, json={"name": "R", "custom_fields": {"renewal": "2026-12-31"}}
    )
    assert good.json()["custom_fields"] == {"renewal": "2026-12-31"}
    relabel = await kraliki_client.patch(
        f"{url}/renewal", headers=owner.headers, json={"required": False, "label": "Renews"}
    )
    assert relabel.json()["label"] == "Renews"
    assert [f["key"] for f in (await kraliki_client.get(url, headers=owner.headers)).json()] == [
        "renewal"
    ]
    assert (await kraliki_client.delete(f"{url}/renewal", headers=owner.headers)).status_code == 204
    assert (await kraliki_client.delete(f"{url}/renewal", headers=owner.headers)).status_code == 404


async def test_another_tenants_contact_is_not_there(kraliki_client, owner, kraliki_make_owner):
    other = await kraliki_make_owner("globex")
    theirs = (
        await create(kraliki_client, other, name="Secret Person", phones=["+14155550111"])
    ).json()
    for method, path, body in [
        ("GET", f"{BASE}/{theirs['id']}", None),
        ("PATCH", f"{BASE}/{theirs['id']}", {"name": "hacked"}),
        ("DELETE", f"{BASE}/{theirs['id']}", None),
    ]:
        response = await kraliki_client.request(method, path, headers=owner.headers, json=body)
        assert response.status_code == 404, (method, response.text)
    itself = await kraliki_client.post(
        f"{BASE}/{theirs['id']}/merge", headers=owner.headers, json={"other_id": theirs["id"]}
    )
    assert itself.status_code == 404
    mine = (await create(kraliki_client, owner, name="Mine")).json()
    merge = await kraliki_client.post(
        f"{BASE}/{mine['id']}/merge", headers=owner.headers, json={"other_id": theirs["id"]}
    )
    assert merge.status_code == 404
    listed = (await kraliki_client.get(BASE, headers=owner.headers, params={"q": "secret"})).json()
    assert listed["items"] == []
    assert (await kraliki_client.get(f"{BASE}/{theirs['id']}", headers=other.headers)).json()[
        "name"
    ] == "Secret Person"


async def test_unknown_contact_is_404(kraliki_client, owner):
    response = await kraliki_client.get(f"{BASE}/{uuid.uuid4()}", headers=owner.headers)
    assert response.status_code == 404
