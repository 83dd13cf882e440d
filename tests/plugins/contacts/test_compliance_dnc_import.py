"""Importing a do-not-call file: one number per line or a CSV, in UTF-8 (with or without a BOM)
or Latin-1, ``,`` or ``;``; invalid rows reported by row number; a file over the limit refused
before it is read to the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from compliance_helpers import DNC, add_dnc, decide

from kernel.testing import published_events

IMPORT = f"{DNC}/import"
LIMIT = 64 * 1024


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 64 KiB file limit and batches of 3 rows, so a small file crosses batches."""
    monkeypatch.setenv("KRALIKI_CONTACTS_IMPORT_MAX_BYTES", str(LIMIT))
    monkeypatch.setenv("KRALIKI_CONTACTS_IMPORT_BATCH_ROWS", "3")


@pytest.fixture
async def alpha(kraliki_make_owner):
    return await kraliki_make_owner("alpha")


async def send(client, headers, content: bytes, *, filename: str = "dnc.csv", **fields: str):
    return await client.post(
        IMPORT,
        files={"file": (filename, content, "text/csv")},
        data=fields,
        headers=headers,
    )


async def listed(client, headers) -> list[str]:
    page = await client.get(DNC, params={"limit": 200}, headers=headers)
    assert page.status_code == 200, page.text
    return sorted(item["value"] for item in page.json()["items"])


async def test_one_number_per_line_with_a_bom(kraliki_client, kraliki_platform, alpha):
    await add_dnc(kraliki_client, alpha.headers, "+14155550103")
    content = "\ufeff+1 415 555 0101\n(415) 555-0102\n\n4155550103\n+14155550101\n+14155550104\n"

    response = await send(kraliki_client, alpha.headers, content.encode(), reason="registry")

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["added"] == 3
    assert report["already_listed"] == 2  # +14155550103 listed before, +14155550101 twice
    assert report["invalid"] == 0
    assert report["encoding"] == "utf-8"
    assert report["delimiter"] is None
    assert await listed(kraliki_client, alpha.headers) == [
        f"+141555501{i:02d}" for i in range(1, 5)
    ]
    page = await kraliki_client.get(DNC, params={"source": "import"}, headers=alpha.headers)
    assert {item["reason"] for item in page.json()["items"]} == {"registry"}
    decision = await decide(kraliki_platform, alpha.tenant_id, "+14155550104")
    assert decision.rule == "dnc-number"
    imported = [
        p
        for n, p in await published_events(kraliki_platform, alpha.tenant_id)
        if n == "contacts.dnc.imported"
    ]
    assert [(p["added"], p["already_listed"], p["invalid"]) for p in imported] == [(3, 2, 0)]


async def test_a_semicolon_csv_in_latin_1_with_invalid_rows(kraliki_client, alpha):
    content = (
        "Nom;Téléphone;Raison\n"
        "Zoé;+33 1 42 68 53 00;demandé\n"
        "Rémi;pas un numéro;x\n"
        "Anaïs;;\n"
        "Noël;06 12 34 56 78;\n"
        "Irène;+14155550100;\n"
    ).encode("latin-1")

    response = await send(kraliki_client, alpha.headers, content)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["encoding"] == "latin-1"
    assert report["delimiter"] == ";"
    assert report["added"] == 2
    assert report["invalid"] == 3
    assert report["invalid_rows"] == [
        {"row": 3, "reason": "not a phone number"},
        {"row": 4, "reason": "no number in the row"},
        {"row": 5, "reason": "not a valid number in its numbering plan"},  # French, read as US
    ]
    assert report["rows"] == 6
    assert await listed(kraliki_client, alpha.headers) == ["+14155550100", "+33142685300"]


async def test_a_comma_csv_with_quoted_fields_and_a_phone_column(kraliki_client, alpha):
    content = (
        b'name,"Phone Number",note\r\n'
        b'"Roe, Jane","+1 (415) 555-0100","said ""stop"""\r\n'
        b'"Doe, John",+14155550101,\r\n'
    )

    response = await send(kraliki_client, alpha.headers, content)

    assert response.status_code == 200, response.text
    assert response.json()["added"] == 2
    assert response.json()["delimiter"] == ","
    assert await listed(kraliki_client, alpha.headers) == ["+14155550100", "+14155550101"]


async def test_the_invalid_rows_listed_are_capped_but_all_counted(kraliki_client, alpha):
    content = ("number\n" + "nope\n" * 1500).encode()

    response = await send(kraliki_client, alpha.headers, content)

    report = response.json()
    assert report["invalid"] == 1500
    assert len(report["invalid_rows"]) == 1000
    assert report["invalid_rows"][0] == {"row": 2, "reason": "not a phone number"}
    assert report["invalid_rows"][-1]["row"] == 1001


@pytest.mark.parametrize(
    ("request_kwargs", "detail"),
    [
        ({"content": b"+14155550100", "headers": {"content-type": "text/csv"}}, "multipart"),
        ({"files": {"other": ("x.csv", b"+14155550100")}}, "no 'file' part"),
        ({"files": {"file": ("x.csv", b"name,email\nJane,j@x.example\n")}}, "no column"),
    ],
    ids=["not-a-form", "no-file", "no-number-column"],
)
async def test_an_unreadable_upload_is_refused(kraliki_client, alpha, request_kwargs, detail):
    headers = {**alpha.headers, **request_kwargs.pop("headers", {})}

    response = await kraliki_client.post(IMPORT, headers=headers, **request_kwargs)

    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/contacts-dnc-file-unreadable")
    assert detail in response.json()["detail"]
    assert await listed(kraliki_client, alpha.headers) == []


async def test_a_declared_size_over_the_limit_is_refused_at_once(kraliki_client, alpha):
    content = b"+14155550100\n" * (LIMIT // 10)

    response = await send(kraliki_client, alpha.headers, content)

    assert response.status_code == 413, response.text
    assert response.json()["type"].endswith("/contacts-dnc-file-too-large")
    assert response.json()["limit_bytes"] == LIMIT
    assert await listed(kraliki_client, alpha.headers) == []


async def test_a_streamed_file_over_the_limit_is_refused_without_reading_the_rest(
    kraliki_client, alpha
):
    boundary = "dncboundary"
    pulled = 0
    chunks = 1000  # 8 MiB, 128 times the limit

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        for _ in range(chunks):
            pulled += 1
            yield b"+14155550100\n" * 630 + b"\n" * 2
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await kraliki_client.post(
        IMPORT,
        content=body(),
        headers={**alpha.headers, "content-type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 413, response.text
    assert pulled < 20
    assert await listed(kraliki_client, alpha.headers) == []
