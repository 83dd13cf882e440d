"""Migrated databases for tests, made once per set of migration branches and then reused.

Running every migration for every test is most of a test suite's time (about 0.3 s on
SQLite and 0.7 s on PostgreSQL for the built-in branches, against a few milliseconds for a
typical test's own work). Within one test process:

- **SQLite**: the first test that migrates a given set of branches leaves a copy of its fresh
  database as the template; later tests with the same branches start from a file copy.
- **PostgreSQL**: a test's schema, once the test is over, is emptied of rows (the migrations'
  own rows, ``alembic_version``, stay) and kept as a spare; a later test with the same
  branches gets a spare renamed to its own schema name. A spare is kept only when its
  structure (tables, columns, constraints, indexes, policies, grants, the recorded
  revisions) is still exactly what the migrations made, so a test that altered the schema,
  downgraded a branch or ran migrations of its own never hands on what it changed.

Everything else stays per test: each test still has its own file or schema.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from kernel._migrations import version_locations
from kernel._plugins import PluginSet
from kernel._settings import Settings, normalize_database_url, sqlite_path

logger = logging.getLogger("kraliki.testing")

TemplateKey = tuple[tuple[str, str], ...]

_SHAPE = """
SELECT md5(coalesce(string_agg(item, '|' ORDER BY item), '')) FROM (
    SELECT 'rel:' || c.relname || ':' || c.relkind::text || ':' || c.relrowsecurity::text || ':'
        || c.relforcerowsecurity::text || ':' || coalesce(c.relacl::text, '') AS item
    FROM pg_class c WHERE c.relnamespace = to_regnamespace(:schema)
    UNION ALL
    SELECT 'col:' || c.relname || ':' || a.attname || ':'
        || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = to_regnamespace(:schema) AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'con:' || conname || ':' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = to_regnamespace(:schema)
    UNION ALL
    SELECT 'idx:' || indexname || ':' || replace(indexdef, ' ON ' || :schema || '.', ' ON ')
    FROM pg_indexes WHERE schemaname = :schema
    UNION ALL
    SELECT 'pol:' || tablename || ':' || policyname || ':' || coalesce(qual, '') || ':'
        || coalesce(with_check, '')
    FROM pg_policies WHERE schemaname = :schema
    UNION ALL
    SELECT 'trg:' || c.relname || ':' || t.tgname FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = to_regnamespace(:schema) AND NOT t.tgisinternal
) shape
"""
"""A digest of a schema's structure; identical for two schemas the same migrations made
(names of the schema itself appear nowhere in it, so a renamed spare still matches)."""


def template_key(plugins: PluginSet) -> TemplateKey:
    """What a migrated database depends on: its branches and where their scripts live."""
    return tuple(sorted((label, str(path)) for label, path in version_locations(plugins).items()))


@dataclass
class _PostgresTemplate:
    shape: str
    spares: list[str] = field(default_factory=list)


@dataclass
class MigratedTemplates:
    """This test process's templates (SQLite files) and spare schemas (PostgreSQL)."""

    admin_url: str | None = None
    """A superuser URL: empties a spare with plain DELETEs (RLS and foreign keys do not
    apply to it); without one the owner role TRUNCATEs, which is slower."""
    _directory: Path | None = None
    _sqlite: dict[TemplateKey, Path] = field(default_factory=dict)
    _postgres: dict[TemplateKey, _PostgresTemplate | None] = field(default_factory=dict)
    """None: these migrations leave rows of their own; their schemas are never reused."""
    _counter: int = 0

    # -- SQLite ------------------------------------------------------------------------

    def restore_sqlite(self, settings: Settings, key: TemplateKey) -> bool:
        """Put the template for ``key`` where the test's database goes; False when there is
        no template yet or the database already exists."""
        target = sqlite_path(settings.owner_database_url)
        template = self._sqlite.get(key)
        if target is None or template is None or target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)
        return True

    def keep_sqlite(self, settings: Settings, key: TemplateKey) -> None:
        """Remember the freshly migrated database as the template for ``key``."""
        source = sqlite_path(settings.owner_database_url)
        if source is None or key in self._sqlite:
            return
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="kraliki-templates-"))
        self._counter += 1
        template = self._directory / f"template-{self._counter}.db"
        # The backup API copies a consistent database, write-ahead log included.
        with (
            contextlib.closing(sqlite3.connect(source)) as src,
            contextlib.closing(sqlite3.connect(template)) as dst,
        ):
            src.backup(dst)
        self._sqlite[key] = template

    # -- PostgreSQL --------------------------------------------------------------------

    async def restore_postgres(
        self, settings: Settings, key: TemplateKey
    ) -> Literal["restored", "empty", "used"]:
        """Rename a spare schema for ``key`` to the test's schema if that one is still
        empty ("restored"); otherwise say whether it is "empty" (migrate it and learn from
        it) or "used" (it has tables already)."""
        schema = settings.database_schema
        if schema is None:
            return "used"
        template = self._postgres.get(key)
        async with _owner(settings) as connection:
            if await _tables(connection, schema):
                return "used"
            if template is None or not template.spares:
                return "empty"
            spare = template.spares.pop()
            await connection.execute(text(f'DROP SCHEMA "{schema}"'))
            await connection.execute(text(f'ALTER SCHEMA "{spare}" RENAME TO "{schema}"'))
        return "restored"

    async def learn_postgres(self, settings: Settings, key: TemplateKey) -> None:
        """Record what ``key``'s migrations made, from a schema they just made."""
        if key in self._postgres or settings.database_schema is None:
            return
        async with _owner(settings) as connection:
            schema = settings.database_schema
            seeded = [t for t in await _tables(connection, schema) if t != "alembic_version"]
            for table in seeded:
                query = f'SELECT 1 FROM "{schema}"."{table}" LIMIT 1'  # noqa: S608 (catalog names)
                if await connection.scalar(text(query)):
                    logger.info("migrations write rows to %s: their schemas are not reused", table)
                    self._postgres[key] = None
                    return
            self._postgres[key] = _PostgresTemplate(shape=await _shape(connection, schema))

    async def recycle_postgres(self, settings: Settings, key: TemplateKey) -> bool:
        """Empty the test's schema and keep it as a spare; False when it must be dropped."""
        template = self._postgres.get(key)
        schema = settings.database_schema
        if template is None or schema is None:
            return False
        try:
            async with _owner(settings) as connection:
                if await _shape(connection, schema) != template.shape:
                    return False
                self._counter += 1
                spare = f"spare_{self._counter}_{schema}"[:63]
                tables = [t for t in await _tables(connection, schema) if t != "alembic_version"]
                if self.admin_url is None:
                    await _truncate(connection, schema, tables)
                    await connection.execute(text(f'ALTER SCHEMA "{schema}" RENAME TO "{spare}"'))
            if self.admin_url is not None:
                await self._delete_rows(schema, tables, spare)
        except Exception:
            logger.warning("could not keep test schema %s; dropping it", schema, exc_info=True)
            return False
        template.spares.append(spare)
        return True

    async def _delete_rows(self, schema: str, tables: list[str], spare: str) -> None:
        assert self.admin_url is not None
        engine = create_async_engine(normalize_database_url(self.admin_url), poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                sequences = await _sequences(connection, schema)
                statements = [
                    "SET LOCAL session_replication_role = replica",  # no foreign-key triggers
                    "SET LOCAL lock_timeout = '5s'",
                    *(f'DELETE FROM "{schema}"."{table}"' for table in tables),  # noqa: S608
                    *(
                        f'SELECT setval(\'"{schema}"."{sequence}"\', 1, false)'
                        for sequence in sequences
                    ),
                    f'ALTER SCHEMA "{schema}" RENAME TO "{spare}"',
                ]
                raw = await connection.get_raw_connection()
                # One round trip: a simple-query script, in the connection's transaction.
                await raw.driver_connection.execute(";\n".join(statements))  # type: ignore[union-attr]
        finally:
            await engine.dispose()

    # -- the end of the test process ---------------------------------------------------

    async def drop_spares(self, settings: Settings) -> None:
        """Drop every spare schema (at the end of the test session)."""
        spares = [s for t in self._postgres.values() if t is not None for s in t.spares]
        if spares:
            async with _owner(settings) as connection:
                for spare in spares:
                    await connection.execute(text(f'DROP SCHEMA IF EXISTS "{spare}" CASCADE'))
        self._postgres.clear()

    def remove_files(self) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
        self._sqlite.clear()


@contextlib.asynccontextmanager
async def _owner(settings: Settings) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(settings.owner_database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            yield connection
    finally:
        await engine.dispose()


async def _tables(connection: AsyncConnection, schema: str) -> list[str]:
    rows = await connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename"),
        {"schema": schema},
    )
    return [row[0] for row in rows]


async def _sequences(connection: AsyncConnection, schema: str) -> list[str]:
    rows = await connection.execute(
        text("SELECT sequencename FROM pg_sequences WHERE schemaname = :schema"),
        {"schema": schema},
    )
    return [row[0] for row in rows]


async def _shape(connection: AsyncConnection, schema: str) -> str:
    # Definitions name other tables unqualified only inside their schema's search path.
    await connection.execute(text(f'SET LOCAL search_path TO "{schema}"'))
    query = f'SELECT version_num FROM "{schema}".alembic_version'  # noqa: S608 (our schema)
    versions = await connection.execute(text(query))
    digest = await connection.scalar(text(_SHAPE), {"schema": schema})
    return f"{sorted(row[0] for row in versions)}:{digest}"


async def _truncate(connection: AsyncConnection, schema: str, tables: list[str]) -> None:
    if tables:
        names = ", ".join(f'"{schema}"."{table}"' for table in tables)
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    for sequence in await _sequences(connection, schema):
        await connection.execute(text(f'SELECT setval(\'"{schema}"."{sequence}"\', 1, false)'))
