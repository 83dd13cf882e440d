"""Tenancy, database layer: PostgreSQL row-level security, proven as the unprivileged app role.

Superusers and table owners bypass RLS, so these tests connect exactly as the API does
(``KRALIKI_TEST_DATABASE_URL``: no superuser, no BYPASSRLS, owns nothing).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from suite_plugins import suite_plugins

from kernel import tenant_scope
from kernel._rls import rls_status
from kernel._tenancy import tenant_owned_tables

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def kraliki_installed_plugins(acme_distribution):
    return suite_plugins()


@pytest.fixture
async def seeded(kraliki_platform, kraliki_make_tenant):
    from acme_blocklist.models import BlockedNumber

    alpha, beta = await kraliki_make_tenant("alpha"), await kraliki_make_tenant("beta")
    for tenant, number in ((alpha, "+15550000001"), (beta, "+15550000002")):
        with tenant_scope(tenant):
            async with kraliki_platform.database.session() as session:
                session.add(BlockedNumber(number=number))
                await session.commit()
    return alpha, beta


async def test_app_role_cannot_bypass_rls(kraliki_platform):
    async with kraliki_platform.database.engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT rolsuper, rolbypassrls, "
                    "(SELECT count(*) FROM pg_tables WHERE tableowner = current_user) "
                    "FROM pg_roles WHERE rolname = current_user"
                )
            )
        ).one()
    assert tuple(row) == (False, False, 0)


async def test_every_tenant_owned_table_has_forced_rls(kraliki_platform):
    tables = sorted(tenant_owned_tables())
    assert tables
    async with kraliki_platform.database.engine.connect() as connection:
        status = await connection.run_sync(rls_status, tables)
    missing = {t: status.get(t) for t in tables if status.get(t) != (True, True, 1)}
    assert missing == {}, "tenant-owned tables without forced RLS and a tenant policy"


async def test_raw_sql_without_a_tenant_sees_no_rows(kraliki_platform, seeded):
    async with kraliki_platform.database.engine.connect() as connection:
        for table in sorted(tenant_owned_tables()):
            count = await connection.scalar(text(f'SELECT count(*) FROM "{table}"'))
            assert count == 0, table


async def test_raw_sql_with_a_tenant_sees_only_its_rows(kraliki_platform, seeded):
    alpha, _ = seeded
    async with kraliki_platform.database.engine.begin() as connection:
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(alpha)}
        )
        rows = (
            await connection.execute(text("SELECT tenant_id, number FROM acme_blocklist_numbers"))
        ).all()
    assert rows == [(alpha, "+15550000001")]


async def test_write_for_another_tenant_is_refused_by_the_database(kraliki_platform, seeded):
    alpha, beta = seeded
    async with kraliki_platform.database.engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(alpha)}
        )
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(
                text(
                    "INSERT INTO acme_blocklist_numbers (tenant_id, id, number, reason) "
                    "VALUES (:tenant, :id, '+15550009999', '')"
                ),
                {"tenant": beta, "id": uuid.uuid4()},
            )
        await transaction.rollback()
        transaction = await connection.begin()
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(alpha)}
        )
        moved = await connection.execute(
            text("UPDATE acme_blocklist_numbers SET reason = 'hijacked' WHERE tenant_id = :b"),
            {"b": beta},
        )
        assert moved.rowcount == 0
        await transaction.rollback()


async def test_tenant_setting_does_not_outlive_its_transaction(kraliki_platform, seeded):
    alpha, _ = seeded
    async with kraliki_platform.database.engine.connect() as connection:
        async with connection.begin():
            await connection.execute(
                text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(alpha)}
            )
            inside = await connection.scalar(text("SELECT count(*) FROM acme_blocklist_numbers"))
        after = await connection.scalar(text("SELECT count(*) FROM acme_blocklist_numbers"))
    assert (inside, after) == (1, 0)


async def test_orm_session_with_no_tenant_reads_nothing_through_raw_sql(kraliki_platform, seeded):
    """A raw statement in a kernel session outside any tenant scope gets zero rows."""
    async with kraliki_platform.database.session() as session:
        count = await session.scalar(text("SELECT count(*) FROM acme_blocklist_numbers"))
    assert count == 0


async def test_assert_rls_enabled_names_a_table_whose_rls_is_not_forced(
    kraliki_platform, kraliki_database
):
    """kernel.testing's check, offered to plugin authors, fails when it should."""
    from kernel._db import make_engine
    from kernel.testing import assert_rls_enabled

    assert await assert_rls_enabled(kraliki_platform, plugin="acme_blocklist") == [
        "acme_blocklist_numbers"
    ]
    owner = make_engine(kraliki_database.owner_url, schema=kraliki_database.schema)
    async with owner.begin() as connection:
        await connection.execute(
            text("ALTER TABLE acme_blocklist_numbers NO FORCE ROW LEVEL SECURITY")
        )
    await owner.dispose()
    with pytest.raises(AssertionError, match=r"\['acme_blocklist_numbers'\]"):
        await assert_rls_enabled(kraliki_platform, plugin="acme_blocklist")
