"""Number lookup (an inbound call to its contact) at 1,000,000 contacts in one tenant, against
the same query through the bare database driver in the same run.

Load: ``--contacts`` contacts with one number each, in one tenant, written by the database
itself (``INSERT ... SELECT generate_series`` on PostgreSQL, a recursive CTE on SQLite) in
transactions of 100,000 rows, as the app role in the tenant's scope (row-level security in
force); then ``ANALYZE``.

Targets, each on the same ``--lookups`` numbers drawn at random (every one owned by exactly
one contact, which is checked), each lookup timed on its own:

* baseline: the same SQL the service sends (``contacts_for_number``'s statement), through
  the bare driver on one connection, the tenant set once (asyncpg with a prepared
  statement on PostgreSQL; sqlite3 on SQLite);
* service, as a request: ``contacts_for_number(session, number)`` in a session of its own in
  the tenant's scope (pool checkout, transaction, the tenant's ``set_config`` for row-level
  security, the query, ORM rows, close), as the app role;
* service, in an open session: the same call again and again in one session (the query and
  the ORM only).

Goal: the service as a request p99 < 2 ms (PASS/FAIL).

PostgreSQL when ``KRALIKI_BENCH_DATABASE_URL`` (app role) and
``KRALIKI_BENCH_MIGRATION_DATABASE_URL`` (owner role) are set, in a throwaway schema; else a
SQLite file in a temporary directory.

    .venv/bin/python benchmarks/contacts_lookup.py [--contacts 1000000] [--lookups 20000]
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from harness import Backend, bench_settings, create_tenant, database_version, percentile, runner
from sqlalchemy import make_url, text
from sqlalchemy.dialects import postgresql, sqlite

from kernel import Database, Settings, tenant_scope
from kernel._db import make_engine
from kernel._migrations import upgrade
from kernel._platform import resolve_plugins
from plugins.contacts.lookup import contacts_for_number, lookup_statement

GOAL_P99_MS = 2.0
CHUNK = 100_000

PG_CONTACTS = """
INSERT INTO contacts_contacts (tenant_id, id, name, company, address_line1, address_line2,
    city, region, postal_code, tags, custom_fields, search_text, version, call_count)
SELECT CAST(:tenant AS uuid), CAST(lpad(to_hex(i), 32, '0') AS uuid), 'Contact ' || i, '',
    '', '', '', '', '', CAST('[]' AS json), CAST('{}' AS json), 'contact ' || i, 1, 0
FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS i
"""
PG_PHONES = """
INSERT INTO contacts_phones (tenant_id, id, contact_id, number, type, label, position,
    number_region, time_zones, line_type)
SELECT CAST(:tenant AS uuid), CAST(lpad(to_hex(i), 32, '0') AS uuid),
    CAST(lpad(to_hex(i), 32, '0') AS uuid), '+1415' || lpad(CAST(i AS text), 7, '0'),
    'mobile', '', 0, 'US', CAST('["America/Los_Angeles"]' AS json), 'fixed_line_or_mobile'
FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS i
"""
SQLITE_SEQUENCE = (
    "WITH RECURSIVE seq(i) AS (SELECT :start UNION ALL SELECT i + 1 FROM seq WHERE i < :stop) "
)
SQLITE_CONTACTS = (
    SQLITE_SEQUENCE
    + """
INSERT INTO contacts_contacts (tenant_id, id, name, company, address_line1, address_line2,
    city, region, postal_code, tags, custom_fields, search_text, version, call_count)
SELECT :tenant, printf('%032x', i), 'Contact ' || i, '', '', '', '', '', '', '[]', '{}',
    'contact ' || i, 1, 0
FROM seq
"""
)
SQLITE_PHONES = (
    SQLITE_SEQUENCE
    + """
INSERT INTO contacts_phones (tenant_id, id, contact_id, number, type, label, position,
    number_region, time_zones, line_type)
SELECT :tenant, printf('%032x', i), printf('%032x', i), '+1415' || printf('%07d', i),
    'mobile', '', 0, 'US', '["America/Los_Angeles"]', 'fixed_line_or_mobile'
