"""A tenant-scoped foreign key: a row may only point at a row of the same tenant."""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint


def tenant_foreign_key(
    column: str, table: str, *, ondelete: str | None = None, name: str | None = None
) -> ForeignKeyConstraint:
    """``(tenant_id, <column>)`` referencing ``(<table>.tenant_id, <table>.id)``, for
    ``__table_args__`` of a ``TenantOwnedMixin`` model.

    Tenant-owned tables have ``(tenant_id, id)`` as primary key, so a reference carries the
    tenant too: the database itself then refuses a row pointing at another tenant's row.
    ``ondelete`` (``"CASCADE"``, ``"SET NULL"``) and ``name`` as for
    ``ForeignKeyConstraint`` (by default the name follows ``NAMING_CONVENTION``). Index
    ``(tenant_id, <column>)`` yourself when you look rows up by it."""
    return ForeignKeyConstraint(
        ["tenant_id", column], [f"{table}.tenant_id", f"{table}.id"], ondelete=ondelete, name=name
    )
