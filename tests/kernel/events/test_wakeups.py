"""Wake-ups after commit: a callback registered in a transaction runs once when that
transaction commits for real, whatever savepoints it went through (SQLAlchemy reports a
released savepoint as a commit and a rolled-back one as a rollback); and what that means for
the dispatcher: events committed through a savepoint are delivered at once, not at the
sweep (``events_sweep_seconds`` is an hour here)."""

from __future__ import annotations

import asyncio

import ledger_plugin
import pytest
import pytest_asyncio
from ledger_plugin import RECEIVED, entry
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import JobTopic, tenant_scope
from kernel._db import call_after_commit
from kernel._jobs.models import Wakeup
from kernel._platform import build_platform
from kernel.testing import create_tenant, wait_until

PROMPTLY = 20.0
"""Far below the sweep (an hour), far above a busy CI machine's wake-up latency (5 s was
once exceeded on SQLite with the other worker running browser tests)."""


@pytest.fixture(autouse=True)
def _clear_received():
    RECEIVED.clear()
    yield
    RECEIVED.clear()


@pytest.fixture
def kraliki_installed_plugins():
    return []


@pytest.fixture
def kraliki_extra_plugins():
    return [ledger_plugin]


@pytest_asyncio.fixture
async def kraliki_app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


async def woken_too_early_looked(platform) -> None:
    """Let a dispatcher that a savepoint woke (before the commit) finish its pass, which
    finds nothing: the commit must wake it again."""
    dispatcher = platform.dispatcher
    await wait_until(lambda: not dispatcher._wake.is_set() and not dispatcher._lock.locked())


async def wakeups(platform) -> int:
    async with platform.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Wakeup)) or 0)


class Calls:
    """Callbacks that record their own name when run."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def register(self, session: AsyncSession, name: str) -> bool:
        return call_after_commit(session, name, lambda: self.ran.append(name))


async def test_a_released_savepoint_is_not_the_commit(kraliki_platform):
    calls = Calls()
    async with kraliki_platform.database.session() as session:
        assert calls.register(session, "outer")
        async with session.begin_nested():
            assert calls.register(session, "inner")
            assert not calls.register(session, "outer")  # once per transaction
        assert calls.ran == []  # RELEASE SAVEPOINT: nobody else can see anything yet
        await session.commit()
    assert sorted(calls.ran) == ["inner", "outer"]


async def test_a_rolled_back_savepoint_drops_only_its_own_callbacks(kraliki_platform):
    calls = Calls()
    async with kraliki_platform.database.session() as session:
        assert calls.register(session, "outer")
        savepoint = await session.begin_nested()
        assert calls.register(session, "inner")
        async with session.begin_nested():
            assert calls.register(session, "innermost")  # released into "inner"
        await savepoint.rollback()
        assert calls.register(session, "inner")  # gone with its savepoint: can come again
        await session.commit()
    assert sorted(calls.ran) == ["inner", "outer"]


async def test_a_rolled_back_transaction_runs_nothing(kraliki_platform):
    calls = Calls()
    async with kraliki_platform.database.session() as session:
        calls.register(session, "one")
        async with session.begin_nested():
            calls.register(session, "two")
        await session.rollback()
        assert calls.register(session, "one")  # a new transaction starts afresh
        await session.rollback()
    async with kraliki_platform.database.session() as session:
        calls.register(session, "closed")  # closed without commit
    assert calls.ran == []


async def test_each_commit_of_a_session_runs_its_own_callbacks(kraliki_platform):
    calls = Calls()
    async with kraliki_platform.database.session() as session:
        calls.register(session, "first")
        await session.commit()
        assert calls.ran == ["first"]
        assert calls.register(session, "first")
        await session.execute(text("SELECT 1"))
        await session.commit()
    assert calls.ran == ["first", "first"]


async def test_only_kernel_sessions_can_wait_for_a_commit(kraliki_platform):
    async with AsyncSession(kraliki_platform.database.engine) as session:
        with pytest.raises(TypeError, match=r"platform\.database\.session"):
            call_after_commit(session, "x", lambda: None)


async def test_events_published_before_and_in_savepoints_are_dispatched_at_once(
    kraliki_make_app,
):
    app = await kraliki_make_app(events_sweep_seconds=3600)
    platform = app.state.platform
    tenant = await create_tenant(platform, "acme")
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            before = await platform.events.publish(session, entry("before"))
            async with session.begin_nested():  # a handler's turn, released
                inside = await platform.events.publish(session, entry("inside"))
            await woken_too_early_looked(platform)
            with pytest.raises(IntegrityError):
                async with session.begin_nested():  # a lost race, rolled back
                    await session.execute(text("INSERT INTO tenants (id) VALUES (NULL)"))
            await session.commit()
    await wait_until(lambda: len(RECEIVED) == 2, within=PROMPTLY)
    assert [e.id for e in RECEIVED] == [before, inside]


async def test_events_a_job_publishes_through_a_savepoint_are_dispatched_at_once(
    kraliki_make_app, make_plugin
):
    async def book(platform, tenant_id):
        async with platform.database.session() as session:
            await platform.events.publish(session, entry("job"))
            async with session.begin_nested():
                await platform.events.publish(session, entry("job-turn"))
            await woken_too_early_looked(platform)
            await session.commit()

    jobs = make_plugin("booker", jobs=lambda: [JobTopic("booker.book", book, "Books.")])
    app = await kraliki_make_app(
        plugins=[ledger_plugin, jobs], events_sweep_seconds=3600, jobs_poll_seconds=3600
    )
    platform = app.state.platform
    tenant = await create_tenant(platform, "acme")
    await woken_too_early_looked(platform)  # the start-up sweep, which writes, is over
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            async with session.begin_nested():  # the wake-up, too, waits for the commit
                await platform.jobs.wake(session, "booker.book")
            await session.commit()
    await wait_until(lambda: len(RECEIVED) == 2, within=PROMPTLY)
    assert [e.payload["account"] for e in RECEIVED] == ["job", "job-turn"]
    async with asyncio.timeout(PROMPTLY):  # the worker has let the job go: a quiet shutdown
        while await wakeups(platform):  # noqa: ASYNC110 (rows in the database)
            await asyncio.sleep(0.01)


async def test_an_event_another_process_commits_is_dispatched_at_once(
    kraliki_make_app, kraliki_database
):
    """A CLI command publishes from a process that runs no dispatcher: PostgreSQL's NOTIFY
    wakes the server's, and on SQLite the server notices the commit in the database file."""
    app = await kraliki_make_app(plugins=[ledger_plugin], events_sweep_seconds=3600)
    tenant = await create_tenant(app.state.platform, "acme")
    await woken_too_early_looked(app.state.platform)  # the start-up sweep is over
    cli = build_platform(kraliki_database.settings(), [ledger_plugin])
    try:
        with tenant_scope(tenant):
            async with cli.database.session() as session:
                event_id = await cli.events.publish(session, entry("from-the-cli"))
                await session.commit()
        await wait_until(lambda: RECEIVED, within=PROMPTLY)
        assert [e.id for e in RECEIVED] == [event_id]
    finally:
        await cli.database.dispose()
        cli.tracing.shutdown()
