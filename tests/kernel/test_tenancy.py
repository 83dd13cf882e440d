"""Tenancy, application layer: ORM scoping, stamping and refusals (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, func, select, update
from suite_plugins import suite_plugins

from kernel import Base, TenancyError, TenantOwnedMixin, tenant_scope


@pytest.fixture
def kraliki_installed_plugins(acme_distribution):
    return suite_plugins()


@pytest.fixture
def model():
    from acme_blocklist.models import BlockedNumber

    return BlockedNumber


@pytest.fixture
async def tenants(kraliki_make_tenant):
    return await kraliki_make_tenant("alpha"), await kraliki_make_tenant("beta")


async def add(platform, model, tenant, *numbers):
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            session.add_all(model(number=n) for n in numbers)
            await session.commit()


async def numbers(platform, model, tenant):
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return sorted(await session.scalars(select(model.number)))


async def test_each_tenant_sees_only_its_rows(kraliki_platform, model, tenants):
    alpha, beta = tenants
    await add(kraliki_platform, model, alpha, "+15550000001", "+15550000002")
    await add(kraliki_platform, model, beta, "+15550000001")
    assert await numbers(kraliki_platform, model, alpha) == ["+15550000001", "+15550000002"]
    assert await numbers(kraliki_platform, model, beta) == ["+15550000001"]
    with tenant_scope(beta):
        async with kraliki_platform.database.session() as session:
            counted = await session.scalar(select(func.count()).select_from(model))
            assert counted == 1
            (row,) = await session.scalars(select(model))
            assert row.tenant_id == beta


async def test_query_without_tenant_is_refused(kraliki_platform, model):
    async with kraliki_platform.database.session() as session:
        with pytest.raises(TenancyError, match="no tenant in context"):
            await session.scalars(select(model))
        with pytest.raises(TenancyError):
            await session.execute(delete(model))
        with pytest.raises(TenancyError):  # the entity appears only in select_from()
            await session.scalar(select(func.count()).select_from(model))


async def test_insert_is_stamped_and_cross_tenant_insert_refused(kraliki_platform, model, tenants):
    alpha, beta = tenants
    with tenant_scope(alpha):
        async with kraliki_platform.database.session() as session:
            row = model(number="+15550000003")
            session.add(row)
            await session.commit()
            assert row.tenant_id == alpha
            session.add(model(number="+15550000004", tenant_id=beta))
            with pytest.raises(TenancyError, match="another tenant"):
                await session.commit()
    async with kraliki_platform.database.session() as session:
        session.add(model(number="+15550000005", tenant_id=alpha))
        with pytest.raises(TenancyError, match="no tenant"):
            await session.commit()


async def test_bulk_update_and_delete_stay_in_the_tenant(kraliki_platform, model, tenants):
    alpha, beta = tenants
    await add(kraliki_platform, model, alpha, "+15550000006")
    await add(kraliki_platform, model, beta, "+15550000006", "+15550000007")
    with tenant_scope(alpha):
        async with kraliki_platform.database.session() as session:
            await session.execute(update(model).values(reason="changed by alpha"))
            await session.execute(delete(model).where(model.number == "+15550000006"))
            await session.commit()
    assert await numbers(kraliki_platform, model, alpha) == []
    assert await numbers(kraliki_platform, model, beta) == ["+15550000006", "+15550000007"]
    with tenant_scope(beta):
        async with kraliki_platform.database.session() as session:
            reasons = set(await session.scalars(select(model.reason)))
    assert reasons == {""}


async def test_switching_tenant_inside_a_transaction_is_refused(kraliki_platform, model, tenants):
    alpha, beta = tenants
    async with kraliki_platform.database.session() as session:
        with tenant_scope(alpha):
            await session.scalars(select(model))
        with tenant_scope(beta), pytest.raises(TenancyError, match="inside a transaction"):
            await session.scalars(select(model))


async def test_background_work_enters_a_scope_and_tasks_inherit_it(
    kraliki_platform, model, tenants
):
    alpha, _ = tenants

    async def job() -> list[str]:
        async with kraliki_platform.database.session() as session:
            return list(await session.scalars(select(model.number)))

    await add(kraliki_platform, model, alpha, "+15550000008")
    with tenant_scope(alpha):
        assert await asyncio.create_task(job()) == ["+15550000008"]


async def test_interleaved_concurrent_sessions_never_mix(kraliki_platform, model, tenants):
    """Many tasks for two tenants share one pool; each sees exactly its own rows."""
    alpha, beta = tenants
    await add(kraliki_platform, model, alpha, *(f"+1555100{i:04d}" for i in range(5)))
    await add(kraliki_platform, model, beta, *(f"+1555200{i:04d}" for i in range(7)))

    async def read(tenant):
        with tenant_scope(tenant):
            async with kraliki_platform.database.session() as session:
                rows = list(await session.scalars(select(model)))
                await asyncio.sleep(0)  # let the other tenant's task run in between
                rows += list(await session.scalars(select(model)))
                return tenant, {row.tenant_id for row in rows}, len(rows)

    results = await asyncio.gather(*(read(alpha if i % 2 else beta) for i in range(40)))
    for tenant, seen, count in results:
        assert seen == {tenant}
        assert count == (10 if tenant == alpha else 14)


def test_tenant_id_leads_every_key_and_index(kraliki_installed_plugins, kraliki_settings):
    """Citus-ready: every tenant-owned table is keyed and indexed by tenant_id first."""
    from kernel._platform import resolve_plugins

    resolve_plugins(kraliki_settings, kraliki_installed_plugins)  # imports plugin models
    tables = [
        mapper.local_table
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwnedMixin)
    ]
    assert tables, "at least one tenant-owned table is loaded"
    for table in tables:
        assert table.columns.keys()[0] == "tenant_id", table.name
        assert table.primary_key.columns.keys()[0] == "tenant_id", table.name
        for index in table.indexes:
            if index.dialect_options["postgresql"]["using"] == "gin":
                continue  # full-text (GIN) indexes cannot lead with a uuid (ADR 0042)
            assert index.columns.keys()[0] == "tenant_id", (table.name, index.name)
        for constraint in table.constraints:
            columns = getattr(constraint, "columns", None)
            if columns is not None and constraint.__class__.__name__ == "UniqueConstraint":
                assert columns.keys()[0] == "tenant_id", (table.name, constraint.name)


async def test_core_statements_on_tenant_tables_are_refused_in_a_tenant_scope(
    kraliki_platform, kraliki_make_tenant
):
    from sqlalchemy import select

    from kernel._identity.models import User

    tenant = await kraliki_make_tenant("acme")
    with tenant_scope(tenant):
        async with kraliki_platform.database.session() as session:
            with pytest.raises(TenancyError, match="Core statement"):
                await session.execute(select(*User.__mapper__.columns))
            with pytest.raises(TenancyError, match="Core statement"):
                await session.execute(select(User.__table__))
            await session.execute(select(User.id))  # mapped attributes are scoped: fine


def test_tenant_foreign_key_references_the_same_tenants_row():
    from sqlalchemy import Table

    from kernel import tenant_foreign_key

    # The kernel's own models use it: a login session belongs to a user of its own tenant.
    sessions: Table = Base.metadata.tables["auth_sessions"]
    (fk,) = [c for c in sessions.foreign_key_constraints if "user_id" in c.column_keys]
    assert [c.name for c in fk.columns] == ["tenant_id", "user_id"]
    assert [e.target_fullname for e in fk.elements] == ["users.tenant_id", "users.id"]
    assert fk.ondelete == "CASCADE"
    built = tenant_foreign_key("thing_id", "acme_things", name="fk_parts_thing")
    assert (built.name, built.ondelete) == ("fk_parts_thing", None)
