"""Redis away: every decision is taken from the worker's own state, with one WARNING per
outage and a count per fallback; nothing raises, and nobody waits on Redis again before the
retry delay. No Redis needed: the store points at a port where nothing listens."""

from __future__ import annotations

import logging
import socket
import uuid

import pytest

from kernel._identity.throttle import FailureThrottle, RateLimiter
from kernel._metrics import Metrics
from kernel._resilience.breakers import Breakers
from kernel._resilience.errors import CircuitOpenError
from kernel._settings import Settings
from kernel._shared.limits import AsyncAttemptThrottle, SharedRateLimiter
from kernel._shared.store import SharedStore

from .conftest import FakeClock


def dead_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://:not-logged@127.0.0.1:{port}/0"


@pytest.fixture
async def dead_store():
    clock = FakeClock()
    settings = Settings(_env_file=None, redis_url=dead_url(), redis_timeout_seconds=0.2)
    store = SharedStore.from_settings(settings, Metrics())
    assert store is not None
    store._clock = clock
    yield store, clock
    await store.aclose()


def fallbacks(store: SharedStore, component: str) -> float:
    value = store._metrics.registry.get_sample_value(
        "kraliki_shared_state_fallbacks_total", {"component": component}
    )
    return value or 0.0


async def test_limits_fall_back_to_per_worker_state_with_one_warning(dead_store, caplog):
    store, clock = dead_store
    limiter = SharedRateLimiter(RateLimiter(60), store, "tenant")
    throttle = AsyncAttemptThrottle(FailureThrottle(2, 60.0), store, "login")
    with caplog.at_level(logging.WARNING, logger="kraliki.shared"):
        # Still limited, by this worker's own counter: the burst of 7, then 429s.
        assert [await limiter.acquire("acme") for _ in range(7)] == [None] * 7
        assert await limiter.acquire("acme") == 1
        await throttle.fail("ada")
        await throttle.fail("ada")
        assert await throttle.retry_after("ada") == 60
        await throttle.reset("ada")
        assert await throttle.attempt("ada") is None
    warnings = [r for r in caplog.records if r.name == "kraliki.shared"]
    assert len(warnings) == 1  # one per outage, not one per request
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].event == "shared_state_unavailable"
    assert "not-logged" not in warnings[0].getMessage()  # the URL's password never logged
    assert fallbacks(store, "rate_limit") == 8
    assert fallbacks(store, "throttle") == 5
    assert not store.available  # no request waits on Redis until the retry delay passes
    clock.now += store.retry_seconds
    assert store.available


async def test_breakers_fall_back_to_local_state(dead_store):
    store, _ = dead_store
    breakers = Breakers(threshold=2, reset_seconds=30, metrics=store._metrics, shared=store)
    tenant = uuid.uuid4()
    for _ in range(2):
        guard = await breakers.enter(tenant, "crm")
        await guard.failed(TimeoutError())
    with pytest.raises(CircuitOpenError):
        await breakers.enter(tenant, "crm")
    assert await breakers.keys() == [(tenant, "crm")]
    await breakers.force((tenant, "crm"), "forced_closed", actor="ops", actor_kind="operator")
    assert (await breakers.snapshot((tenant, "crm"))).state == "forced_closed"
    guard = await breakers.enter(tenant, "crm")  # forced closed: goes through
    await guard.succeeded()
    assert fallbacks(store, "breaker") > 0
