"""Files as people have them: encodings, separators, quoted fields, and files that cannot be
imported (empty, binary, too large), refused with a clear reason and nothing kept."""

from __future__ import annotations

import imports_helpers
import pytest
from imports_helpers import IMPORTS, contacts, csv_bytes, errors, import_file, upload
from sqlalchemy import func, select

from kernel import tenant_scope
from plugins.contacts.models import ContactImport, ImportChunk

kraliki_app, platform, owner, import_settings = imports_helpers.FIXTURES


async def _names(platform, tenant_id) -> list[str]:
    return sorted(c["name"] for c in await contacts(platform, tenant_id))


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (csv_bytes("Name;Phone", "Zoë Éclair;2015550123", encoding="utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + csv_bytes("Name;Phone", "Zoë Éclair;2015550123"), "utf-8-sig"),
        (csv_bytes("Name;Phone", "Zoë Éclair;2015550123", encoding="cp1252"), "cp1252"),
        (csv_bytes("Name;Phone", "Zoë Éclair;2015550123", encoding="utf-16"), "utf-16"),
        # 0x81 is not a cp1252 character: the file can only be Latin-1.
        (csv_bytes("Name;Phone", "Zoë Éclair\x81;2015550123", encoding="latin-1"), "latin-1"),
    ],
    ids=["utf-8", "utf-8-bom", "cp1252", "utf-16", "latin-1"],
)
async def test_encodings_and_the_semicolon(kraliki_client, owner, platform, content, encoding):
    uploaded = await upload(kraliki_client, owner.headers, content)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["encoding"] == encoding
    assert uploaded.json()["delimiter"] == ";"
    assert uploaded.json()["columns"] == ["Name", "Phone"]
    state = await import_file(platform, kraliki_client, owner.headers, content)
    assert state["created"] == 1, state
    expected = "Zoë Éclair\x81" if encoding == "latin-1" else "Zoë Éclair"
    assert await _names(platform, owner.tenant_id) == [expected]


async def test_tabs_crlf_quotes_with_newlines_and_separators(kraliki_client, owner, platform):
    content = (
        b"Name\tCompany\tPhone\tNotes\r\n"
        b'"Dana\r\nSecond line"\t"Tabs\tand ""quotes"""\t2015550101\tx\r\n'
        b"\r\n"
        b'Eve\t"Comma, Inc; Ltd"\t2015550102\t"multi\nline\nnote"\r\n'
    )
    uploaded = await upload(kraliki_client, owner.headers, content)
    assert uploaded.json()["delimiter"] == "\t"
    assert uploaded.json()["rows_total"] == 3  # the blank line is a row, as in a spreadsheet
    state = await import_file(platform, kraliki_client, owner.headers, content)
    assert (state["created"], state["skipped"], state["failed"]) == (2, 1, 0), state
    people = {c["company"]: c for c in await contacts(platform, owner.tenant_id)}
    assert people['Tabs and "quotes"']["name"] == "Dana Second line"  # names are one line
    assert people["Comma, Inc; Ltd"]["phones"] == ["+12015550102"]


@pytest.mark.parametrize("import_settings", [{"import_chunk_bytes": 4096}])
async def test_a_record_longer_than_a_stored_chunk(kraliki_client, owner, platform):
    """Records cross the pieces the file is stored in (4 KiB here) and still read whole."""
    note = "é" * 3000  # 6,000 bytes in one quoted field
    rows = ["Name,Note,Phone"] + [f'P{i},"{note}\n{i}",201555{1000 + i}' for i in range(6)]
    state = await import_file(platform, kraliki_client, owner.headers, csv_bytes(*rows))
    assert state["created"] == 6, state


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf", "the file is empty"),
        (b"\n\nName\n", "the first line (the header row: column names) is empty"),
        (b"PK\x03\x04\x00\x00binary", "this is not a text file"),
    ],
    ids=["empty", "bom-only", "blank-header", "binary"],
)
async def test_files_that_cannot_be_imported(kraliki_client, owner, platform, content, reason):
    response = await upload(kraliki_client, owner.headers, content)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/contacts-import-unreadable"
    assert response.json()["detail"].startswith(reason)
    assert await _stored(platform, owner.tenant_id) == (0, 0)


async def test_a_request_without_a_file_part(kraliki_client, owner):
    response = await kraliki_client.post(
        IMPORTS, headers=owner.headers, files={"other": ("x.csv", b"Name\nA\n", "text/csv")}
    )
    assert response.status_code == 422
    assert "no part named `file`" in response.json()["detail"]
    plain = await kraliki_client.post(IMPORTS, headers=owner.headers, content=b"Name\nA\n")
    assert plain.status_code == 422
    assert "multipart/form-data" in plain.json()["detail"]


@pytest.mark.parametrize(
    "import_settings", [{"import_max_bytes": 2048, "import_chunk_bytes": 4096}]
)
async def test_a_file_over_the_limit_is_refused_and_nothing_kept(kraliki_client, owner, platform):
    content = csv_bytes("Name,Phone", *(f"Person {i},+1201555{i:04d}" for i in range(200)))
    assert len(content) > 4096  # more than one stored piece would be needed
    response = await upload(kraliki_client, owner.headers, content)
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "/problems/contacts-import-too-large"
    assert response.json()["limit_bytes"] == 2048
    assert await _stored(platform, owner.tenant_id) == (0, 0)
    small = await upload(kraliki_client, owner.headers, csv_bytes("Name", "Ann"))
    assert small.status_code == 201


async def _stored(platform, tenant_id) -> tuple[int, int]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            imports = await session.scalar(select(func.count()).select_from(ContactImport))
            chunks = await session.scalar(select(func.count()).select_from(ImportChunk))
    return imports or 0, chunks or 0


async def test_ten_thousand_invalid_numbers(kraliki_client, owner, platform):
    """Every bad row is reported (row, column, reason); the good ones land."""
    rows = ["Name,Phone"]
    for i in range(2000):
        rows.append(f"Good {i},+1201555{i:04d}" if i % 10 == 0 else f"Bad {i},12{i}")
    state = await import_file(platform, kraliki_client, owner.headers, csv_bytes(*rows))
    assert (state["created"], state["failed"]) == (200, 1800), state
    reported = await errors(kraliki_client, owner.headers, state["id"])
    assert len(reported) == 1800
    assert reported[0] == (3, "Phone", "not a valid number in its numbering plan")
    assert {column for _, column, _ in reported} == {"Phone"}
    assert len(await contacts(platform, owner.tenant_id)) == 200
