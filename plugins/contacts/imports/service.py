"""Imports without HTTP: start, cancel and delete an uploaded import, its error report,
saved mappings."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, tenant_scope, utcnow
from plugins.contacts.events import ImportCancelled
from plugins.contacts.fields import definitions
from plugins.contacts.imports import mapping as mappings
from plugins.contacts.imports.csvfile import neutralise
from plugins.contacts.imports.job import TOPIC
from plugins.contacts.imports.problems import (
    IMPORT_NOT_FOUND,
    IMPORT_STATE,
    INVALID_MAPPING,
    MAPPING_EXISTS,
    MAPPING_NOT_FOUND,
)
from plugins.contacts.models import (
    ContactImport,
    ImportChunk,
    ImportMapping,
    ImportRowError,
    ImportStatus,
)
from plugins.contacts.problems import located

ERROR_PAGE = 1000


async def get_import(session: AsyncSession, import_id: uuid.UUID) -> ContactImport:
    job = await session.scalar(select(ContactImport).where(ContactImport.id == import_id))
    if job is None:
        raise ProblemError(IMPORT_NOT_FOUND)
    return job


async def suggested(session: AsyncSession, job: ContactImport) -> dict[str, str]:
    return mappings.suggest(job.columns, await definitions(session))


async def start(
    session: AsyncSession,
    platform: Platform,
    job: ContactImport,
    *,
    mapping: dict[str, str] | None,
    mapping_id: uuid.UUID | None,
    duplicates: str | None,
    match_on: str | None,
    dry_run: bool,
    wake: bool = True,
) -> ContactImport:
    """Queue an uploaded import (or a finished dry run, again) with a checked mapping."""
    again = job.status == ImportStatus.COMPLETED and job.dry_run
    if job.status != ImportStatus.UPLOADED and not again:
        raise ProblemError(
            IMPORT_STATE,
            f"an import that is {job.status} cannot start",
            import_status=job.status,
        )
    fields = await definitions(session)
    saved = await get_mapping(session, mapping_id) if mapping_id is not None else None
    if mapping is None:
        mapping = (
            dict(saved.mapping) if saved is not None else mappings.suggest(job.columns, fields)
        )
    if duplicates is None:
        duplicates = saved.duplicates if saved is not None else "skip"
    if match_on is None and saved is not None:
        match_on = saved.match_on
    if saved is not None and mapping_id is not None:
        mapping = {
            c: t for c, t in mapping.items() if c in job.columns
        }  # a saved one fits many files
    errors = mappings.check(mapping, columns=job.columns, fields=fields, match_on=match_on)
    if errors:
        raise ProblemError(INVALID_MAPPING, "the mapping cannot be used", errors=located(errors))
    mapping = {c: t for c, t in mapping.items() if t != mappings.IGNORE}
    if again:
        await session.execute(delete(ImportRowError).where(ImportRowError.import_id == job.id))
        job.rows_done = job.created_count = job.updated_count = 0
        job.skipped_count = job.failed_count = 0
        job.started_at = job.finished_at = None
        job.error = None
    job.mapping = mapping
    job.duplicates = duplicates
    job.match_on = match_on or mappings.default_match_on(mapping)
    job.dry_run = dry_run
    job.cancel_requested = False
    job.status = ImportStatus.QUEUED.value
    if wake:
        await platform.jobs.wake(session, TOPIC)
    await session.commit()
    return job


async def cancel(session: AsyncSession, platform: Platform, job: ContactImport) -> ContactImport:
    """A running import stops at its next batch boundary; one not running yet stops now."""
    if job.status == ImportStatus.RUNNING:
        await session.execute(
            update(ContactImport)
            .where(ContactImport.id == job.id)
            .values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        await session.refresh(job)
        return job
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.QUEUED):
        raise ProblemError(
            IMPORT_STATE,
            f"an import that is {job.status} cannot be cancelled",
            import_status=job.status,
        )
    moved = await session.execute(
        update(ContactImport)
        .where(ContactImport.id == job.id, ContactImport.status == job.status)
        .values(status=ImportStatus.CANCELLED.value, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(moved, "rowcount", 0):  # the job picked it up meanwhile
        await session.rollback()
        await session.refresh(job)
        return await cancel(session, platform, job)
    await session.refresh(job)
    await platform.events.publish(
        session,
        ImportCancelled(
            import_id=job.id,
            status=job.status,
            dry_run=job.dry_run,
            rows_total=job.rows_total,
            rows_done=job.rows_done,
        ),
    )
    await session.commit()
    return job


async def delete_import(session: AsyncSession, job: ContactImport) -> None:
    """Forget an import, its file and its error report (the contacts it made stay)."""
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        raise ProblemError(
            IMPORT_STATE,
            f"an import that is {job.status} cannot be deleted",
            import_status=job.status,
        )
    await session.execute(delete(ImportChunk).where(ImportChunk.import_id == job.id))
    await session.execute(delete(ImportRowError).where(ImportRowError.import_id == job.id))
    await session.delete(job)
    await session.commit()


async def error_page(
    session: AsyncSession, import_id: uuid.UUID, *, after: tuple[int, str] | None, limit: int
) -> list[ImportRowError]:
    query = select(ImportRowError).where(ImportRowError.import_id == import_id)
    if after is not None:
        row, column = after
        query = query.where(
            (ImportRowError.row_number > row)
            | ((ImportRowError.row_number == row) & (ImportRowError.column > column))
        )
    query = query.order_by(ImportRowError.row_number, ImportRowError.column).limit(limit)
    return list(await session.scalars(query))


async def error_report(
    platform: Platform, import_id: uuid.UUID, *, tenant_id: uuid.UUID
) -> AsyncIterator[str]:
    """The error report as CSV text (row, column, reason), formula cells neutralised; read a
    page at a time in sessions of its own (the response streams after the route returned)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "column", "reason"])
    yield "\ufeff" + _take(buffer)
    after: tuple[int, str] | None = None
    while True:
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                page = await error_page(session, import_id, after=after, limit=ERROR_PAGE)
        for error in page:
            writer.writerow(
                [str(error.row_number), neutralise(error.column), neutralise(error.reason)]
            )
        if page:
            yield _take(buffer)
            after = (page[-1].row_number, page[-1].column)
        if len(page) < ERROR_PAGE:
            return


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# -- saved mappings -----------------------------------------------------------------------


