"""Rate limits and attempt throttles that hold across workers when Redis is configured.

Each keeps the algorithm of its in-process twin in :mod:`kernel._identity.throttle` (the
generic cell rate algorithm for request rates, a sliding log for attempts), run as one atomic
Lua script per decision so that concurrent workers never both take the last slot. Times are
integer microseconds of the wall clock (the monotonic clock means nothing to another host).
Without Redis, or while it is away, every call goes to the in-process twin.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from typing import cast

from kernel._identity.throttle import Clock, FailureThrottle, RateLimiter
from kernel._problems import RATE_LIMITED, ProblemError
from kernel._shared.store import SharedStore

MICROS = 1_000_000

_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > burst then return tat - now - burst end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return false
"""

_ATTEMPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
end
return false
"""


def _micros(seconds: float) -> int:
    return round(seconds * MICROS)


def _wait(micros: int | None) -> int | None:
    return None if micros is None else max(1, math.ceil(micros / MICROS))


class SharedRateLimiter:
    """``per_minute`` requests per key with a burst of a tenth of that, for all workers."""

    def __init__(
        self,
        local: RateLimiter,
        store: SharedStore | None,
        scope: str,
        clock: Clock = time.time,
    ) -> None:
        self.local = local
        self._store = store
        self._scope = scope
        self._clock = clock
        self._script = store.redis.register_script(_GCRA) if store is not None else None

    async def acquire(self, key: str) -> int | None:
        """None if the request may proceed, else the seconds to wait (Retry-After)."""
        if self._store is None or not self.local.per_minute:
            return self.local.acquire(key)
        return await self._store.run(
            "rate_limit", lambda: self._shared(key), lambda: self.local.acquire(key)
        )

    async def _shared(self, key: str) -> int | None:
        assert self._store is not None
        assert self._script is not None
        interval = 60.0 / self.local.per_minute
        burst = max(1, self.local.per_minute // 10) * interval
        result = await self._script(
            keys=[self._store.key("rate", self._scope, key)],
            args=[_micros(self._clock()), _micros(interval), _micros(burst)],
        )
        return _wait(cast(int | None, result))


class AsyncAttemptThrottle:
    """``limit`` attempts per key within ``window`` seconds, counted across every worker when
    ``KRALIKI_REDIS_URL`` is set (get one from :meth:`kernel.Platform.attempt_throttle`).

    Keys (an address, an account) are stored as digests: Redis never sees an e-mail address.
    """

    def __init__(
        self,
        local: FailureThrottle,
        store: SharedStore | None,
        name: str,
        clock: Clock = time.time,
    ) -> None:
        self.local = local
        self.name = name
        self._store = store
        self._clock = clock
        self._script = store.redis.register_script(_ATTEMPT) if store is not None else None

    @property
    def limit(self) -> int:
        return self.local.limit

    @property
    def window(self) -> float:
        return self.local.window

    async def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None if it is not blocked."""
        if self._store is None:
            return self.local.retry_after(key)
        return await self._store.run(
            "throttle", lambda: self._check(key, record=False), lambda: self.local.retry_after(key)
        )

    async def attempt(self, key: str) -> int | None:
        """Count one attempt unless ``key`` is blocked; the wait if it is (atomic)."""
        if self._store is None:
            return self._local_attempt(key)
        return await self._store.run(
            "throttle", lambda: self._check(key, record=True), lambda: self._local_attempt(key)
        )

    async def fail(self, key: str) -> None:
        """Count a failure (blocked or not)."""
        if self._store is None:
            self.local.fail(key)
            return
        await self._store.run("throttle", lambda: self._add(key), lambda: self.local.fail(key))

    async def record(self, key: str) -> None:
        """Count an attempt, whatever its outcome."""
        await self.fail(key)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s count (a successful login)."""
        self.local.reset(key)
        if self._store is not None:
            await self._store.run("throttle", lambda: self._delete(key), lambda: None)

    def _local_attempt(self, key: str) -> int | None:
        wait = self.local.retry_after(key)
        if wait is None:
            self.local.record(key)
        return wait

    def _key(self, key: str) -> str:
        assert self._store is not None
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self._store.key("throttle", self.name, digest)

    async def _check(self, key: str, *, record: bool) -> int | None:
        assert self._script is not None
        result = await self._script(
            keys=[self._key(key)],
            args=[
                _micros(self._clock()),
                _micros(self.local.window),
                self.local.limit,
                "1" if record else "0",
                uuid.uuid4().hex,
            ],
        )
        return _wait(cast(int | None, result))

    async def _add(self, key: str) -> None:
        assert self._store is not None
        name = self._key(key)
        now = _micros(self._clock())
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(name, {uuid.uuid4().hex: now})
            pipe.zremrangebyscore(name, "-inf", now - _micros(self.local.window))
            pipe.pexpire(name, math.ceil(self.local.window * 1000))
            await pipe.execute()

    async def _delete(self, key: str) -> None:
        assert self._store is not None
        await self._store.redis.delete(self._key(key))


async def limit_attempts_async(
    throttle: AsyncAttemptThrottle | FailureThrottle, key: str | None, detail: str
) -> None:
    """Count one attempt for ``key`` (a client address, an account), or refuse it with a 429
    problem and ``Retry-After`` when ``key`` has used its allowance, counted across workers
    when the throttle is shared. No key: not limited."""
    if key is None:
        return
    if isinstance(throttle, AsyncAttemptThrottle):
        wait = await throttle.attempt(key)
    else:
        wait = throttle.retry_after(key)
        if wait is None:
            throttle.record(key)
    if wait is not None:
        raise ProblemError(RATE_LIMITED, detail, headers={"Retry-After": str(wait)})
