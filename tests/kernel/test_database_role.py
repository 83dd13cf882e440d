"""The server and the worker refuse a PostgreSQL role that row-level security skips."""

from __future__ import annotations

import logging
import os
import uuid

import asyncpg
import pytest
from click.testing import CliRunner
from sqlalchemy import make_url

from kernel._app import create_app
from kernel._cli import build_cli
from kernel._dbrole import UnsafeDatabaseRoleError
from kernel.testing import TestDatabase

ADMIN_ENV = "KRALIKI_TEST_ADMIN_DATABASE_URL"

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def superuser_url(kraliki_database: TestDatabase) -> str:
    """The test database, as the superuser CI gives (same database, same schema)."""
    admin = os.environ.get(ADMIN_ENV)
    if kraliki_database.dialect != "postgresql" or not admin:
        pytest.skip(f"needs PostgreSQL and {ADMIN_ENV} (a superuser URL)")
    database = make_url(kraliki_database.url).database
    return make_url(admin).set(database=database).render_as_string(hide_password=False)


async def test_the_app_role_starts(kraliki_make_app):
    app = await kraliki_make_app(plugins=[])
    assert app.state.platform.database.dialect == "postgresql"


async def test_a_superuser_is_refused_unless_overridden(
    kraliki_make_app, kraliki_database, superuser_url, caplog
):
    await kraliki_make_app(plugins=[])  # migrated, and started as the app role
    refused = create_app(kraliki_database.settings(database_url=superuser_url), plugins=[])
    with pytest.raises(UnsafeDatabaseRoleError, match="superuser") as raised:
        async with refused.router.lifespan_context(refused):
            pass
    assert "KRALIKI_ALLOW_RLS_BYPASS" in str(raised.value)
    assert "password" not in str(raised.value).lower()

    allowed = create_app(
        kraliki_database.settings(database_url=superuser_url, allow_rls_bypass=True), plugins=[]
    )
    with caplog.at_level(logging.WARNING, logger="kraliki.db"):
        async with allowed.router.lifespan_context(allowed):
            pass
    assert any("KRALIKI_ALLOW_RLS_BYPASS" in record.getMessage() for record in caplog.records)


def test_the_worker_refuses_a_superuser(kraliki_database, superuser_url):
    env = {
        "KRALIKI_DATABASE_URL": superuser_url,
        "KRALIKI_DATABASE_SCHEMA": kraliki_database.schema,
        "KRALIKI_MASTER_KEY": kraliki_database.master_key,
        "KRALIKI_PLUGINS": "",
    }
    result = CliRunner(env=env).invoke(build_cli(), ["worker"])
    assert result.exit_code == 1, result.output
    assert "refusing to start" in result.output
    assert "is a superuser" in result.output


async def test_a_bypassrls_role_is_refused(kraliki_make_app, kraliki_database, superuser_url):
    await kraliki_make_app(plugins=[])
    role = f"kraliki_bypass_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(superuser_url.replace("+asyncpg", ""))
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER BYPASSRLS')
        database = make_url(superuser_url).database
        await admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
        url = make_url(superuser_url).set(username=role).render_as_string(hide_password=False)
        app = create_app(kraliki_database.settings(database_url=url), plugins=[])
        with pytest.raises(UnsafeDatabaseRoleError, match="a role with BYPASSRLS"):
            async with app.router.lifespan_context(app):
                pass
    finally:
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()
