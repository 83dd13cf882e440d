"""Circuit breakers on Redis: two workers (two ``Breakers`` on one Redis) see the same state,
failure count, overrides and list of breakers."""

from __future__ import annotations

import uuid

import pytest

from kernel._metrics import Metrics
from kernel._resilience.breakers import Breakers
from kernel._resilience.errors import CircuitOpenError


def two_workers(shared_store) -> tuple[Breakers, Breakers]:
    return tuple(  # type: ignore[return-value]
        Breakers(threshold=3, reset_seconds=30, metrics=Metrics(), shared=shared_store)
        for _ in range(2)
    )


async def test_failures_in_two_workers_open_one_breaker(shared_store):
    first, second = two_workers(shared_store)
    tenant = uuid.uuid4()
    for worker in (first, second, first):
        guard = await worker.enter(tenant, "crm")
        await guard.failed(TimeoutError())
    for worker in (first, second):
        with pytest.raises(CircuitOpenError) as opened:
            await worker.enter(tenant, "crm")
        assert 0 < opened.value.retry_after <= 30
        snapshot = await worker.snapshot((tenant, "crm"))
        assert snapshot.state == "open"
        assert snapshot.failure_count == 3
    # Another tenant's breaker for the same dependency is its own.
    guard = await second.enter(uuid.uuid4(), "crm")
    await guard.succeeded()
    await second.reset((tenant, "crm"))
    guard = await first.enter(tenant, "crm")
    await guard.succeeded()
    assert (await first.snapshot((tenant, "crm"))).failure_count == 0


async def test_overrides_and_the_list_are_shared(shared_store):
    first, second = two_workers(shared_store)
    tenant = uuid.uuid4()
    guard = await first.enter(tenant, "crm")
    await guard.succeeded()
    assert await second.keys() == [(tenant, "crm")]
    assert await second.known((tenant, "crm"))
    assert await second.keys(uuid.uuid4()) == []

    await first.force((tenant, "crm"), "forced_open", actor="ada@acme.test", actor_kind="user")
    with pytest.raises(CircuitOpenError) as refused:
        await second.enter(tenant, "crm")
    assert refused.value.forced
    snapshot = await second.snapshot((tenant, "crm"))
    assert snapshot.state == "forced_open"
    assert snapshot.forcing is not None
    assert snapshot.forcing.actor == "ada@acme.test"

    await second.reset((tenant, "crm"))
    guard = await first.enter(tenant, "crm")  # the override is gone for everyone
    await guard.succeeded()
    assert (await first.snapshot((tenant, "crm"))).state == "closed"
