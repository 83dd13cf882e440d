"""Tenancy isolation, database layer: PostgreSQL row-level security for tenant-owned tables."""

from __future__ import annotations

from sqlalchemy import Connection, text

from kernel._tenancy import TENANT_SETTING

POLICY_NAME = "tenant_isolation"
_CURRENT_TENANT = f"(SELECT NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid)"


def enable_tenant_rls(table: str) -> None:
    """Call in a migration right after creating a tenant-owned table.

    On PostgreSQL: RLS enabled **and forced** (owners are subject too), with one policy whose
    ``USING`` and ``WITH CHECK`` both require ``tenant_id`` to equal the transaction's
    ``app.tenant_id``; with no tenant set, no row is visible or writable. No-op on SQLite,
    which has no RLS (the ORM layer is its only protection).
    """
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(table)
    op.execute(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {POLICY_NAME} ON {quoted} "
        f"USING (tenant_id = {_CURRENT_TENANT}) WITH CHECK (tenant_id = {_CURRENT_TENANT})"
    )


def rls_status(connection: Connection, tables: list[str]) -> dict[str, tuple[bool, bool, int]]:
    """(enabled, forced, number of tenant policies) per table, on PostgreSQL."""
    rows = connection.execute(
        text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname "
            " AND p.schemaname = n.nspname AND p.policyname = :policy "
            " AND p.qual IS NOT NULL AND p.with_check IS NOT NULL) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = ANY(:tables) AND n.nspname = current_schema()"
        ),
        {"tables": tables, "policy": POLICY_NAME},
    )
    return {name: (enabled, forced, int(count)) for name, enabled, forced, count in rows}
