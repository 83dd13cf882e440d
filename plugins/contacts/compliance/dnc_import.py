"""Import a do-not-call file: one number per line, or a CSV (``,`` ``;`` or tab) with a column
of numbers (``number``, ``phone``, ``phone_number``, ``telephone``, ``mobile``..., case and
accents ignored: ``Téléphone``).

Rows are normalised and written in batches (``import_batch_rows``), each batch one
``INSERT ... ON CONFLICT DO NOTHING``; the import is one transaction: it lands whole or not
at all. Row numbers count the file's records from 1 (the header, when there is one, is 1).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, current_tenant_id, utcnow
from plugins.contacts.compliance.dnc import DncKind, DncSource
from plugins.contacts.events import DncImported
from plugins.contacts.models import DncEntry
from plugins.contacts.phones import InvalidNumber, normalize

NUMBER_COLUMNS = frozenset(
    {
        "number",
        "numbers",
        "phone",
        "phones",
        "phone_number",
        "phonenumber",
        "telephone",
        "telephone_number",
        "tel",
        "mobile",
        "mobile_number",
        "cell",
        "msisdn",
        "e164",
        "telefon",
        "telefono",
        "numero",
        "telefonni_cislo",
    }
)
INSERT_ROWS = 1000
"""Rows per INSERT statement (11 parameters each: under every driver's limit)."""
MAX_REPORTED = 1000
"""Invalid rows listed in the answer (all are counted)."""
csv.field_size_limit(64 * 1024)


class NoNumberColumnError(ValueError):
    pass


@dataclass
class InvalidRow:
    row: int
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    already_listed: int = 0
    invalid: int = 0
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    encoding: str = ""
    delimiter: str | None = None

    def reject(self, row: int, reason: str) -> None:
        self.invalid += 1
        if len(self.invalid_rows) < MAX_REPORTED:
            self.invalid_rows.append(InvalidRow(row, reason))


def _column_name(text: str) -> str:
    """``Téléphone`` -> ``telephone``, ``Phone Number`` -> ``phone_number``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.strip().lower()).strip("_")


def _delimiter(first_line: str) -> str | None:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def numbers_of(file: IO[bytes], encoding: str, report: ImportReport) -> Iterator[tuple[int, str]]:
    """(row number, cell) of every non-empty number cell; sets ``report.delimiter``."""
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    first = text.readline()
    delimiter = _delimiter(first)
    report.delimiter = delimiter
    rest = text
    lines = _chain(first, rest)
    reader = csv.reader(lines, delimiter=delimiter or "\x00")
    header = next(reader, None)
    if header is None:
        return
    names = [_column_name(cell) for cell in header]
    column = next((i for i, name in enumerate(names) if name in NUMBER_COLUMNS), None)
    row = 1
    if column is None:
        if delimiter is not None and len(header) > 1:
            raise NoNumberColumnError("no column of numbers in the header")
        column = 0
        if header and header[0].strip():
            yield row, header[0]
    for cells in reader:
        row += 1
        if column < len(cells) and cells[column].strip():
            yield row, cells[column]
        elif any(c.strip() for c in cells):
            report.reject(row, "no number in the row")


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


async def import_file(
    platform: Platform,
    session: AsyncSession,
    file: IO[bytes],
    *,
    encoding: str,
    default_country: str,
    reason: str,
    added_by: str | None,
    batch_rows: int,
) -> ImportReport:
    """Read, check and list every number of ``file``; publish ``DncImported``. The caller
    commits (one transaction)."""
    report = ImportReport(encoding="utf-8" if encoding == "utf-8-sig" else encoding)
    batch: dict[str, int] = {}
    for row, cell in numbers_of(file, encoding, report):
        report.rows = row
        try:
            e164 = normalize(cell, default_country=default_country).e164
        except InvalidNumber as exc:
            report.reject(row, str(exc))
            continue
        if e164 in batch:
            report.already_listed += 1
            continue
        batch[e164] = row
        if len(batch) >= batch_rows:
            await _write(session, list(batch), report, reason=reason, added_by=added_by)
            batch.clear()
            await asyncio.sleep(0)  # let other requests in between batches
    if batch:
        await _write(session, list(batch), report, reason=reason, added_by=added_by)
    await platform.events.publish(
        session,
        DncImported(
            added=report.added, already_listed=report.already_listed, invalid=report.invalid
        ),
    )
    return report


async def _write(
    session: AsyncSession,
    numbers: list[str],
    report: ImportReport,
    *,
    reason: str,
    added_by: str | None,
) -> None:
    today = utcnow().date()
    expired = list(
        await session.scalars(
            select(DncEntry.id).where(
                DncEntry.kind == DncKind.NUMBER,
                DncEntry.value.in_(numbers),
                DncEntry.expires_on.is_not(None),
                DncEntry.expires_on <= today,
            )
        )
    )
    if expired:  # listed once, expired since: listed again, for good
        await session.execute(
            update(DncEntry)
            .where(DncEntry.id.in_(expired))
            .values(
                expires_on=None,
                reason=reason,
                source=DncSource.IMPORT.value,
                added_by=added_by,
                updated_at=utcnow(),
            )
        )
    tenant_id = current_tenant_id()
    now = utcnow()
    rows = [
        {
            "tenant_id": tenant_id,
            "id": uuid.uuid4(),
            "kind": DncKind.NUMBER.value,
            "value": number,
            "number_hash": "",
            "reason": reason,
            "source": DncSource.IMPORT.value,
            "added_by": added_by,
            "expires_on": None,
            "created_at": now,
            "updated_at": now,
        }
        for number in numbers
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = DncEntry.__table__
    inserted = 0
    for start in range(0, len(rows), INSERT_ROWS):
        statement = (
            dialect.insert(table)
            .values(rows[start : start + INSERT_ROWS])
            .on_conflict_do_nothing()
            .returning(table.c.id)
        )
        inserted += len((await session.execute(statement)).all())
    report.added += inserted + len(expired)
    report.already_listed += len(numbers) - inserted - len(expired)
