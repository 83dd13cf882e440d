"""The transactional outbox and the dispatcher: what commits is delivered, in order, once per
pass; what rolls back never is; a dispatcher killed mid-batch loses nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import ledger_plugin
import pytest
import pytest_asyncio
from ledger_plugin import RECEIVED, AccountAudited, entry, new_account
from sqlalchemy import func, select

from kernel import Event, Permission, PluginDefinitionError, TenancyError, tenant_scope
from kernel._events.models import EventHookCursor, EventRecord
from kernel._platform import build_platform
from kernel.testing import create_tenant, wait_until

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _clear_received():
    RECEIVED.clear()
    yield
    RECEIVED.clear()


@pytest.fixture
def kraliki_extra_plugins():
    return [ledger_plugin]


@pytest_asyncio.fixture
async def kraliki_app(kraliki_make_app):
    # No background dispatcher: each test dispatches with drain() where it wants to.
    return await kraliki_make_app(background_workers=False)


async def publish(platform, tenant_id, *events, commit: bool = True) -> list:
    ids = []
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            for event in events:
                ids.append(await platform.events.publish(session, event))
            if commit:
                await session.commit()
    return ids


async def test_committed_events_arrive_in_order_with_gap_free_positions(
    kraliki_platform, kraliki_make_tenant
):
    tenant = await kraliki_make_tenant("acme")
    first = await publish(kraliki_platform, tenant, entry("a", 1), entry("b", 2), entry("a", 3))
    second = await publish(kraliki_platform, tenant, AccountAudited(account="a"))

    assert await kraliki_platform.dispatcher.drain() == 4

    assert [e.id for e in RECEIVED] == [*first, *second]
    assert [e.position for e in RECEIVED] == [1, 2, 3, 4]
    added = RECEIVED[0]
    assert (added.tenant_id, added.name, added.version) == (tenant, "ledger.entry.added", 1)
    assert added.aggregate == "ledger.entry:a"
    assert added.payload == {"account": "a", "amount": 1}
    envelope = added.envelope()
    assert envelope["type"] == "ledger.entry.added"
    assert envelope["data"] == {"account": "a", "amount": 1}
    assert envelope["occurred_at"].endswith("Z")
    assert await kraliki_platform.dispatcher.drain() == 0  # nothing twice


async def test_rolled_back_events_are_never_delivered(kraliki_platform, kraliki_make_tenant):
    tenant = await kraliki_make_tenant("acme")
    await publish(kraliki_platform, tenant, entry(), commit=False)
    with tenant_scope(tenant):
        async with kraliki_platform.database.session() as session:
            await kraliki_platform.events.publish(session, entry())
            await session.rollback()
    assert await kraliki_platform.dispatcher.drain() == 0
    assert RECEIVED == []
    with tenant_scope(tenant):
        async with kraliki_platform.database.session() as session:
            assert await session.scalar(select(func.count()).select_from(EventRecord)) == 0


async def test_each_tenant_has_its_own_positions(kraliki_platform, kraliki_make_tenant):
    a = await kraliki_make_tenant("alpha")
    b = await kraliki_make_tenant("beta")
    await publish(kraliki_platform, a, entry(), entry())
    await publish(kraliki_platform, b, entry())
    await kraliki_platform.dispatcher.drain()
    by_tenant = {(e.tenant_id, e.position) for e in RECEIVED}
    assert by_tenant == {(a, 1), (a, 2), (b, 1)}
    with tenant_scope(b):
        async with kraliki_platform.database.session() as session:
            read = await kraliki_platform.events.read(session, after=0)
            assert [e.tenant_id for e in read] == [b]
            assert await kraliki_platform.events.head(session) == 1


async def test_the_latest_events_of_some_names_newest_first(kraliki_platform, kraliki_make_tenant):
    """``platform.events.latest``: dispatched events only, of the tenant in scope."""
    a = await kraliki_make_tenant("alpha")
    b = await kraliki_make_tenant("beta")
    await publish(kraliki_platform, a, entry("x", 1), AccountAudited(account="x"), entry("y", 2))
    await publish(kraliki_platform, b, entry("z", 3))
    await kraliki_platform.dispatcher.drain()
    await publish(kraliki_platform, a, entry("later", 4))  # not dispatched yet
    names = {"ledger.entry.added"}
    with tenant_scope(a):
        async with kraliki_platform.database.session() as session:
            latest = await kraliki_platform.events.latest(session, names=names, limit=5)
            assert [(e.payload["account"], e.position) for e in latest] == [("y", 3), ("x", 1)]
            one = await kraliki_platform.events.latest(session, names=names, limit=1)
            assert [e.payload["account"] for e in one] == ["y"]
            assert await kraliki_platform.events.latest(session, names=set()) == []


async def test_publishing_needs_a_tenant_and_a_declared_event(
    kraliki_platform, kraliki_make_tenant
):
    class Stray(Event):
        name = "ledger.entry.strayed"
        permission = "ledger.entries:read"

    async with kraliki_platform.database.session() as session:
        with pytest.raises(TenancyError):
            await kraliki_platform.events.publish(session, entry())
    tenant = await kraliki_make_tenant("acme")
    with tenant_scope(tenant):
        async with kraliki_platform.database.session() as session:
            with pytest.raises(PluginDefinitionError, match="not declared"):
                await kraliki_platform.events.publish(session, Stray())


async def test_a_failing_consumer_does_not_hold_up_the_others(kraliki_make_app, make_plugin):
    def broken(event):
        raise RuntimeError("consumer bug")

    app = await kraliki_make_app(
        plugins=[make_plugin("broken", event=broken), ledger_plugin], background_workers=False
    )
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    await publish(platform, tenant_id, entry(), entry())
    assert await platform.dispatcher.drain() == 2
    assert len(RECEIVED) == 2
    assert platform.hooks.failures[("broken", "kraliki_event")] == 2


async def test_the_background_dispatcher_delivers_after_commit(kraliki_make_app, kraliki_database):
    app = await kraliki_make_app(plugins=[ledger_plugin], events_sweep_seconds=3600)
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    [event_id] = await publish(platform, tenant_id, entry())
    await wait_until(lambda: RECEIVED)
    assert RECEIVED[0].id == event_id


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"name": "ledger.Bad", "permission": "ledger.entries:read"}, "<plugin>.<noun>.<verb>"),
        ({"name": "other.entry.added", "permission": "ledger.entries:read"}, "declaring"),
        ({"name": "ledger.entry.odd", "permission": "ledger.nothing:read"}, "no loaded plugin"),
    ],
)
def test_malformed_declarations_stop_the_platform(kraliki_settings, make_plugin, declared, message):
    odd = type("Odd", (Event,), {"__annotations__": {}, **declared})
    plugin = make_plugin(
        "ledger",
        permissions=[Permission("ledger.entries", "read", "x")],
        event_types=lambda: [odd],
    )
    with pytest.raises(PluginDefinitionError, match=message):
        build_platform(kraliki_settings, [plugin])


def _worker_env(database, tmp_path: Path, **extra: str) -> dict[str, str]:
    settings = database.settings()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "KRALIKI_DATABASE_URL": settings.database_url,
        "KRALIKI_MASTER_KEY": database.master_key,
        "KRALIKI_EVENTS_BATCH_SIZE": "50",
        "KRALIKI_LOG_FORMAT": "console",
        **extra,
    }
    if settings.database_schema:
        env["KRALIKI_DATABASE_SCHEMA"] = settings.database_schema
    return env


async def test_a_dispatcher_killed_mid_batch_loses_nothing(
    kraliki_platform, kraliki_make_tenant, kraliki_database, tmp_path
):
    """A worker process is killed (os._exit, no clean-up) after delivering 7 events of a
    batch of 20; the restarted dispatcher delivers every event, and a consumer that dedupes
    by event id ends with each event exactly once."""
    tenant = await kraliki_make_tenant("acme")
    accounts = [new_account() for _ in range(4)]
    published = await publish(
        kraliki_platform, tenant, *(entry(accounts[i % 4], i) for i in range(20))
    )
    journal = tmp_path / "journal.txt"
    crashed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(HERE / "crash_worker.py")],
        env=_worker_env(
            kraliki_database, tmp_path, LEDGER_JOURNAL=str(journal), LEDGER_CRASH_AFTER="7"
        ),
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr.decode()[-2000:]
    before_crash = journal.read_text().split()
    assert len(before_crash) == 14  # 7 deliveries (id, position)

    # The events were dispatched (real-time subscribers had them), but the hooks' cursor did
    # not move: the hook batch's transaction died with the process.
    with tenant_scope(tenant):
        async with kraliki_platform.database.session() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(EventRecord)
                .where(EventRecord.dispatched_at.is_(None))
            )
            hooked = await session.scalar(select(EventHookCursor.position))
    assert pending == 0
    assert hooked == 0

    restarted = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(HERE / "crash_worker.py")],
        env=_worker_env(kraliki_database, tmp_path, LEDGER_JOURNAL=str(journal)),
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr.decode()[-2000:]
    lines = [line.split() for line in journal.read_text().splitlines()]
    delivered_ids = [line[0] for line in lines]
    assert len(delivered_ids) == 27  # at least once: the first 7 came twice
    assert sorted(set(delivered_ids)) == sorted(str(i) for i in published)  # effect: once each
    assert [int(p) for _, p in lines[7:]] == list(range(1, 21))  # in order, gap-free
    assert [line[0] for line in lines[7:]] == [str(i) for i in published]
    assert await kraliki_platform.dispatcher.drain() == 0
