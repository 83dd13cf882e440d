"""Tenancy isolation, application layer: whose data this code may touch, and the ORM rules.

The current tenant lives in a ContextVar (set from the credential for a request, or by
``tenant_scope`` for background work). Sessions made by the kernel then:

* add ``tenant_id = <current>`` to every ORM query of a tenant-owned model
  (``with_loader_criteria``), and refuse such a query when no tenant is set;
* stamp ``tenant_id`` on insert and refuse writes for another tenant;
* on PostgreSQL, start each transaction with ``set_config('app.tenant_id', <t>, true)`` so
  row-level security (the database layer) sees the same tenant.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Integer,
    Select,
    String,
    Uuid,
    event,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import TableClause

from kernel._models import Base, TimestampMixin, UUIDPrimaryKeyMixin

_current_tenant: ContextVar[uuid.UUID | None] = ContextVar("kraliki_tenant", default=None)

TENANT_SETTING = "app.tenant_id"


class TenancyError(RuntimeError):
    """Code touched tenant-owned data without a tenant, or another tenant's rows."""


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """An organization. Not tenant-owned itself: operators manage it, tenants cannot list it."""

    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status_valid"),)

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(
        String(16), default=TenantStatus.ACTIVE.value, server_default=TenantStatus.ACTIVE.value
    )
    policy_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Bumped by every role or grant change, so each worker reloads its cached policy."""
    disabled_plugins: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    """Feature plugins this tenant switched off: their routes answer 404, hooks skip it."""


class TenantOwnedMixin:
    """Rows that belong to one tenant: ``tenant_id`` leads the primary key (and must lead
    every index), the ORM scopes every query to the current tenant, and the table's
    migration must call :func:`kernel.enable_tenant_rls`."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid,
        ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=True,
        sort_order=-100,  # first column, so the primary key is (tenant_id, ...)
    )


def current_tenant_id() -> uuid.UUID | None:
    """The tenant this code acts for, or None (platform scope)."""
    return _current_tenant.get()


@contextmanager
def tenant_scope(tenant_id: uuid.UUID | None) -> Iterator[None]:
    """Act for ``tenant_id`` inside the block (background jobs must enter one explicitly).

    Open sessions inside the block: a transaction keeps the tenant it started with, and a
    query under a different tenant than its transaction's is refused.
    """
    token = _current_tenant.set(tenant_id)
    try:
        yield
    finally:
        _current_tenant.reset(token)


def is_tenant_owned(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, TenantOwnedMixin)


class KralikiSession(Session):
    """The ORM session class behind every kernel session; the listeners below bind to it."""


_UNBOUND = object()

_SET_TENANT = text(f"SELECT set_config('{TENANT_SETTING}', :value, true)")


