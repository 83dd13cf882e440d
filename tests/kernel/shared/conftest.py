"""Redis for the shared-state tests: opt in with ``KRALIKI_TEST_REDIS_URL``; each test gets
its own key prefix (so tests run in parallel on one Redis) and its keys are deleted after."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from kernel._metrics import Metrics
from kernel._shared.store import SharedStore

REDIS_URL = os.environ.get("KRALIKI_TEST_REDIS_URL")


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("needs Redis (set KRALIKI_TEST_REDIS_URL)")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"kraliki-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def shared_store(redis_url: str, redis_prefix: str) -> AsyncIterator[SharedStore]:
    store = SharedStore(
        Redis.from_url(redis_url, decode_responses=True),
        prefix=redis_prefix,
        retry_seconds=5.0,
        metrics=Metrics(),
    )
    yield store
    await drop_keys(store.redis, redis_prefix)
    await store.aclose()


async def drop_keys(redis: Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await redis.delete(*keys)