FROM seq
"""
)


def number_of(index: int) -> str:
    return f"+1415{index:07d}"


def contact_id_of(index: int) -> uuid.UUID:
    return uuid.UUID(int=index)


async def load(settings: Settings, backend: Backend, contacts: int) -> tuple[uuid.UUID, float]:
    """Migrate, create the tenant and write the contacts; returns (tenant id, seconds)."""
    await upgrade(settings, resolve_plugins(settings))
    database = Database(make_engine(settings.database_url, schema=settings.database_schema))
    postgres = backend.dialect == "postgresql"
    started = time.perf_counter()
    try:
        tenant_id = await create_tenant(database)
        tenant = str(tenant_id) if postgres else tenant_id.hex
        with tenant_scope(tenant_id):
            for start in range(1, contacts + 1, CHUNK):
                stop = min(start + CHUNK - 1, contacts)
                values = {"tenant": tenant, "start": start, "stop": stop}
                async with database.session() as session:
                    for statement in (
                        (PG_CONTACTS, PG_PHONES) if postgres else (SQLITE_CONTACTS, SQLITE_PHONES)
                    ):
                        await session.execute(text(statement), values)
                    await session.commit()
                print(f"  loaded {stop:,} contacts", file=sys.stderr)
    finally:
        await database.dispose()
    engine = backend.owner_engine()
    try:
        async with engine.begin() as connection:
            prefix = f'"{backend.schema}".' if backend.schema else ""
            for table in ("contacts_contacts", "contacts_phones"):
                await connection.execute(text(f"ANALYZE {prefix}{table}"))
    finally:
        await engine.dispose()
    return tenant_id, time.perf_counter() - started


async def timed(
    numbers: Sequence[str], lookup: Callable[[str], Awaitable[list[uuid.UUID]]]
) -> tuple[list[float], list[list[uuid.UUID]]]:
    """Each lookup's time in milliseconds, and what it found."""
    gc.collect()
    clock = time.perf_counter_ns
    samples, found = [], []
    for number in numbers:
        start = clock()
        ids = await lookup(number)
        samples.append((clock() - start) / 1e6)
        found.append(ids)
    return samples, found


def compiled_sql(backend: Backend, tenant_id: uuid.UUID) -> tuple[str, list[str]]:
    """The service's statement as the driver receives it, with the order of its parameters
    (the tenant and the number) as placeholders."""
    statement = lookup_statement()
    dialect = postgresql.asyncpg.dialect() if backend.dialect == "postgresql" else sqlite.dialect()
    compiled = statement.compile(dialect=dialect)
    names = list(compiled.positiontup or [])
    return str(compiled), names


async def measure(
    settings: Settings, backend: Backend, tenant_id: uuid.UUID, numbers: Sequence[str]
) -> dict[str, tuple[list[float], list[list[uuid.UUID]]]]:
    results: dict[str, tuple[list[float], list[list[uuid.UUID]]]] = {}
    sql, names = compiled_sql(backend, tenant_id)
    warmup = numbers[: min(500, len(numbers))]
    postgres = backend.dialect == "postgresql"

    def arguments(number: str) -> list[object]:
        values = {"tenant_id": tenant_id, "number": number}
        own = [values[name] for name in names]
        return own if postgres else [v.hex if isinstance(v, uuid.UUID) else v for v in own]

    if postgres:
        import asyncpg

        url = make_url(settings.database_url).set(drivername="postgresql")
        connection = await asyncpg.connect(
            url.render_as_string(hide_password=False),
            server_settings={"search_path": backend.schema or "public"},
        )
        try:
            await connection.execute(
                "SELECT set_config('app.tenant_id', $1, false)", str(tenant_id)
            )
            prepared = await connection.prepare(sql)

            async def bare(number: str) -> list[uuid.UUID]:
                return [row["id"] for row in await prepared.fetch(*arguments(number))]

            await timed(warmup, bare)
            results["baseline"] = await timed(numbers, bare)
        finally:
            await connection.close()
    else:
        path = make_url(settings.database_url).database
        assert path is not None
        plain = sqlite3.connect(path)
        try:

            async def bare(number: str) -> list[uuid.UUID]:
                cursor = plain.execute(sql, arguments(number))
                rows = cursor.fetchall()
                at = [column[0] for column in cursor.description].index("id")
                return [uuid.UUID(str(row[at])) for row in rows]

            await timed(warmup, bare)
            results["baseline"] = await timed(numbers, bare)
        finally:
            plain.close()

    database = Database(make_engine(settings.database_url, schema=settings.database_schema))
    try:
        with tenant_scope(tenant_id):

            async def as_request(number: str) -> list[uuid.UUID]:
                async with database.session() as session:
                    return [contact.id for contact in await contacts_for_number(session, number)]

            await timed(warmup, as_request)
            results["request"] = await timed(numbers, as_request)

            async with database.session() as session:

                async def in_session(number: str) -> list[uuid.UUID]:
                    return [contact.id for contact in await contacts_for_number(session, number)]

                await timed(warmup, in_session)
                results["session"] = await timed(numbers, in_session)
    finally:
        await database.dispose()
    return results


