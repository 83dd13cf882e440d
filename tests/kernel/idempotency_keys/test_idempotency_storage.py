"""``platform.idempotency`` without HTTP: tenancy, scopes, fingerprints, cancellation and the
purge of expired keys."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from kernel import Principal, TenancyError, record_audit_event, tenant_scope, utcnow
from kernel._idempotency.models import IdempotencyRecord
from kernel._idempotency.service import fingerprint
from kernel._identity.models import AuditEvent


@pytest.fixture
def kraliki_installed_plugins():
    return []


@pytest_asyncio.fixture
async def kraliki_app(kraliki_make_app):
    # No background purge: the tests move the clock and purge when they mean to.
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
async def acme(kraliki_make_tenant) -> uuid.UUID:
    return await kraliki_make_tenant("acme")


async def act(platform, tenant: uuid.UUID, key: str | None, *, scope: str = "test.op", body=None):
    """One idempotent operation: (acted, JSON answer)."""
    with tenant_scope(tenant):
        async with (
            platform.database.session() as session,
            platform.idempotency.claim(
                key, scope=scope, request=body or {}, principal=None
            ) as claim,
        ):
            if claim.replay is not None:
                return False, claim.replay.body
            answer = await claim.complete(session, 201, {"n": uuid.uuid4()})
            return True, answer.body


async def stored_keys(platform, tenant: uuid.UUID) -> list[str]:
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            return sorted(await session.scalars(select(IdempotencyRecord.key)))


async def test_a_key_needs_a_tenant_scope(kraliki_platform):
    with pytest.raises(TenancyError, match="tenant's scope"):
        async with kraliki_platform.idempotency.claim(
            "k", scope="test.op", request={}, principal=None
        ):
            pass


async def test_without_a_key_complete_only_commits(kraliki_platform, acme):
    idempotency = kraliki_platform.idempotency
    with tenant_scope(acme):
        async with (
            kraliki_platform.database.session() as session,
            idempotency.claim(None, scope="test.op", request={}, principal=None) as claim,
        ):
            assert claim.replay is None
            record_audit_event(session, None, "test.acted")
            answer = await claim.complete(session, 202, {"ok": True}, headers={"X-A": "b"})
        assert (answer.status_code, answer.body, answer.headers["x-a"]) == (
            202,
            b'{"ok":true}',
            "b",
        )
        async with kraliki_platform.database.session() as session:
            count = await session.scalar(select(func.count()).select_from(AuditEvent))
    assert count == 1
    assert await stored_keys(kraliki_platform, acme) == []


async def test_keys_are_per_scope(kraliki_platform, acme):
    first = await act(kraliki_platform, acme, "k", scope="test.one")
    second = await act(kraliki_platform, acme, "k", scope="test.two")
    assert first[0]
    assert second[0]
    assert await act(kraliki_platform, acme, "k", scope="test.one") == (False, first[1])


@pytest.mark.parametrize("scope", ["", "x" * 101])
async def test_a_scope_is_1_to_100_characters(kraliki_platform, acme, scope):
    with tenant_scope(acme), pytest.raises(ValueError, match="scope"):
        async with kraliki_platform.idempotency.claim("k", scope=scope, request={}, principal=None):
            pass


async def test_complete_is_once_and_never_for_a_replay(kraliki_platform, acme):
    await act(kraliki_platform, acme, "k")
    with tenant_scope(acme):
        async with kraliki_platform.database.session() as session:
            async with kraliki_platform.idempotency.claim(
                "k", scope="test.op", request={}, principal=None
            ) as claim:
                with pytest.raises(RuntimeError, match="replay"):
                    await claim.complete(session, 201, {})
            async with kraliki_platform.idempotency.claim(
                "k2", scope="test.op", request={}, principal=None
            ) as claim:
                await claim.complete(session, 201, {})
                with pytest.raises(RuntimeError, match="already completed"):
                    await claim.complete(session, 201, {})


def test_the_fingerprint_is_canonical_and_names_the_caller():
    tenant = uuid.uuid4()
    ana = Principal(subject="ana", kind="user", tenant_id=tenant)
    bob = Principal(subject="bob", kind="user", tenant_id=tenant)
    key_of_ana = Principal(subject="ana", kind="api_key", tenant_id=tenant)
    body = {"to": "+420601123456", "options": {"record": True, "timeout": 30}}
    reordered = {"options": {"timeout": 30, "record": True}, "to": "+420601123456"}
    assert fingerprint(body, ana) == fingerprint(reordered, ana)
    assert len({fingerprint(body, p) for p in (ana, bob, key_of_ana, None)}) == 4
    assert fingerprint(body, ana) != fingerprint({**body, "to": "+420601123457"}, ana)


async def test_a_cancelled_request_releases_its_key(kraliki_platform, acme):
    entered = asyncio.Event()

    async def stuck() -> None:
        async with kraliki_platform.idempotency.claim(
            "k", scope="test.op", request={}, principal=None
        ):
            entered.set()
            await asyncio.sleep(3600)

    with tenant_scope(acme):
        task = asyncio.create_task(stuck())
    await asyncio.wait_for(entered.wait(), 10)
    assert await stored_keys(kraliki_platform, acme) == ["k"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stored_keys(kraliki_platform, acme) == []
    assert (await act(kraliki_platform, acme, "k"))[0]


async def test_expired_keys_are_purged_and_live_ones_kept(
    kraliki_platform, kraliki_make_tenant, acme
):
    globex = await kraliki_make_tenant("globex")
    idempotency = kraliki_platform.idempotency
    for tenant in (acme, globex):
        await act(kraliki_platform, tenant, "old")
    idempotency.clock = lambda: utcnow() + timedelta(hours=23)
    await act(kraliki_platform, acme, "recent")
    assert await idempotency.purge_expired() == 0

    idempotency.clock = lambda: utcnow() + timedelta(hours=24, seconds=1)
    assert await idempotency.purge_expired() == 2
    assert await stored_keys(kraliki_platform, acme) == ["recent"]
    assert await stored_keys(kraliki_platform, globex) == []


async def test_the_purge_goes_in_batches(kraliki_platform, acme, monkeypatch):
    from kernel._idempotency import service

    monkeypatch.setattr(service, "PURGE_BATCH", 2)
    for number in range(5):
        await act(kraliki_platform, acme, f"k{number}")
    kraliki_platform.idempotency.clock = lambda: utcnow() + timedelta(days=2)
    assert await kraliki_platform.idempotency.purge_expired() == 5
    assert await stored_keys(kraliki_platform, acme) == []


async def test_the_background_workers_run_the_purge(kraliki_make_app):
    await kraliki_make_app()  # background workers on, as in production
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert "kraliki-idempotency-purge" in names
