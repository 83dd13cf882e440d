"""What ``is_callable`` costs, since it runs before every dial: a handful of statements, and
on PostgreSQL each lookup can use an index (no sequential scan of the list or the ledger);
and two requests listing one number at once leave one entry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from compliance_helpers import DNC, add_dnc, decide, erase_numbers, make_contact, record_consent
from sqlalchemy import event, text

from kernel import tenant_scope

NUMBER = "+14155550100"


@pytest.fixture
async def alpha(kraliki_make_owner):
    return await kraliki_make_owner("alpha")


async def statements_of_a_check(platform, tenant_id, contact_id) -> list[tuple[str, Any]]:
    engine = platform.database.engine.sync_engine
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, sql, params, _context, _many) -> None:
        seen.append((sql, params))

    await decide(platform, tenant_id, NUMBER, "marketing", contact_id=contact_id)  # warm
    event.listen(engine, "before_cursor_execute", record)
    try:
        decision = await decide(platform, tenant_id, NUMBER, "marketing", contact_id=contact_id)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert decision.rule == "allowed"
    return seen


async def seed(client, platform, owner) -> Any:
    """A list with numbers, prefixes and an erased number's hash; a contact with a ledger."""
    for i in range(20):
        await add_dnc(client, owner.headers, f"+1212555{i:04d}")
    await add_dnc(client, owner.headers, "+1900", kind="prefix")
    await add_dnc(client, owner.headers, "+14155559999")
    await erase_numbers(platform, owner.tenant_id, "+14155559999")
    contact = await make_contact(client, owner.headers, NUMBER)
    await record_consent(client, owner.headers, contact, "marketing", "voice_call", "granted")
    return contact


async def test_a_check_is_a_few_statements(kraliki_client, kraliki_platform, alpha):
    contact = await seed(kraliki_client, kraliki_platform, alpha)

    statements = await statements_of_a_check(kraliki_platform, alpha.tenant_id, contact)

    # The tenant's settings, the hash key's version, the list, the ledger (PostgreSQL also
    # sets the session's tenant and reads the outbox position: the kernel's, per session).
    selects = [sql for sql, _ in statements if "contacts_" in sql or "vault_" in sql]
    assert len(selects) <= 4, selects
    assert len(statements) <= 12, [sql[:80] for sql, _ in statements]
    assert sum("contacts_dnc" in sql for sql in selects) == 1
    assert sum("contacts_consents" in sql for sql in selects) == 1


@pytest.mark.postgres_only
async def test_every_lookup_of_a_check_can_use_an_index(kraliki_client, kraliki_platform, alpha):
    contact = await seed(kraliki_client, kraliki_platform, alpha)
    statements = await statements_of_a_check(kraliki_platform, alpha.tenant_id, contact)

    plans = []
    with tenant_scope(alpha.tenant_id):
        async with kraliki_platform.database.session() as session:
            connection = await session.connection()
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            for sql, params in statements:
                if "contacts_dnc" in sql or "contacts_consents" in sql:
                    result = await connection.exec_driver_sql("EXPLAIN " + sql, params)
                    plans.append("\n".join(row[0] for row in result))

    assert len(plans) == 2
    for plan in plans:
        assert "Seq Scan" not in plan, plan


async def test_listing_one_number_twice_at_once_keeps_one_entry(kraliki_client, alpha):
    body = {"value": NUMBER, "reason": "race"}

    first, second = await asyncio.gather(
        kraliki_client.post(DNC, json=body, headers=alpha.headers),
        kraliki_client.post(DNC, json=body, headers=alpha.headers),
    )

    assert sorted([first.status_code, second.status_code]) == [200, 201], (
        first.text,
        second.text,
    )
    assert first.json()["id"] == second.json()["id"]
    listed = await kraliki_client.get(DNC, headers=alpha.headers)
    assert len(listed.json()["items"]) == 1