def row(label: str, samples: list[float], baseline: list[float]) -> str:
    ordered, base = sorted(samples), sorted(baseline)
    p50, p99 = percentile(ordered, 0.5), percentile(ordered, 0.99)
    return (
        f"{label:<44} {p50:8.3f} {p99:8.3f} {max(ordered):8.2f} {statistics.fmean(ordered):8.3f} "
        f"{p50 / percentile(base, 0.5):7.1f} {p99 / percentile(base, 0.99):7.1f}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    if args.contacts < 1 or args.lookups < 1 or args.contacts > 9_999_999:
        parser.error("--contacts must be 1..9,999,999 and --lookups >= 1")
    return args


def main() -> int:
    args = parse_args()
    rng = random.Random(args.seed)
    backend = Backend.from_environment()
    settings, _values = bench_settings(backend, jwt_secret="lookup-bench-" + "x" * 32)
    indexes = [rng.randint(1, args.contacts) for _ in range(args.lookups)]
    numbers = [number_of(index) for index in indexes]
    with runner() as run:
        try:
            run(backend.create())
            version = run(database_version(settings))
            tenant_id, load_seconds = run(load(settings, backend, args.contacts))
            results = run(measure(settings, backend, tenant_id, numbers))
        finally:
            run(backend.drop())

    expected = [[contact_id_of(index)] for index in indexes]
    wrong = {
        label: sum(got != want for got, want in zip(found, expected, strict=True))
        for label, (_samples, found) in results.items()
    }
    base = results["baseline"][0]
    print("Contacts: number lookup (an inbound call to its contact)")
    print(
        f"data: {args.contacts:,} contacts with one number each, in one tenant; loaded in "
        f"{load_seconds:.1f} s ({args.contacts / load_seconds:,.0f} contacts/s, numbers and "
        "contacts)"
    )
    print(f"database: {backend.describe()}, {version}; CPython {sys.version.split()[0]}")
    print(f"lookups: {args.lookups:,} numbers drawn at random, each timed alone")
    print()
    print(
        f"{'target':<44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8} "
        f"{'p50 x':>7} {'p99 x':>7}"
    )
    print("-" * 96)
    print(row("baseline: same SQL, bare driver, one conn", base, base))
    print(row("service as a request (session, RLS, ORM)", results["request"][0], base))
    print(row("service in an open session (query, ORM)", results["session"][0], base))
    print()
    print("p50 x / p99 x: the figure over the baseline's.")
    print(f"answers checked (one contact, the right one): wrong {wrong}")
    p99 = percentile(sorted(results["request"][0]), 0.99)
    verdict = "PASS" if p99 < GOAL_P99_MS else "FAIL"
    print(f"goal: service as a request p99 < {GOAL_P99_MS:.0f} ms: {p99:.3f} ms -> {verdict}")
    return 1 if any(wrong.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
