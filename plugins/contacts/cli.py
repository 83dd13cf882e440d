"""``kraliki contacts``: import a CSV file of contacts and export contacts, from a terminal.

The import is the same as through the API (the file stored in the database, the same job
code), run in this process with a progress bar; a server's job worker finishes it if this
command dies half-way.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from kernel import Platform, ProblemError, Tenant, open_platform, tenant_scope, utcnow
from plugins.contacts.config import CONTACTS_SETTINGS
from plugins.contacts.imports import service
from plugins.contacts.imports.export import check_segment, export_csv
from plugins.contacts.imports.job import TOPIC
from plugins.contacts.imports.runner import process
from plugins.contacts.imports.schemas import landed
from plugins.contacts.imports.upload import store
from plugins.contacts.models import ContactImport, ImportMapping, ImportStatus

READ_BYTES = 256 * 1024
FINISHED = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED)


@click.group()
def contacts() -> None:
    """Contacts: import a CSV file, export contacts."""


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", required=True, help="The organization: its slug or id.")
@click.option("--mapping", "mapping_name", help="A saved column mapping, by name.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=TARGET",
    help="Map a column (repeat; default: the mapping suggested from the header).",
)
@click.option("--duplicates", type=click.Choice(["skip", "update", "create"]))
@click.option("--match-on", type=click.Choice(["phone", "email", "external_id"]))
@click.option("--dry-run", is_flag=True, help="Check and count every row, write no contact.")
@click.option(
    "--errors",
    "errors_to",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the error report (row, column, reason) to this CSV file.",
)
def import_file(
    file: Path,
    tenant: str,
    mapping_name: str | None,
    maps: tuple[str, ...],
    duplicates: str | None,
    match_on: str | None,
    dry_run: bool,
    errors_to: Path | None,
) -> None:
    """Import FILE (CSV with a header row) into the organization's contacts."""
    if mapping_name and maps:
        raise click.UsageError("give --mapping or --map, not both")
    mapping: dict[str, str] | None = None
    if maps:
        mapping = {}
        for item in maps:
            column, sep, target = item.rpartition("=")
            if not sep or not column.strip():
                raise click.BadParameter(f"{item!r} is not COLUMN=TARGET", param_hint="--map")
            mapping[column.strip()] = target.strip()
    options = {
        "mapping": mapping,
        "mapping_name": mapping_name,
        "duplicates": duplicates,
        "match_on": match_on,
        "dry_run": dry_run,
    }
    job = asyncio.run(_import(file, tenant, options, errors_to))
    if job.status != ImportStatus.COMPLETED:
        raise SystemExit(1)


async def _import(
    file: Path, tenant: str, options: dict[str, Any], errors_to: Path | None
) -> ContactImport:
    async with open_platform() as platform:
        tenant_id = await _tenant_id(platform, tenant)
        with tenant_scope(tenant_id):
            settings = CONTACTS_SETTINGS.get(platform)
            async with platform.database.session() as session:
                try:
                    job = await store(
                        session,
                        _read(file),
                        filename=lambda: file.name,
                        max_bytes=settings.import_max_bytes,
                        chunk_bytes=settings.import_chunk_bytes,
                        created_by="cli",
                    )
                    click.echo(
                        f"{file.name}: {job.rows_total} rows, {job.encoding}, "
                        f"separator {job.delimiter!r}; import {job.id}",
                        err=True,
                    )
                    mapping_id = await _mapping_id(session, options.pop("mapping_name"))
                    # If this process dies, a server's job worker takes the import over
                    # once it would have finished its own lease.
                    lease = timedelta(seconds=platform.settings.jobs_lease_seconds)
                    await platform.jobs.wake(session, TOPIC, at=utcnow() + lease)
                    job = await service.start(
                        session, platform, job, mapping_id=mapping_id, wake=False, **options
                    )
                except ProblemError as exc:
                    raise click.ClickException(_problem(exc)) from None
            for column, target in sorted(job.mapping.items()):
                click.echo(f"  {column} -> {target}", err=True)
            job = await _run(platform, job)
            click.echo(landed(job))
            if job.error:
                click.echo(f"error: {job.error}", err=True)
            if job.failed_count:
                if errors_to is not None:
                    with errors_to.open("w", encoding="utf-8", newline="") as out:
                        async for text in service.error_report(
                            platform, job.id, tenant_id=tenant_id
                        ):
                            out.write(text)
                    click.echo(f"error report: {errors_to}")
                else:
                    click.echo(
                        f"error report: GET /api/v1/contacts/imports/{job.id}/errors.csv "
                        "(or run again with --errors FILE)"
                    )
            return job


async def _run(platform: Platform, job: ContactImport) -> ContactImport:
    """Run the import here, with a progress bar of rows done out of the total."""
    state: dict[str, Any] = {"job": job}
    with click.progressbar(
        length=max(job.rows_total or 0, 1), label="Importing", file=sys.stderr
    ) as bar:
        shown = 0

        def progressed(current: ContactImport) -> None:
            nonlocal shown
            state["job"] = current
            bar.update(max(current.rows_done - shown, 0))
            shown = max(shown, current.rows_done)

        while not await process(platform, job.id, budget_seconds=60, on_progress=progressed):
            pass
    async with platform.database.session() as session:
        while True:  # another worker may have had it: wait for the end
            current = await service.get_import(session, job.id)
            if current.status in FINISHED:
                return current
            await asyncio.sleep(1)
            await session.rollback()


async def _read(file: Path) -> AsyncIterator[bytes]:
    with file.open("rb") as handle:
        while data := await asyncio.to_thread(handle.read, READ_BYTES):
            yield data


async def _mapping_id(session: Any, name: str | None) -> uuid.UUID | None:
    if name is None:
        return None
    found: uuid.UUID | None = await session.scalar(
        select(ImportMapping.id).where(ImportMapping.name == name)
    )
    if found is None:
        raise click.ClickException(f"no saved mapping named {name!r}")
    return found


def _problem(exc: ProblemError) -> str:
    text = exc.detail or exc.problem.title
    for error in exc.extensions.get("errors", []):
        text += f"\n  {error['field']}: {error['reason']}"
    return text


@contacts.command("export")
@click.option("--tenant", required=True, help="The organization: its slug or id.")
@click.option("--segment", "segment_id", type=click.UUID, help="Only this segment's contacts.")
def export(tenant: str, segment_id: uuid.UUID | None) -> None:
    """Write every contact (or a segment's) as CSV to standard output (formula cells
    neutralised)."""
    asyncio.run(_export(tenant, segment_id))


async def _export(tenant: str, segment_id: uuid.UUID | None) -> None:
    async with open_platform() as platform:
        tenant_id = await _tenant_id(platform, tenant)
        if segment_id is not None and not await check_segment(
            platform, tenant_id=tenant_id, segment_id=segment_id
        ):
            raise click.ClickException("the organization has no segment with this id")
        with tenant_scope(tenant_id):
            out = sys.stdout.buffer
            async for text in export_csv(platform, tenant_id=tenant_id, segment_id=segment_id):
                out.write(text.encode("utf-8"))
            out.flush()


async def _tenant_id(platform: Platform, tenant: str) -> uuid.UUID:
    try:
        wanted = Tenant.id == uuid.UUID(tenant)
    except ValueError:
        wanted = Tenant.slug == tenant
    async with platform.database.session() as session:
        found = await session.scalar(select(Tenant.id).where(wanted))
    if found is None:
        raise click.ClickException(f"no tenant {tenant!r}")
    return found
