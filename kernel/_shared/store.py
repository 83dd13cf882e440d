"""The Redis connection behind shared state, and what happens when Redis is away.

Redis is an accelerator of correctness, not a dependency of the request path: when it does
not answer within ``KRALIKI_REDIS_TIMEOUT_SECONDS`` the worker serves from its own state
(per-worker limits, local breakers), logs one WARNING per outage, counts every fallback in
``kraliki_shared_state_fallbacks`` and tries Redis again after ``KRALIKI_REDIS_RETRY_SECONDS``.
Nobody gets a 500 because Redis is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from kernel._metrics import Metrics
from kernel._settings import Settings

logger = logging.getLogger("kraliki.shared")
T = TypeVar("T")

REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)
"""What an unreachable, slow or confused Redis raises."""


class SharedStore:
    """One platform's Redis client, key prefix and fallback bookkeeping."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        retry_seconds: float,
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self._metrics = metrics
        self._clock = clock
        self._down_until = 0.0
        self._down = False

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> SharedStore | None:
        """The store ``KRALIKI_REDIS_URL`` names, or None (each worker keeps its own state)."""
        if settings.redis_url is None:
            return None
        timeout = settings.redis_timeout_seconds
        redis = Redis.from_url(
            settings.redis_url.get_secret_value(),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One try: a retry would double the wait of every request while Redis is away.
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            client_name="kraliki",
        )
        return cls(
            redis,
            prefix=settings.redis_prefix,
            retry_seconds=settings.redis_retry_seconds,
            metrics=metrics,
        )

    def key(self, *parts: str) -> str:
        """A namespaced key. Parts are ids, names and digests: never a secret."""
        return self.prefix + ":".join(parts)

    @property
    def available(self) -> bool:
        """False for ``retry_seconds`` after a failure: no request waits on a dead Redis."""
        return self._clock() >= self._down_until

    async def run(
        self,
        component: str,
        shared: Callable[[], Awaitable[T]],
        local: Callable[[], T],
    ) -> T:
        """``shared()`` through Redis, or ``local()`` when Redis is away or fails."""

        async def local_now() -> T:
            return local()

        return await self.run_async(component, shared, local_now)

    async def run_async(
        self,
        component: str,
        shared: Callable[[], Awaitable[T]],
        local: Callable[[], Awaitable[T]],
    ) -> T:
        """As :meth:`run`, for a local fallback that must be awaited."""
        if self.available:
            try:
                result = await shared()
            except REDIS_ERRORS as exc:
                self.failed(component, exc)
            else:
                self.succeeded()
                return result
        self.fell_back(component)
        return await local()

    def fell_back(self, component: str) -> None:
        self._metrics.shared_state_fallbacks.labels(component).inc()

    def failed(self, component: str, exc: BaseException) -> None:
        """Note a failure: serve locally for ``retry_seconds``, warn once per outage."""
        self._down_until = self._clock() + self.retry_seconds
        if self._down:
            return
        self._down = True
        logger.warning(
            "Redis is unreachable (%s); limits and breakers fall back to this worker's own "
            "state, retrying Redis every %.0f s",
            type(exc).__name__,
            self.retry_seconds,
            extra={"event": "shared_state_unavailable", "component": component},
        )

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            logger.warning(
                "Redis answers again; limits and breakers are shared again",
                extra={"event": "shared_state_recovered"},
            )

    async def aclose(self) -> None:
        await self.redis.aclose()
