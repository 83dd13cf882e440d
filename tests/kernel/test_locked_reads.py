"""A row read under a lock is read as committed, even when the session loaded it before
(the identity map would otherwise keep the attributes it had)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from kernel import Tenant


@pytest.fixture
def kraliki_installed_plugins():
    return []


async def _rename_elsewhere(platform, tenant_id, name: str) -> None:
    async with platform.database.session() as other:
        await other.execute(update(Tenant).where(Tenant.id == tenant_id).values(name=name))
        await other.commit()


async def test_a_locked_select_and_a_locked_get_refresh_a_loaded_object(kraliki_platform):
    async with kraliki_platform.database.session() as session:
        tenant = Tenant(slug="acme", name="Acme")
        session.add(tenant)
        await session.commit()

        await _rename_elsewhere(kraliki_platform, tenant.id, "Acme Corp")
        plain = await session.scalar(select(Tenant).where(Tenant.id == tenant.id))
        assert plain is tenant
        assert plain.name == "Acme"  # an unlocked read keeps what the session had
        locked = await session.scalar(
            select(Tenant).where(Tenant.id == tenant.id).with_for_update()
        )
        assert locked is tenant
        assert tenant.name == "Acme Corp"
        await session.commit()

        await _rename_elsewhere(kraliki_platform, tenant.id, "Acme Inc")
        got = await session.get(Tenant, tenant.id, with_for_update=True)
        assert got is tenant
        assert tenant.name == "Acme Inc"


async def test_pending_changes_are_flushed_before_a_locked_read(kraliki_platform):
    async with kraliki_platform.database.session() as session:
        tenant = Tenant(slug="acme", name="Acme")
        session.add(tenant)
        await session.commit()
        tenant.name = "Changed here"
        await session.scalar(select(Tenant).where(Tenant.id == tenant.id).with_for_update())
        assert tenant.name == "Changed here"


async def test_a_locked_read_holds_other_writers_off_until_its_transaction_ends(kraliki_platform):
    """Read, change, write under a lock from two tasks at once: neither change is lost (on
    SQLite too, which has no row locks: a locking read takes the write lock)."""
    async with kraliki_platform.database.session() as session:
        tenant = Tenant(slug="acme", name="Acme")
        session.add(tenant)
        await session.commit()
    first_has_read = asyncio.Event()

    async def append(letter: str, *, first: bool) -> None:
        async with kraliki_platform.database.session() as session:
            locked = await session.scalar(
                select(Tenant).where(Tenant.id == tenant.id).with_for_update()
            )
            if first:
                first_has_read.set()
                await asyncio.sleep(0.3)  # the second task reads (or waits) meanwhile
            locked.name += letter
            await session.commit()

    first = asyncio.create_task(append(" a", first=True))
    await first_has_read.wait()
    await asyncio.gather(first, append(" b", first=False))

    async with kraliki_platform.database.session() as session:
        assert await session.scalar(select(Tenant.name).where(Tenant.id == tenant.id)) == "Acme a b"


async def test_a_savepoint_beginning_a_transaction_writes_after_another_writer(kraliki_platform):
    """Create-if-missing in a savepoint (read, then insert) while another connection
    writes: on SQLite the savepoint begins the transaction, which must take the write lock
    at once; as a read transaction its insert would fail with "database is locked"."""
    async with kraliki_platform.database.session() as session:
        tenant = Tenant(slug="acme", name="Acme")
        session.add(tenant)
        await session.commit()
    has_read = asyncio.Event()

    async def create_if_missing() -> None:
        async with kraliki_platform.database.session() as session:
            async with session.begin_nested():
                missing = await session.scalar(select(Tenant.id).where(Tenant.slug == "beta"))
                assert missing is None
                has_read.set()
                await asyncio.sleep(0.3)  # another connection writes meanwhile
                session.add(Tenant(slug="beta", name="Beta"))
            await session.commit()

    async def rename_once_read() -> None:
        await has_read.wait()
        await _rename_elsewhere(kraliki_platform, tenant.id, "Acme Corp")

    await asyncio.gather(create_if_missing(), rename_once_read())

    async with kraliki_platform.database.session() as session:
        names = set(await session.scalars(select(Tenant.name)))
    assert names == {"Acme Corp", "Beta"}
