"""A contact import of ``--rows`` (100,000) generated rows, through the real job code,
against the database's own bulk load of the same rows in the same run.

The file: name, company, a US number written nationally (``(415) 555-0132``: every one
parsed and normalised to E.164 with the default country), an e-mail, two tags, city,
region, country; ``--invalid`` of the rows have a number that is not valid (reported in the
error report instead). It is uploaded with the same code as ``POST /api/v1/contacts/imports``
(stored in pieces), then imported by ``process`` (what the ``contacts.import`` job runs) with
the default batch size, into an empty tenant (policy ``skip``, matching on the phone number,
so every batch also looks its numbers up).

Targets:

* baseline: PostgreSQL ``COPY ... FROM STDIN (FORMAT csv, HEADER)`` of the same file into a
  plain table with the same columns (through asyncpg); on SQLite, one ``executemany``
  ``INSERT`` of the parsed rows in one transaction;
* the import: rows/s from start to completed, the ratio to the baseline (goal: at least
  x0.25 of COPY on PostgreSQL);
* where its time goes: ``clean()`` (numbers, e-mails, tags) of the same rows alone, in this
  process; ``--profile`` prints the import's cProfile top functions;
* planner statistics: a running installation has them (autovacuum); a fresh schema has
  none, and PostgreSQL then plans the foreign-key checks of the number, e-mail and tag rows
  with an index scan over all of the tenant's contacts, so each batch costs more than the
  one before. On PostgreSQL the script first imports 1,000 contacts of another tenant and
  runs ``ANALYZE`` (``--cold-statistics`` skips that, to see the difference);
* memory: the process's resident set size (RSS) after the first 10% of the rows, half-way and
  at the end, and its peak (``ru_maxrss``): flat when the import streams.

    .venv/bin/python benchmarks/contacts_import.py [--rows 100000] [--invalid 0] [--profile]

PostgreSQL with ``KRALIKI_BENCH_DATABASE_URL`` and ``KRALIKI_BENCH_MIGRATION_DATABASE_URL``,
else SQLite.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import pstats
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from harness import Backend, bench_settings, create_tenant, database_version, machine, runner
from sqlalchemy import func, select, text

from kernel import open_platform, tenant_scope
from kernel._migrations import upgrade
from kernel._platform import resolve_plugins
from plugins.contacts.config import CONTACTS_SETTINGS
from plugins.contacts.imports import service
from plugins.contacts.imports.runner import process
from plugins.contacts.imports.upload import store
from plugins.contacts.models import Contact, ContactImport, ContactPhone
from plugins.contacts.phones import _normalize
from plugins.contacts.records import clean

GOAL = 0.25
AREAS = (201, 212, 305, 312, 415, 503, 512, 617, 646, 702, 713, 206, 303, 404, 602, 718)
COLUMNS = ("Name", "Company", "Phone", "Email", "Tags", "City", "State", "Country")
MAPPING = {
    "Name": "name",
    "Company": "company",
    "Phone": "phones",
    "Email": "emails",
    "Tags": "tags",
    "City": "city",
    "State": "region",
    "Country": "country",
}


def write_file(path: Path, rows: int, invalid: int, seed: int = 7) -> None:
    """The CSV file, written row by row (never built in memory)."""
    chooser = random.Random(seed)
    bad = set(chooser.sample(range(rows), invalid)) if invalid else set()
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(rows):
            area = AREAS[i % len(AREAS)]
            exchange = 200 + (i // len(AREAS)) // 10_000 % 800
            line = (i // len(AREAS)) % 10_000
            phone = f"12{i % 100}" if i in bad else f"({area}) {exchange}-{line:04d}"
            writer.writerow(
                [
                    f"Person {i}",
                    f"Company {i % 997}",
                    phone,
                    f"person{i}@example.com",
                    f"lead; batch-{i % 7}",
                    "Springfield",
                    "IL",
                    "US",
                ]
            )


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while data := handle.read(256 * 1024):
            yield data


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def baseline(backend: Backend, path: Path, rows: int) -> float:
    """Seconds to bulk-load the file into a plain table with the same columns."""
    columns = ", ".join(f"{c.lower()} text" for c in COLUMNS)
    if backend.dialect == "postgresql":
        engine = backend.owner_engine()
        try:
            async with engine.connect() as connection:
                await connection.execute(text(f'SET search_path TO "{backend.schema}"'))
                await connection.execute(text(f"CREATE TABLE bench_copy ({columns})"))
                await connection.commit()
                raw = await connection.get_raw_connection()
                driver: Any = raw.driver_connection
                started = time.perf_counter()
                await driver.copy_to_table(
                    "bench_copy",
                    source=str(path),
                    schema_name=backend.schema,
                    format="csv",
                    header=True,
                )
                elapsed = time.perf_counter() - started
                count = await connection.scalar(text("SELECT count(*) FROM bench_copy"))
        finally:
            await engine.dispose()
    else:
        assert backend.directory is not None
        database = sqlite3.connect(Path(backend.directory) / "baseline.db")
        database.execute(f"CREATE TABLE bench_copy ({columns})")
        started = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as source:
            reader = csv.reader(source)
            next(reader)
            with database:
                database.executemany(
                    f"INSERT INTO bench_copy VALUES ({', '.join('?' * len(COLUMNS))})", reader
                )
        elapsed = time.perf_counter() - started
        count = database.execute("SELECT count(*) FROM bench_copy").fetchone()[0]
        database.close()
    assert count == rows, count
    return elapsed


def clean_alone(path: Path, limit: int) -> float:
    """Microseconds per row of ``clean()`` on the file's first ``limit`` rows (the numbers'
    cache emptied first: the import saw each number once)."""
    _normalize.cache_clear()
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.reader(source)
        next(reader)
        rows = [row for _, row in zip(range(limit), reader, strict=False)]
    started = time.perf_counter()
    for name, company, phone, email, tags, city, state, country in rows:
        clean(
            {
                "name": name,
                "company": company,
                "phones": [{"number": phone}],
                "emails": [email],
                "tags": tags.split(";"),
                "city": city,
                "region": state,
                "country": country,
            },
            default_country="US",
            fields={},
            partial=True,
        )
    return (time.perf_counter() - started) / len(rows) * 1e6


async def run_import(platform: Any, path: Path, contacts_settings: Any) -> None:
    """An import of ``path`` run to its end, unmeasured."""
    async with platform.database.session() as session:
        job = await store(
            session,
            _read(path),
            filename=lambda: path.name,
            max_bytes=contacts_settings.import_max_bytes,
            chunk_bytes=contacts_settings.import_chunk_bytes,
            created_by="bench",
        )
        job = await service.start(
            session, platform, job, mapping=MAPPING, mapping_id=None, duplicates="skip",
            match_on="phone", dry_run=False, wake=False,
        )  # fmt: skip
    while not await process(platform, job.id):
        pass


async def analyze(backend: Backend) -> None:
    engine = backend.owner_engine()
    try:
        async with engine.connect() as connection:
            for table in (
                "contacts_contacts",
                "contacts_phones",
                "contacts_emails",
                "contacts_tags",
            ):
                await connection.execute(text(f'ANALYZE "{backend.schema}".{table}'))
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    backend = Backend.from_environment()
    await backend.create()
    workdir = Path(tempfile.mkdtemp(prefix="kraliki-bench-import-"))
    path = workdir / "contacts.csv"
    try:
        write_file(path, args.rows, args.invalid)
        settings, _ = bench_settings(backend, jwt_secret="x" * 40, jobs_lease_seconds=3600)
        await upgrade(settings, resolve_plugins(settings))
        version = await database_version(settings)
        copy_seconds = await baseline(backend, path, args.rows)
        async with open_platform(settings) as platform:
            contacts_settings = CONTACTS_SETTINGS.get(platform)
            if backend.dialect == "postgresql" and not args.cold_statistics:
                # A running installation has planner statistics on its tables (autovacuum);
                # a fresh schema has none, and PostgreSQL then plans the foreign-key checks
                # of the number, e-mail and tag rows badly (see docs/plugins/contacts.md).
                warm = workdir / "warm.csv"
                write_file(warm, 1_000, 0, seed=1)
                with tenant_scope(await create_tenant(platform.database, "warmup")):
                    await run_import(platform, warm, contacts_settings)
                await analyze(backend)
            tenant_id = await create_tenant(platform.database)
            with tenant_scope(tenant_id):
                started = time.perf_counter()
                async with platform.database.session() as session:
                    job = await store(
                        session,
                        _read(path),
                        filename=lambda: path.name,
                        max_bytes=contacts_settings.import_max_bytes,
                        chunk_bytes=contacts_settings.import_chunk_bytes,
                        created_by="bench",
                    )
                    upload_seconds = time.perf_counter() - started
                    job = await service.start(
                        session,
                        platform,
                        job,
                        mapping=MAPPING,
                        mapping_id=None,
                        duplicates="skip",
                        match_on="phone",
                        dry_run=False,
                        wake=False,
                    )
                marks: dict[str, float] = {}
                times: dict[str, float] = {}
                checkpoints = {
                    "10%": args.rows // 10,
                    "50%": args.rows // 2,
                    "100%": args.rows,
                }

                def progressed(current: ContactImport) -> None:
                    for label, at in checkpoints.items():
                        if label not in marks and current.rows_done >= at:
                            marks[label] = rss_mib()
                            times[label] = time.perf_counter()

                profiler = cProfile.Profile() if args.profile else None
                start_rss = rss_mib()
                started = time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                while not await process(platform, job.id, on_progress=progressed):
                    pass
                if profiler is not None:
                    profiler.disable()
                import_seconds = time.perf_counter() - started
                async with platform.database.session() as session:
                    final = (
                        await session.scalars(
                            select(ContactImport).where(ContactImport.id == job.id)
                        )
                    ).one()
                    contacts = await session.scalar(select(func.count()).select_from(Contact))
                    numbers = await session.scalar(select(func.count()).select_from(ContactPhone))
        assert final.status == "completed", (final.status, final.error)
        assert contacts == final.created_count == args.rows - args.invalid, contacts
        assert numbers == contacts
        size = path.stat().st_size / 2**20
        copy_rate = args.rows / copy_seconds
        import_rate = args.rows / import_seconds
        clean_us = clean_alone(path, min(args.rows, 20_000))
        print(f"contact import of {args.rows:,} rows ({size:.1f} MiB, {args.invalid:,} invalid)")
        print(machine(version))
        print(
            f"database: {backend.describe()}; batch {contacts_settings.import_batch_rows} rows, "
            f"stored in pieces of {contacts_settings.import_chunk_bytes // 1024} KiB"
        )
        if backend.dialect == "postgresql":
            print(
                "planner statistics: "
                + (
                    "none (--cold-statistics)"
                    if args.cold_statistics
                    else "ANALYZE after a 1,000-row warm-up import of another tenant"
                )
            )
        print()
        base = "COPY (FORMAT csv)" if backend.dialect == "postgresql" else "executemany INSERT"
        print(f"{'target':<44} {'seconds':>8} {'rows/s':>9} {'ratio':>6}")
        print("-" * 70)
        label = f"baseline: {base} into a plain table"
        print(f"{label:<44} {copy_seconds:8.2f} {copy_rate:9.0f} {1:6.2f}")
        print(
            f"{'import (job code, numbers normalised)':<44} {import_seconds:8.2f} "
            f"{import_rate:9.0f} {import_rate / copy_rate:6.2f}"
        )
        print()
        print(f"upload (stored in pieces, counted): {upload_seconds:.2f} s")
        print(
            f"created {final.created_count:,}, failed {final.failed_count:,} "
            f"(error rows in the report), skipped {final.skipped_count:,}"
        )
        print(
            f"clean() alone (numbers, e-mail, tags): {clean_us:.0f} us/row, "
            f"{clean_us * args.rows / 1e6 / import_seconds:.0%} of the import's time"
        )
        if len(times) == 3:
            first = checkpoints["10%"] / (times["10%"] - started)
            last = (args.rows - checkpoints["50%"]) / (times["100%"] - times["50%"])
            print(f"rows/s over the first 10%: {first:.0f}; over the last 50%: {last:.0f}")
        marks_text = ", ".join(f"{label} {mib:.0f} MiB" for label, mib in marks.items())
        print(
            f"RSS: before {start_rss:.0f} MiB; at {marks_text}; peak (ru_maxrss) "
            f"{peak_rss_mib():.0f} MiB (includes the numbers' cache: up to 65,536 entries)"
        )
        verdict = "PASS" if import_rate / copy_rate >= GOAL else "FAIL"
        if backend.dialect == "postgresql":
            print(f"goal: import >= x{GOAL} of COPY: {verdict} (x{import_rate / copy_rate:.2f})")
        if profiler is not None:
            print()
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(25)
            stats.sort_stats("tottime").print_stats(15)
    finally:
        await backend.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--invalid", type=int, default=0, help="Rows with an invalid number.")
    parser.add_argument("--profile", action="store_true", help="cProfile the import.")
    parser.add_argument(
        "--cold-statistics",
        action="store_true",
        help="PostgreSQL: skip the warm-up (1,000 contacts of another tenant, then ANALYZE) "
        "and import into tables the planner has no statistics on.",
    )
    args = parser.parse_args()
    if not 0 <= args.invalid <= args.rows:
        parser.error("--invalid must be between 0 and --rows")
    return args


if __name__ == "__main__":
    arguments = parse()
    with runner(profile=arguments.profile) as run:
        run(main(arguments))