@event.listens_for(KralikiSession, "after_begin")
def _bind_transaction_to_tenant(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    tenant = _current_tenant.get()
    if transaction.nested and session.info.get("kraliki_tenant", _UNBOUND) == tenant:
        return  # a SAVEPOINT: the setting is its transaction's, and a rollback keeps it
    session.info["kraliki_tenant"] = tenant
    if connection.dialect.name == "postgresql":
        # Transaction-local (third argument true): a pooled connection never carries it on.
        connection.execute(_SET_TENANT, {"value": str(tenant) if tenant else ""})


@event.listens_for(KralikiSession, "after_transaction_end")
def _unbind_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop("kraliki_tenant", None)


@event.listens_for(KralikiSession, "do_orm_execute")
def _scope_queries(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # loads of already-scoped objects; their criteria propagate
    tenant = _current_tenant.get()
    if tenant is None:
        # all_mappers misses entities that only appear in select_from(), so look at the
        # tables the statement touches (only on this rare, platform-scope path).
        if not _touches_tenant_tables(state.statement):
            return
        raise TenancyError(
            "query on a tenant-owned model with no tenant in context; "
            "use kernel.tenant_scope(tenant_id) for background work"
        )
    if not _has_top_level_mapper(state) and _has_unmapped_tenant_table(state.statement):
        # Table-level (Core) statements get no ORM criteria: refuse rather than leak on
        # SQLite, where no row-level security stands behind this layer.
        raise TenancyError(
            "Core statement on a tenant-owned table; query the mapped class or its "
            "attributes (Model.column), which the tenant scope applies to"
        )
    # Set when the transaction acquired its connection (after_begin), cleared when it ends.
    bound = state.session.info.get("kraliki_tenant", _UNBOUND)
    if bound is not _UNBOUND and bound != tenant:
        raise TenancyError("the tenant changed inside a transaction; commit or roll back first")
    state.statement = state.statement.options(_tenant_criteria(tenant))


_MAX_CRITERIA = 1024
_criteria: dict[uuid.UUID, Any] = {}


def _tenant_criteria(tenant: uuid.UUID) -> Any:
    """The loader criteria that scope a query to ``tenant``, built once per tenant (building
    it cost more than the rest of the listener); an option is immutable, so one serves every
    query of its tenant."""
    option = _criteria.get(tenant)
    if option is None:
        if len(_criteria) >= _MAX_CRITERIA:
            _criteria.clear()
        option = _criteria[tenant] = with_loader_criteria(
            TenantOwnedMixin,
            lambda cls: cls.tenant_id == tenant,
            include_aliases=True,
        )
    return option


def _has_top_level_mapper(state: ORMExecuteState) -> bool:
    """Whether ``state.all_mappers`` is not empty, answered first from the selected columns'
    annotations (``all_mappers`` builds the statement's column descriptions, which costs
    more than the query's own compilation when that is cached)."""
    statement = state.statement
    if isinstance(statement, Select) and any(
        "parententity" in column._annotations for column in statement._raw_columns
    ):
        return True
    return bool(state.all_mappers)


_tenant_tables_cache: tuple[int, frozenset[str]] = (-1, frozenset())


def tenant_owned_tables() -> frozenset[str]:
    """Names of every mapped tenant-owned table (recomputed when models are added)."""
    global _tenant_tables_cache
    mappers = Base.registry.mappers
    if _tenant_tables_cache[0] != len(mappers):
        names = frozenset(
            m.local_table.fullname  # type: ignore[attr-defined]
            for m in mappers
            if is_tenant_owned(m.class_)
        )
        _tenant_tables_cache = (len(mappers), names)
    return _tenant_tables_cache[1]


def _touches_tenant_tables(statement: Any) -> bool:
    names = tenant_owned_tables()
    return any(
        isinstance(element, TableClause) and element.fullname in names
        for element in visitors.iterate(statement)
    )


def _has_unmapped_tenant_table(statement: Any) -> bool:
    """A tenant-owned table reached as a plain Table, not through its mapped class (only
    checked for statements with no mapped entity, e.g. ``select(func.count()).select_from(M)``
    is fine, ``select(M.__table__)`` is not)."""
    names = tenant_owned_tables()
    froms = statement.get_final_froms() if hasattr(statement, "get_final_froms") else []
    return any(
        isinstance(element, TableClause)
        and element.fullname in names
        and "parententity" not in element._annotations
        for from_ in froms
        for element in visitors.iterate(from_)
    )


@event.listens_for(KralikiSession, "before_flush")
def _stamp_and_check_writes(session: Session, _context: Any, _instances: Any) -> None:
    tenant = _current_tenant.get()
    for obj in session.new:
        if not is_tenant_owned(type(obj)):
            continue
        if tenant is None:
            raise TenancyError(f"insert of {type(obj).__name__} with no tenant in context")
        if obj.tenant_id is None:
            obj.tenant_id = tenant
        elif obj.tenant_id != tenant:
            raise TenancyError(f"insert of {type(obj).__name__} for another tenant")
    for obj in list(session.dirty) + list(session.deleted):
        if is_tenant_owned(type(obj)) and obj.tenant_id != tenant:
            raise TenancyError(f"write to {type(obj).__name__} of another tenant")
