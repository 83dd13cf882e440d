"""Purging a tenant leaves no personal data about its people in any table, platform tables
(the operator audit log) included: what names them there is replaced by a pseudonym."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import inspect, select, text

from kernel import pseudonym
from kernel._identity.models import OperatorAuditEvent
from kernel.testing import login

OWNER_EMAIL = "Olga.Owner@gone.example.com"
OWNER_NAME = "Olga Ownerova"
AGENT_EMAIL = "agatha.smith@gone.example.com"
AGENT_NAME = "Agatha Smithova"
PASSWORD = "a long enough password"
PERSONAL = [OWNER_EMAIL.lower(), OWNER_NAME.lower(), AGENT_EMAIL, AGENT_NAME.lower()]


@pytest.fixture
async def kraliki_app(kraliki_make_app, monkeypatch):
    monkeypatch.setenv("KRALIKI_SIGNUP_ENABLED", "true")
    return await kraliki_make_app()


async def _rows(platform, table: str, tenant: str) -> list[str]:
    """Every row of ``table`` as text, seen as the API's database role in ``tenant``'s scope
    ('' for none): row-level security shows tenant-owned rows only in their tenant's scope."""
    async with platform.database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT set_config('app.tenant_id', :tenant, true)"), {"tenant": tenant}
            )
        quoted = connection.dialect.identifier_preparer.quote(table)
        result = await connection.execute(text(f"SELECT * FROM {quoted}"))
        return [str(tuple(row)).lower() for row in result]


async def _all_rows(platform, tenant_id: uuid.UUID) -> dict[str, list[str]]:
    async with platform.database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return {
        table: [*await _rows(platform, table, ""), *await _rows(platform, table, str(tenant_id))]
        for table in tables
    }


async def test_a_purge_leaves_no_personal_data_of_the_tenants_people(
    kraliki_client, kraliki_platform, create_tenant, operator_headers
):
    signed_up = await kraliki_client.post(
        "/api/v1/auth/register",
        json={
            "organization": "Gone Ltd",
            "slug": "gone",
            "email": OWNER_EMAIL,
            "password": PASSWORD,
            "display_name": OWNER_NAME,
        },
    )
    assert signed_up.status_code == 201, signed_up.text
    owner = {"Authorization": f"Bearer {signed_up.json()['access_token']}"}
    me = (await kraliki_client.get("/api/v1/auth/me", headers=owner)).json()
    gone_id, owner_id = uuid.UUID(me["tenant"]["id"]), me["subject"]
    agent = await kraliki_client.post(
        "/api/v1/users",
        headers=owner,
        json={"email": AGENT_EMAIL, "password": PASSWORD, "display_name": AGENT_NAME},
    )
    assert agent.status_code == 201, agent.text
    await login(kraliki_client, AGENT_EMAIL, PASSWORD, tenant="gone")
    await kraliki_client.post(
        "/api/v1/auth/login", json={"tenant": "gone", "email": AGENT_EMAIL, "password": "wrong"}
    )
    kept = await create_tenant("kept", owner="keeper@kept.example.com")
    await kraliki_client.post(f"/api/v1/tenants/{gone_id}/suspend", headers=operator_headers)

    before = await _all_rows(kraliki_platform, gone_id)
    holding = {t for t, rows in before.items() if any(p in r for r in rows for p in PERSONAL)}
    assert {"users", "audit_events", "operator_audit_events"} <= holding  # the scan sees them

    deleted = await kraliki_client.delete(
        f"/api/v1/tenants/{gone_id}?confirm=gone", headers=operator_headers
    )
    assert deleted.status_code == 204

    after = await _all_rows(kraliki_platform, gone_id)
    leaks = {
        table: [row for row in rows if any(p in row for p in PERSONAL)]
        for table, rows in after.items()
    }
    assert {table: rows for table, rows in leaks.items() if rows} == {}

    async with kraliki_platform.database.session() as session:
        records = list(
            await session.scalars(
                select(OperatorAuditEvent).order_by(OperatorAuditEvent.occurred_at)
            )
        )
    about_gone = [r for r in records if r.tenant_id == gone_id]
    actions = [r.action for r in about_gone]
    assert actions == ["tenant.created", "tenant.suspended", "tenant.deleted"]
    created = about_gone[0]
    assert created.details["owner_email"] == pseudonym(owner_id)
    assert created.details["slug"] == "gone"  # the organization itself is still named
    assert created.operator_id == "signup"
    assert created.source_address is None  # the person who signed up, not an operator
    assert about_gone[1].source_address is not None  # the operator's own address stays
    # other tenants' records are untouched
    (kept_created,) = [r for r in records if r.tenant_id == uuid.UUID(kept["id"])]
    assert kept_created.details["owner_email"] == "keeper@kept.example.com"


async def test_every_platform_table_naming_a_tenant_is_documented(kraliki_platform):
    """A table with a ``tenant_id`` that is not tenant-owned has no RLS: say why, and what a
    purge does with it, in docs/security/tenancy.md."""
    from pathlib import Path

    from kernel import Base
    from kernel._tenancy import tenant_owned_tables

    doc = Path(__file__).parents[2] / "docs" / "security" / "tenancy.md"
    section = doc.read_text().split("## Platform tables with a `tenant_id`", 1)[1]
    section = section.split("\n## ", 1)[0]
    listed = {line.split("|")[1].strip().strip("`") for line in section.splitlines() if "|" in line}
    naming = {
        table.name
        for table in Base.metadata.tables.values()
        if "tenant_id" in table.columns and table.name not in tenant_owned_tables()
    }
    assert naming  # the kernel's own (kernel_wakeups, operator_audit_events) at least
    assert naming - listed == set()
