"""The Redis-backed limiter and throttle decide exactly as their in-process twins: the same
scenarios run on both, on a fake clock; and a second "worker" (another object on the same
Redis) sees what the first counted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kernel._identity.throttle import FailureThrottle, RateLimiter
from kernel._problems import ProblemError
from kernel._shared.limits import AsyncAttemptThrottle, SharedRateLimiter, limit_attempts_async
from kernel._shared.store import SharedStore

from .conftest import FakeClock

MakeThrottle = Callable[[int, float], AsyncAttemptThrottle]
MakeLimiter = Callable[[int], SharedRateLimiter]


@pytest.fixture(params=["in_process", "redis"])
def clock_and_store(request) -> tuple[FakeClock, SharedStore | None]:
    clock = FakeClock()
    if request.param == "in_process":
        return clock, None
    return clock, request.getfixturevalue("shared_store")


@pytest.fixture
def clock(clock_and_store) -> FakeClock:
    return clock_and_store[0]


@pytest.fixture
def make_throttle(clock_and_store) -> MakeThrottle:
    clock, store = clock_and_store

    def make(limit: int, window: float) -> AsyncAttemptThrottle:
        if store is None:
            return AsyncAttemptThrottle(FailureThrottle(limit, window, clock=clock), None, "t")
        return AsyncAttemptThrottle(FailureThrottle(limit, window), store, "t", clock=clock)

    return make


@pytest.fixture
def make_limiter(clock_and_store) -> MakeLimiter:
    clock, store = clock_and_store

    def make(per_minute: int) -> SharedRateLimiter:
        if store is None:
            return SharedRateLimiter(RateLimiter(per_minute, clock=clock), None, "t")
        return SharedRateLimiter(RateLimiter(per_minute), store, "t", clock=clock)

    return make


async def test_throttle_blocks_at_the_limit_until_the_window_passes(make_throttle, clock):
    throttle = make_throttle(3, 60.0)
    for offset in (0, 10, 20):
        assert await throttle.retry_after("ada") is None
        clock.now = 1000.0 + offset
        await throttle.fail("ada")
    assert await throttle.retry_after("ada") == 40  # the oldest failure leaves at 1060
    clock.now = 1059.5
    assert await throttle.retry_after("ada") == 1
    clock.now = 1060.0
    assert await throttle.retry_after("ada") is None  # two failures left in the window
    await throttle.fail("ada")
    assert await throttle.retry_after("ada") == 10  # now the failure of 1010 is the oldest


async def test_throttle_keys_are_independent_and_reset_forgets(make_throttle):
    throttle = make_throttle(2, 60.0)
    await throttle.fail("ada")
    await throttle.fail("ada")
    await throttle.fail("bob")
    assert await throttle.retry_after("ada") == 60
    assert await throttle.retry_after("bob") is None
    await throttle.reset("ada")
    assert await throttle.retry_after("ada") is None
    await throttle.fail("ada")
    assert await throttle.retry_after("ada") is None
    await throttle.reset("nobody")  # harmless


async def test_limit_attempts_counts_only_admitted_attempts(make_throttle, clock):
    throttle = make_throttle(2, 60.0)
    for _ in range(2):
        await limit_attempts_async(throttle, "10.0.0.1", "slow down")
    for _ in range(5):
        with pytest.raises(ProblemError) as refused:
            await limit_attempts_async(throttle, "10.0.0.1", "slow down")
        assert refused.value.headers == {"Retry-After": "60"}
    await limit_attempts_async(throttle, None, "no key: never limited")
    clock.now += 60
    await limit_attempts_async(throttle, "10.0.0.1", "refusals did not count")


async def test_limiter_allows_a_burst_then_one_per_interval(make_limiter, clock):
    limiter = make_limiter(60)  # one a second, burst 60 // 10 + 1 = 7
    assert [await limiter.acquire("k") for _ in range(7)] == [None] * 7
    assert await limiter.acquire("k") == 1
    assert await limiter.acquire("other") is None
    clock.now += 1
    assert await limiter.acquire("k") is None
    assert await limiter.acquire("k") == 1
    clock.now += 60
    assert [await limiter.acquire("k") for _ in range(7)] == [None] * 7  # the burst is back
    assert await limiter.acquire("k") == 1


async def test_limiter_retry_after_counts_down_and_refusals_are_free(make_limiter, clock):
    limiter = make_limiter(2)  # one each 30 s, burst 2
    assert await limiter.acquire("k") is None
    assert await limiter.acquire("k") is None
    for _ in range(20):
        assert await limiter.acquire("k") == 30
    clock.now += 10
    assert await limiter.acquire("k") == 20
    clock.now += 19.5
    assert await limiter.acquire("k") == 1
    clock.now += 0.5
    assert await limiter.acquire("k") is None
    assert await limiter.acquire("k") == 30


async def test_limiter_zero_means_unlimited(make_limiter):
    limiter = make_limiter(0)
    assert all([await limiter.acquire("k") is None for _ in range(200)])


# --- two workers on one Redis ----------------------------------------------------------------


async def test_two_workers_share_one_allowance(shared_store):
    clock = FakeClock()
    first, second = (
        SharedRateLimiter(RateLimiter(60), shared_store, "tenant", clock=clock) for _ in range(2)
    )
    admitted = [await (first if i % 2 else second).acquire("acme") for i in range(14)]
    assert admitted.count(None) == 7  # the burst once, not once per worker
    throttles = [
        AsyncAttemptThrottle(FailureThrottle(2, 60.0), shared_store, "login", clock=clock)
        for _ in range(2)
    ]
    await throttles[0].fail("acme/ada@example.com")
    await throttles[1].fail("acme/ada@example.com")
    assert await throttles[0].retry_after("acme/ada@example.com") == 60
    await throttles[0].reset("acme/ada@example.com")
    assert await throttles[1].retry_after("acme/ada@example.com") is None


async def test_keys_are_namespaced_and_hold_no_personal_data(shared_store, redis_prefix):
    throttle = AsyncAttemptThrottle(FailureThrottle(2, 60.0), shared_store, "login-account")
    limiter = SharedRateLimiter(RateLimiter(60), shared_store, "tenant")
    await throttle.fail("acme/ada@example.com")
    await limiter.acquire("6f1c0e4e-0000-4000-8000-000000000001")
    keys = sorted([key async for key in shared_store.redis.scan_iter(match=f"{redis_prefix}*")])
    assert len(keys) == 2
    assert all(key.startswith(redis_prefix) for key in keys)
    assert not any("ada" in key or "example" in key for key in keys)
    assert f"{redis_prefix}rate:tenant:6f1c0e4e-0000-4000-8000-000000000001" in keys
    # Every key expires: nothing piles up in Redis.
    assert all([await shared_store.redis.pttl(key) > 0 for key in keys])


async def test_limit_attempts_async_also_takes_the_per_worker_throttle():
    clock = FakeClock()
    throttle = FailureThrottle(1, 60.0, clock=clock)
    await limit_attempts_async(throttle, "10.0.0.1", "slow down")
    with pytest.raises(ProblemError) as refused:
        await limit_attempts_async(throttle, "10.0.0.1", "slow down")
    assert refused.value.headers == {"Retry-After": "60"}


def test_redis_settings():
    from kernel._settings import Settings

    assert Settings(_env_file=None, redis_url="").redis_url is None
    configured = Settings(_env_file=None, redis_url="redis://:pw@127.0.0.1:6379/2")
    assert configured.redis_url is not None
    assert "pw" not in repr(configured)  # a password in the URL is never printed
    with pytest.raises(ValueError, match="KRALIKI_REDIS_URL"):
        Settings(_env_file=None, redis_url="http://127.0.0.1:6379")
    with pytest.raises(ValueError):
        Settings(_env_file=None, redis_prefix="has space")
