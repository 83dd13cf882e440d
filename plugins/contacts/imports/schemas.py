"""Request and response bodies of contact imports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from plugins.contacts.models import ContactImport, ImportStatus

Duplicates = Literal["skip", "update", "create"]
MatchOn = Literal["phone", "email", "external_id"]
MappingBody = dict[str, str]
FINISHED = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED)


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: MappingBody | None = Field(
        default=None,
        description="Column name -> target: `name`, `company`, `external_id`, "
        "`address_line1`, `address_line2`, `city`, `region`, `postal_code`, `country`, "
        "`time_zone`, `owner_id`, `phones` (or `phones:<type>`: mobile, work, home, fax, "
        "other), `emails`, `tags`, `custom_fields.<key>` or `ignore`. Columns left out are "
        "ignored. Default: the saved mapping (`mapping_id`), else `suggested_mapping`.",
    )
    mapping_id: uuid.UUID | None = Field(default=None, description="A saved mapping to use.")
    duplicates: Duplicates | None = Field(
        default=None,
        description="A row matching an existing contact (or an earlier row of the file): "
        "`skip` it, `update` the contact with the row's non-empty cells, or `create` another "
        "contact anyway. Default: the saved mapping's, else `skip`.",
    )
    match_on: MatchOn | None = Field(
        default=None,
        description="What makes a row the same contact. Default: `external_id` when a column "
        "is mapped to it, else `phone`, else `email`.",
    )
    dry_run: bool = Field(
        default=False,
        description="Check every row and count what would happen, writing no contact; the "
        "error report is kept. A finished dry run can then be started for real.",
    )


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    size_bytes: int
    status: str = Field(
        description="uploading, uploaded, queued, running, completed, failed or cancelled."
    )
    dry_run: bool
    encoding: str | None = Field(
        description="utf-8, utf-8-sig (with BOM), utf-16, cp1252 or latin-1."
    )
    delimiter: str | None
    columns: list[str] = Field(description="The header row (made unique: `Phone (2)`).")
    suggested_mapping: dict[str, str] = Field(
        default_factory=dict, description="A target for each column, guessed from its name."
    )
    mapping: dict[str, str]
    duplicates: str
    match_on: str | None
    rows_total: int | None = Field(
        description="Rows below the header (counted at upload; exact once completed)."
    )
    rows_done: int = Field(description="Rows processed and committed: rows 1..rows_done.")
    percent: float
    created: int
    updated: int
    skipped: int
    failed: int
    landed_rows: int = Field(
        description="Rows of the file whose outcome is committed (the rows after them were not "
        "imported when the import failed or was cancelled)."
    )
    landed: str = Field(description="What landed, in words.")
    error: str | None
    cancel_requested: bool
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: ContactImport, suggested: dict[str, str] | None = None) -> ImportOut:
        total = job.rows_total
        percent = 100.0 if job.status == ImportStatus.COMPLETED else 0.0
        if total and job.status != ImportStatus.COMPLETED:
            percent = round(min(job.rows_done / total, 1.0) * 100, 1)
        return cls(
            id=job.id,
            filename=job.filename,
            size_bytes=job.size_bytes,
            status=job.status,
            dry_run=job.dry_run,
            encoding=job.encoding,
            delimiter=job.delimiter,
            columns=job.columns,
            suggested_mapping=suggested or {},
            mapping=job.mapping,
            duplicates=job.duplicates,
            match_on=job.match_on,
            rows_total=total,
            rows_done=job.rows_done,
            percent=percent,
            created=job.created_count,
            updated=job.updated_count,
            skipped=job.skipped_count,
            failed=job.failed_count,
            landed_rows=job.rows_done,
            landed=landed(job),
            error=job.error,
            cancel_requested=job.cancel_requested,
            created_by=job.created_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


def landed(job: ContactImport) -> str:
    """Which rows of the file landed, said plainly, numbered as in the error report (the
    header is row 1, so the first contact is row 2)."""
    done = job.rows_done
    last = done + 1
    counts = (
        f"{job.created_count} created, {job.updated_count} updated, "
        f"{job.skipped_count} skipped, {job.failed_count} failed"
    )
    if job.dry_run:
        if job.status == ImportStatus.COMPLETED:
            return f"Dry run of all {done} rows, nothing written: would be {counts}."
        return f"Dry run, nothing written; rows 2-{last} checked so far: {counts}."
    status = job.status
    if not done and status in (
        ImportStatus.UPLOADING,
        ImportStatus.UPLOADED,
        ImportStatus.QUEUED,
        ImportStatus.RUNNING,
    ):
        return "Nothing imported yet."
    if status == ImportStatus.COMPLETED:
        return f"All {done} rows processed (rows 2-{last}): {counts}."
    if status in (ImportStatus.RUNNING, ImportStatus.QUEUED):
        return f"Rows 2-{last} processed so far: {counts}."
    verb = "failed" if status == ImportStatus.FAILED else "was cancelled"
    if not done:
        return f"The import {verb} before any row was imported: nothing landed."
    return (
        f"The import {verb} after row {last}: rows 2-{last} landed ({counts}); "
        f"no row after {last} was imported."
    )


class RowErrorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    row: int = Field(description="The row in the file, the header being row 1.")
    column: str = Field(description="The column's name (empty: the row as a whole).")
    reason: str


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    mapping: MappingBody
    duplicates: Duplicates = "skip"
    match_on: MatchOn | None = None


class MappingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    mapping: MappingBody | None = None
    duplicates: Duplicates | None = None
    match_on: MatchOn | None = None


class MappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    mapping: dict[str, str]
    duplicates: str
    match_on: str | None
    created_at: datetime
    updated_at: datetime
