"""The worker's cache of decrypted secrets (docs/adr/0034): bounded in size and age, a fill
audited once, and never serving a value after a write, a rotation, a deletion or the
tenant's suspension, whichever worker (platform) made it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from kernel import Tenant, tenant_scope
from kernel._settings import Settings
from kernel._vault import rotation
from kernel._vault.models import VaultAccessEvent
from kernel._vault.secret_cache import MAX_TTL, SecretCache, Stamp
from kernel._vault.service import CACHE_FILL

NAME = "acme.api_key"
PURPOSE = "verify a webhook"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


STAMP = Stamp(1, uuid.uuid4())
T1, T2 = uuid.uuid4(), uuid.uuid4()


# -- the cache alone ----------------------------------------------------------------------


def test_the_cache_holds_at_most_size_entries_least_recently_used_out_first():
    cache = SecretCache(2, 30)
    cache.put(T1, "a", STAMP, "va")
    cache.put(T1, "b", STAMP, "vb")
    assert cache.get(T1, "a", STAMP) == "va"  # "a" is now the most recently used
    cache.put(T1, "c", STAMP, "vc")
    assert len(cache) == 2
    assert cache.get(T1, "b", STAMP) is None
    assert (cache.get(T1, "a", STAMP), cache.get(T1, "c", STAMP)) == ("va", "vc")


def test_an_entry_expires_ttl_seconds_after_its_fill():
    clock = Clock()
    cache = SecretCache(8, 30, clock=clock)
    cache.put(T1, "a", STAMP, "va")
    clock.now += 29.9
    assert cache.get(T1, "a", STAMP) == "va"  # a use does not extend it
    clock.now += 0.1
    assert cache.get(T1, "a", STAMP) is None
    assert len(cache) == 0


def test_no_value_is_kept_longer_than_sixty_seconds_whatever_the_settings():
    assert SecretCache(8, 3600).ttl == MAX_TTL == 60
    with pytest.raises(ValidationError):
        Settings(vault_secret_cache_seconds=61)
    assert not SecretCache(0, 30).enabled
    assert not SecretCache(8, 0).enabled
    disabled = SecretCache(0, 30)
    disabled.put(T1, "a", STAMP, "va")
    assert len(disabled) == 0


def test_a_new_stamp_makes_the_entry_stale_and_drops_it():
    cache = SecretCache(8, 30)
    cache.put(T1, "a", STAMP, "va")
    assert cache.get(T1, "a", Stamp(2, STAMP.data_key_id)) is None  # a write
    cache.put(T1, "a", STAMP, "va")
    assert cache.get(T1, "a", Stamp(1, uuid.uuid4())) is None  # a rotation
    assert len(cache) == 0


def test_dropping_a_tenant_keeps_the_others():
    cache = SecretCache(8, 30)
    cache.put(T1, "a", STAMP, "va")
    cache.put(T1, "b", STAMP, "vb")
    cache.put(T2, "a", STAMP, "other")
    cache.drop(T1)
    assert len(cache) == 1
    assert cache.get(T2, "a", STAMP) == "other"


async def test_expired_values_leave_memory_without_being_asked_for():
    cache = SecretCache(8, 0.05)
    cache.put(T1, "a", STAMP, "va")
    await asyncio.sleep(0.8)
    assert len(cache) == 0


# -- through the vault, on one or two platforms sharing a database --------------------------


async def put(platform, tenant_id: uuid.UUID, value: str) -> None:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.vault.put(session, NAME, value, actor="test")
            await session.commit()


async def delete(platform, tenant_id: uuid.UUID) -> None:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await platform.vault.delete(session, NAME)
            await session.commit()


async def cached(platform, tenant_id: uuid.UUID) -> str | None:
    """One use on a hot path, in a session of its own (as a webhook's)."""
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            value = await platform.vault.reveal_cached(
                session, NAME, plugin="acme", purpose=PURPOSE
            )
    return None if value is None else value.reveal()


async def accesses(platform, tenant_id: uuid.UUID) -> list[VaultAccessEvent]:
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            statement = select(VaultAccessEvent).order_by(
                VaultAccessEvent.occurred_at, VaultAccessEvent.id
            )
            return list(await session.scalars(statement))


async def set_status(platform, tenant_id: uuid.UUID, status: str) -> None:
    """What an operator's suspension is: a change of the tenant's row, by any process."""
    async with platform.database.session() as session:
        await session.execute(update(Tenant).where(Tenant.id == tenant_id).values(status=status))
        await session.commit()


@pytest.fixture
async def other(kraliki_make_app, kraliki_extra_plugins):
    """A second worker (its own platform, engine and cache) on the same database."""
    app = await kraliki_make_app(migrate=False)
    return app.state.platform


@pytest.fixture
async def tenant(kraliki_make_tenant) -> uuid.UUID:
    return await kraliki_make_tenant("cachedorg")


async def test_a_fill_is_audited_once_and_later_uses_come_from_the_cache(kraliki_platform, tenant):
    await put(kraliki_platform, tenant, "sk_one")
    assert [await cached(kraliki_platform, tenant) for _ in range(5)] == ["sk_one"] * 5
    [fill] = await accesses(kraliki_platform, tenant)
    assert (fill.secret_name, fill.plugin, fill.purpose, fill.outcome, fill.job) == (
        NAME,
        "acme",
        PURPOSE,
        "success",
        CACHE_FILL,
    )
    assert fill.tenant_id == tenant
    assert fill.occurred_at is not None
    hits = kraliki_platform.metrics.vault_secret_cache_hits.labels(NAME)._value.get()
    assert hits == 4


async def test_a_write_in_this_worker_drops_the_entry_at_once(kraliki_platform, tenant):
    await put(kraliki_platform, tenant, "sk_one")
    assert await cached(kraliki_platform, tenant) == "sk_one"
    assert len(kraliki_platform.vault.secrets) == 1
    await put(kraliki_platform, tenant, "sk_two")
    assert len(kraliki_platform.vault.secrets) == 0
    assert await cached(kraliki_platform, tenant) == "sk_two"
    assert [a.job for a in await accesses(kraliki_platform, tenant)] == [CACHE_FILL] * 2


async def test_a_write_by_another_worker_is_seen_at_once(kraliki_platform, other, tenant):
    await put(kraliki_platform, tenant, "sk_one")
    assert await cached(kraliki_platform, tenant) == "sk_one"
    await put(other, tenant, "sk_two")
    assert await cached(kraliki_platform, tenant) == "sk_two"
    await delete(other, tenant)
    assert await cached(kraliki_platform, tenant) is None
    assert len(kraliki_platform.vault.secrets) == 0


async def test_a_rotation_by_another_worker_is_seen_at_once(kraliki_platform, other, tenant):
    await put(kraliki_platform, tenant, "sk_one")
    assert await cached(kraliki_platform, tenant) == "sk_one"
    report = await rotation.rotate_data_key(other.vault, tenant)
    assert report.re_encrypted == 1
    assert await cached(kraliki_platform, tenant) == "sk_one"
    # The old entry was stale (another data key): the value was decrypted and audited again.
    assert [a.job for a in await accesses(kraliki_platform, tenant)] == [CACHE_FILL] * 2


async def test_a_suspended_tenants_secrets_leave_every_worker_and_are_read_per_use(
    kraliki_platform, other, tenant
):
    await put(kraliki_platform, tenant, "sk_one")
    assert await cached(kraliki_platform, tenant) == "sk_one"
    assert await cached(other, tenant) == "sk_one"
    await set_status(other, tenant, "suspended")
    for platform in (kraliki_platform, other):
        assert await cached(platform, tenant) == "sk_one"
        assert await cached(platform, tenant) == "sk_one"
        assert len(platform.vault.secrets) == 0
    jobs = [a.job for a in await accesses(kraliki_platform, tenant)]
    assert jobs[:2] == [CACHE_FILL] * 2
    assert len(jobs) == 6
    assert CACHE_FILL not in jobs[2:]
    await set_status(other, tenant, "active")
    assert await cached(kraliki_platform, tenant) == "sk_one"
    assert len(kraliki_platform.vault.secrets) == 1


async def test_tenants_do_not_share_entries(kraliki_platform, kraliki_make_tenant, tenant):
    second = await kraliki_make_tenant("othercache")
    await put(kraliki_platform, tenant, "sk_first")
    await put(kraliki_platform, second, "sk_second")
    assert await cached(kraliki_platform, tenant) == "sk_first"
    assert await cached(kraliki_platform, second) == "sk_second"
    assert await cached(kraliki_platform, tenant) == "sk_first"


async def test_a_cache_of_size_zero_reveals_per_use(kraliki_make_app, kraliki_make_tenant):
    app = await kraliki_make_app(vault_secret_cache_size=0)
    platform = app.state.platform
    tenant_id = await kraliki_make_tenant("nocache")
    await put(platform, tenant_id, "sk_one")
    assert [await cached(platform, tenant_id) for _ in range(3)] == ["sk_one"] * 3
    assert len(await accesses(platform, tenant_id)) == 3
