"""Jobs: a wake-up in a transaction makes a tenant's work due; one worker at a time runs it,
inside the tenant's scope; a crashed worker's lease runs out and another takes over."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select

from kernel import JobTopic, Tenant, current_tenant_id, tenant_scope, utcnow
from kernel._jobs.models import Wakeup
from kernel._migrations import upgrade
from kernel._platform import build_platform, resolve_plugins
from kernel.testing import create_tenant, wait_until


class Recorder:
    def __init__(self) -> None:
        self.runs: list[uuid.UUID | None] = []
        self.next_due = None
        self.fail = False
        self.hold: asyncio.Event | None = None
        self.running = 0
        self.most_at_once = 0

    async def handler(self, platform, tenant_id):
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            assert current_tenant_id() == tenant_id
            self.runs.append(tenant_id)
            if self.hold is not None:
                await self.hold.wait()
            if self.fail:
                raise RuntimeError("job bug")
            return self.next_due
        finally:
            self.running -= 1


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def reports(make_plugin, recorder):
    return make_plugin(
        "reports", jobs=lambda: [JobTopic("reports.send", recorder.handler, "Sends reports.")]
    )


@pytest.fixture
def kraliki_extra_plugins(reports):
    return [reports]


@pytest_asyncio.fixture
async def kraliki_app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


async def wake(platform, tenant, *, at=None, commit=True):
    with tenant_scope(tenant):
        async with platform.database.session() as session:
            await platform.jobs.wake(session, "reports.send", at=at)
            if commit:
                await session.commit()


async def wakeups(platform) -> list[Wakeup]:
    async with platform.database.session() as session:
        return list(await session.scalars(select(Wakeup)))


async def test_a_wake_up_runs_the_job_once_in_the_tenants_scope(
    kraliki_platform, kraliki_make_tenant, recorder
):
    tenant = await kraliki_make_tenant("acme")
    await wake(kraliki_platform, tenant, commit=False)  # rolled back: nothing due
    assert await kraliki_platform.jobs.run_due(kraliki_platform) == 0
    await wake(kraliki_platform, tenant)
    await wake(kraliki_platform, tenant)  # twice is still one job
    assert await kraliki_platform.jobs.run_due(kraliki_platform) == 1
    assert recorder.runs == [tenant]
    assert await wakeups(kraliki_platform) == []  # handler said: nothing more
    assert await kraliki_platform.jobs.run_due(kraliki_platform) == 0


async def test_the_handler_says_when_it_is_next_due(
    kraliki_platform, kraliki_make_tenant, recorder
):
    tenant = await kraliki_make_tenant("acme")
    later = utcnow() + timedelta(hours=1)
    recorder.next_due = later
    await wake(kraliki_platform, tenant)
    await kraliki_platform.jobs.run_due(kraliki_platform)
    [row] = await wakeups(kraliki_platform)
    assert abs((row.due_at - later).total_seconds()) < 0.01
    assert row.leased_until is None
    assert await kraliki_platform.jobs.run_due(kraliki_platform) == 0  # not yet

    await wake(kraliki_platform, tenant, at=utcnow() + timedelta(hours=2))  # later: no change
    [row] = await wakeups(kraliki_platform)
    assert abs((row.due_at - later).total_seconds()) < 0.01
    await wake(kraliki_platform, tenant)  # now: earlier wins
    assert await kraliki_platform.jobs.run_due(kraliki_platform) == 1


async def test_a_failing_job_is_retried_later(kraliki_platform, kraliki_make_tenant, recorder):
    tenant = await kraliki_make_tenant("acme")
    recorder.fail = True
    await wake(kraliki_platform, tenant)
    assert await kraliki_platform.jobs.run_due(kraliki_platform) == 1
    [row] = await wakeups(kraliki_platform)
    assert row.due_at > utcnow() + timedelta(seconds=20)
    failed = kraliki_platform.metrics.jobs_run.labels("reports.send", "failed")._value.get()
    assert failed == 1


async def test_a_wake_up_during_a_run_runs_it_again(
    kraliki_platform, kraliki_make_tenant, recorder
):
    tenant = await kraliki_make_tenant("acme")
    recorder.hold = asyncio.Event()
    await wake(kraliki_platform, tenant)
    running = asyncio.create_task(kraliki_platform.jobs.run_due(kraliki_platform))
    await wait_until(lambda: recorder.runs)
    await wake(kraliki_platform, tenant)  # new work arrives while the job runs
    assert await kraliki_platform.jobs.run_due(kraliki_platform) == 0  # leased: not twice
    recorder.hold.set()
    await running
    assert await kraliki_platform.jobs.run_due(kraliki_platform) == 1
    assert recorder.runs == [tenant, tenant]


async def test_an_expired_lease_hands_the_job_to_another_worker(
    kraliki_make_app, reports, recorder
):
    app = await kraliki_make_app(
        plugins=[reports], background_workers=False, jobs_lease_seconds=0.2
    )
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    await wake(platform, tenant_id)
    claims = await platform.jobs._claim(8)  # a worker claims it, then dies
    assert len(claims) == 1
    assert await platform.jobs.run_due(platform) == 0
    await asyncio.sleep(0.3)
    assert await platform.jobs.run_due(platform) == 1
    assert recorder.runs == [tenant_id]


async def test_the_background_worker_runs_a_job_when_woken(kraliki_make_app, reports, recorder):
    app = await kraliki_make_app(plugins=[reports], jobs_poll_seconds=3600)
    platform = app.state.platform
    tenant_id = await create_tenant(platform, "acme")
    await wake(platform, tenant_id)
    await wait_until(lambda: recorder.runs)  # poked at commit, not by the hourly poll
    assert recorder.runs == [tenant_id]


@pytest.mark.postgres_only
async def test_competing_workers_never_run_one_tenants_job_twice_at_once(
    kraliki_database, reports, recorder
):
    settings = kraliki_database.settings(background_workers=False)
    await upgrade(settings, resolve_plugins(settings, [reports]))
    workers = [build_platform(settings, [reports]) for _ in range(3)]
    try:
        async with workers[0].database.session() as session:
            tenants = [Tenant(slug=f"t{i}", name="T") for i in range(5)]
            session.add_all(tenants)
            await session.commit()
        for tenant in tenants:
            await wake(workers[0], tenant.id)
        recorder.hold = asyncio.Event()
        runs = [asyncio.create_task(w.jobs.run_due(w, limit=2)) for w in workers]
        await wait_until(lambda: len(recorder.runs) == 5)
        recorder.hold.set()
        counts = await asyncio.gather(*runs)
        assert sum(counts) == 5
        assert sorted(recorder.runs) == sorted(t.id for t in tenants)  # each exactly once
    finally:
        for worker in workers:
            await worker.database.dispose()
            worker.tracing.shutdown()
