"""Two evaluations of one tenant's rules at once (the job on one worker, a rule change on
another) raise each alert once and clear it once: the unique index of raised alerts and the
conditional update decide, and only the statement that changed a row publishes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from supervisor_dash_helpers import RULES, add_item, create_queue, ok

from kernel import tenant_scope, utcnow
from kernel.testing import published_events
from plugins.queues import ItemStatus, QueueItem
from plugins.supervisor.alerts.evaluate import evaluate


@pytest.fixture
def no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the two evaluations below run."""
    monkeypatch.setenv("KRALIKI_BACKGROUND_WORKERS", "false")


async def evaluate_twice_at_once(platform, tenant_id) -> None:  # type: ignore[no-untyped-def]
    started = asyncio.Barrier(2)

    async def one() -> None:
        with tenant_scope(tenant_id):
            async with platform.database.session() as session:
                await started.wait()
                await evaluate(platform, session)
                await session.commit()

    await asyncio.gather(one(), one())


async def test_two_evaluations_at_once_raise_and_clear_each_alert_once(
    no_workers, kraliki_client, kraliki_make_owner, kraliki_platform
):
    client, platform, owner = kraliki_client, kraliki_platform, await kraliki_make_owner("acme")
    queue_id = await create_queue(client, owner.headers)
    item = await add_item(
        platform,
        owner.tenant_id,
        queue_id,
        status="waiting",
        entered_at=utcnow() - timedelta(seconds=90),
    )
    body = {"name": "Wait", "kind": "queue_longest_wait", "threshold": 30}
    await ok(await client.post(RULES, headers=owner.headers, json=body), 201)

    for _ in range(3):
        await evaluate_twice_at_once(platform, owner.tenant_id)
    history = await ok(
        await client.get("/api/v1/supervisor/dashboard/alerts/history", headers=owner.headers)
    )
    assert [a["status"] for a in history["items"]] == ["raised"]

    with tenant_scope(owner.tenant_id):
        async with platform.database.session() as session:
            row = await session.get(QueueItem, (owner.tenant_id, item))
            assert row is not None
            row.status = ItemStatus.ABANDONED.value
            await session.commit()
    for _ in range(3):
        await evaluate_twice_at_once(platform, owner.tenant_id)
    history = await ok(
        await client.get("/api/v1/supervisor/dashboard/alerts/history", headers=owner.headers)
    )
    assert [a["status"] for a in history["items"]] == ["cleared"]
    names = [
        name
        for name, _ in await published_events(platform, owner.tenant_id)
        if name.startswith("supervisor.alert.")
    ]
    assert names == ["supervisor.alert.raised", "supervisor.alert.cleared"]
