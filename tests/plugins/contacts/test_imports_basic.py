"""Uploading a CSV file and importing it: progress, counts, contacts like the API's."""

from __future__ import annotations

from pathlib import Path

import imports_helpers
from imports_helpers import contacts, csv_bytes, errors, import_file, upload

from kernel.testing import published_events

kraliki_app, platform, owner, import_settings = imports_helpers.FIXTURES

SAMPLE = csv_bytes(
    "Name,Company,Phone,Mobile,E-mail,Tags,Country",
    "Ana Novak,Acme,(201) 555-0123,,ana@example.com,vip; newsletter,US",
    'Bob "The Builder" Smith,"Smith, Sons",+420 601 123 456,,BOB@Example.com,,CZ',
    "Cid,,201-555-0199,+1 201 555 0177,,lead|vip,",
    "Bad Number,,12,,,,",
)


async def test_upload_reads_the_header_and_suggests_a_mapping(kraliki_client, owner):
    response = await upload(kraliki_client, owner.headers, SAMPLE, name="people.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "uploaded"
    assert body["filename"] == "people.csv"
    assert body["encoding"] == "utf-8"
    assert body["delimiter"] == ","
    assert body["columns"] == ["Name", "Company", "Phone", "Mobile", "E-mail", "Tags", "Country"]
    assert body["rows_total"] == 4
    assert body["suggested_mapping"] == {
        "Name": "name",
        "Company": "company",
        "Phone": "phones",
        "Mobile": "phones:mobile",
        "E-mail": "emails",
        "Tags": "tags",
        "Country": "country",
    }


async def test_an_import_creates_contacts_like_the_api_and_reports_progress(
    kraliki_client, owner, platform
):
    state = await import_file(platform, kraliki_client, owner.headers, SAMPLE)
    assert state["status"] == "completed", state
    assert (state["created"], state["updated"], state["skipped"], state["failed"]) == (3, 0, 0, 1)
    assert state["rows_done"] == state["rows_total"] == 4
    assert state["percent"] == 100.0
    assert state["match_on"] == "phone"
    people = {c["name"]: c for c in await contacts(platform, owner.tenant_id)}
    ana = people["Ana Novak"]
    assert ana["phones"] == ["+12015550123"]
    assert ana["emails"] == ["ana@example.com"]
    assert ana["tags"] == ["vip", "newsletter"]
    assert ana["tag_rows"] == ["newsletter", "vip"]
    assert "2015550123" in ana["search_text"]
    assert "ana novak" in ana["search_text"]
    bob = people['Bob "The Builder" Smith']
    assert bob["company"] == "Smith, Sons"
    assert bob["phones"] == ["+420601123456"]
    assert bob["emails"] == ["bob@example.com"]
    assert bob["country"] == "CZ"
    cid = people["Cid"]
    assert cid["phones"] == ["+12015550199", "+12015550177"]
    assert cid["phone_types"][1] == "mobile"
    assert sorted(cid["tag_rows"]) == ["lead", "vip"]
    reported = await errors(kraliki_client, owner.headers, state["id"])
    assert reported == [(5, "Phone", "not a valid number in its numbering plan")]
    events = [
        (name, payload)
        for name, payload in await published_events(platform, owner.tenant_id)
        if name.startswith("contacts.import.")
    ]
    assert [name for name, _ in events] == [
        "contacts.import.started",
        "contacts.import.progressed",
        "contacts.import.completed",
    ]
    assert events[-1][1]["created"] == 3
    assert events[-1][1]["failed"] == 1


async def test_the_sample_file_in_the_readme(kraliki_client, owner, platform):
    content = (Path(__file__).parents[3] / "docs" / "samples" / "contacts.csv").read_bytes()
    state = await import_file(platform, kraliki_client, owner.headers, content, duplicates="update")
    assert (state["created"], state["failed"], state["rows_total"]) == (24, 1, 25), state
    reported = await errors(kraliki_client, owner.headers, state["id"])
    assert reported == [
        (25, "Email", "not an e-mail address"),
        (25, "Phone", "not a valid number in its numbering plan"),
    ]
    people = {c["name"]: c for c in await contacts(platform, owner.tenant_id)}
    assert people["Ana Novak"]["phones"] == ["+14155550132"]
    assert people["Eva Svobodová"]["phones"] == ["+420601123456"]
    assert people["Eva Svobodová"]["country"] == "CZ"


async def test_custom_fields_and_the_default_country(kraliki_client, owner, platform):
    h = owner.headers
    base = "/api/v1/contacts"
    for path, body in (
        (
            "/fields",
            {
                "key": "plan",
                "label": "Tariff",
                "type": "choice",
                "choices": ["gold", "basic"],
                "required": True,
            },
        ),
        ("/fields", {"key": "since", "type": "date"}),
    ):
        assert (await kraliki_client.post(base + path, headers=h, json=body)).status_code == 201
    settings = await kraliki_client.put(
        f"{base}/settings", headers=h, json={"default_country": "CZ"}
    )
    assert settings.status_code == 200, settings.text
    content = csv_bytes(
        "Jméno;Telefon;Tariff;Since",
        "Eva;601 123 456;gold;2026-01-31",
        "Jan;602 345 678;platinum;31.1.2026",
        "Ota;603 456 789;;",
    )
    uploaded = await upload(kraliki_client, h, content)
    assert uploaded.json()["suggested_mapping"] == {
        "Jméno": "name",
        "Telefon": "phones",
        "Tariff": "custom_fields.plan",
        "Since": "custom_fields.since",
    }
    state = await import_file(platform, kraliki_client, h, content)
    assert (state["created"], state["failed"]) == (1, 2), state
    assert await errors(kraliki_client, h, state["id"]) == [
        (3, "Since", "must be a date (YYYY-MM-DD)"),
        (3, "Tariff", "must be one of: gold, basic"),
        (4, "Tariff", "required"),
    ]
    [eva] = await contacts(platform, owner.tenant_id)
    assert eva["phones"] == ["+420601123456"]
    assert eva["custom_fields"] == {"plan": "gold", "since": "2026-01-31"}
    listed = await kraliki_client.get(base, headers=h, params={"q": "601123456"})
    assert [c["name"] for c in listed.json()["items"]] == ["Eva"]