async def get_mapping(session: AsyncSession, mapping_id: uuid.UUID) -> ImportMapping:
    found = await session.scalar(select(ImportMapping).where(ImportMapping.id == mapping_id))
    if found is None:
        raise ProblemError(MAPPING_NOT_FOUND)
    return found


async def _check_saved(
    session: AsyncSession, mapping: dict[str, str], match_on: str | None
) -> dict[str, str]:
    errors = mappings.check(
        mapping, columns=None, fields=await definitions(session), match_on=match_on
    )
    if errors:
        raise ProblemError(INVALID_MAPPING, "the mapping cannot be used", errors=located(errors))
    return dict(mapping)


async def create_mapping(
    session: AsyncSession,
    *,
    name: str,
    mapping: dict[str, str],
    duplicates: str,
    match_on: str | None,
) -> ImportMapping:
    saved = ImportMapping(
        name=name.strip(),
        mapping=await _check_saved(session, mapping, match_on),
        duplicates=duplicates,
        match_on=match_on,
    )
    session.add(saved)
    await _commit_named(session, saved.name)
    return saved


async def update_mapping(
    session: AsyncSession, saved: ImportMapping, changes: dict[str, Any]
) -> ImportMapping:
    mapping = changes.get("mapping", saved.mapping)
    match_on = changes.get("match_on", saved.match_on)
    saved.mapping = await _check_saved(session, mapping, match_on)
    saved.match_on = match_on
    if changes.get("name") is not None:
        saved.name = changes["name"].strip()
    if changes.get("duplicates") is not None:
        saved.duplicates = changes["duplicates"]
    await _commit_named(session, saved.name)
    return saved


async def _commit_named(session: AsyncSession, name: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ProblemError(MAPPING_EXISTS, f"a saved mapping is named {name!r}") from None


async def delete_mapping(session: AsyncSession, saved: ImportMapping) -> None:
    await session.delete(saved)
    await session.commit()
