"""Real-time first: subscribers get committed events before, and regardless of, the plugin
hooks; the hooks follow at their own pace, in order, each event once per pass, the batch
hook included, and a failing hook stops no other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from realtime_support import events, rt_plugin, running_site, subscribe, until

from kernel import DeliveredEvent


class Consumers:
    """What the test plugins saw; ``gate`` holds the slow plugin's hook until it is set."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.blocked_tenant: object = None
        """Only this tenant's events wait at the gate (None: every tenant's)."""
        self.slow: list[str] = []
        self.batches: list[list[str]] = []
        self.after_failure: list[str] = []

    def plugins(self, make_plugin: Any) -> list[object]:
        async def blocked(platform: Any, event: DeliveredEvent) -> None:
            if self.blocked_tenant in (None, event.tenant_id):
                await self.gate.wait()
            self.slow.append(str(event.id))

        def batch(platform: Any, events: Sequence[DeliveredEvent]) -> None:
            self.batches.append([str(e.id) for e in events])

        def failing(platform: Any, event: DeliveredEvent) -> None:
            raise RuntimeError("this consumer is broken")

        def steady(platform: Any, event: DeliveredEvent) -> None:
            self.after_failure.append(str(event.id))

        return [
            make_plugin("slowpoke", event=blocked),
            make_plugin("batcher", events=batch),
            make_plugin("broken", event=failing),
            make_plugin("steady", event=steady),
        ]


@pytest.fixture
def consumers() -> Consumers:
    return Consumers()


@pytest.fixture
def kraliki_extra_plugins(make_plugin: Any, consumers: Consumers) -> list[object]:
    return [rt_plugin(make_plugin), *consumers.plugins(make_plugin)]


@pytest.fixture
async def site(kraliki_make_app: Any, consumers: Consumers) -> AsyncIterator[Any]:
    async with running_site(kraliki_make_app, realtime_heartbeat_seconds=0.5) as served:
        try:
            yield served
        finally:
            consumers.gate.set()  # let the blocked hook end before the platform closes


async def test_a_blocked_hook_does_not_delay_real_time_delivery(site, consumers):
    async with site.ws("alpha-agent") as ws:
        await subscribe(ws, ["*"])
        first = await site.publish("alpha-agent", count=3, label="a")
        async with asyncio.timeout(5):  # a blocked hook used to hold the stream forever
            assert [e["id"] for e in await events(ws, 3)] == first
        second = await site.publish("alpha-agent", count=2, label="b")
        async with asyncio.timeout(5):
            received = await events(ws, 2)
        assert [e["id"] for e in received] == second
        assert [e["position"] for e in received] == [4, 5]
        assert consumers.slow == []  # still blocked: real-time went ahead of it

        consumers.gate.set()
        await until(lambda: len(consumers.slow) == 5)
    assert consumers.slow == first + second  # the hook caught up, in order, once each


async def test_the_batch_hook_and_the_others_get_every_event_despite_a_failing_hook(
    site, consumers
):
    consumers.gate.set()
    published = await site.publish("alpha-agent", count=4)
    published += await site.publish("beta-agent", count=2)
    await until(lambda: len(consumers.after_failure) == 6)
    assert sorted(consumers.after_failure) == sorted(published)
    batched = [event_id for batch in consumers.batches for event_id in batch]
    assert sorted(batched) == sorted(published)
    assert all(len(batch) >= 1 for batch in consumers.batches)


async def test_one_tenants_blocked_hook_does_not_hold_up_another_tenants_hooks(site, consumers):
    consumers.blocked_tenant = site.tenants["alpha"]
    stuck = await site.publish("alpha-agent", count=2)
    await until(lambda: set(stuck) <= {i for b in consumers.batches for i in b})
    flowing = await site.publish("beta-agent", count=3)
    await until(lambda: set(flowing) <= set(consumers.after_failure))
    assert consumers.slow == flowing  # beta's hooks ran while alpha's waited at the gate
    assert not set(stuck) & set(consumers.after_failure)  # alpha's are still waiting

    consumers.gate.set()
    await until(lambda: len(consumers.slow) == 5)
    assert consumers.slow[3:] == stuck
