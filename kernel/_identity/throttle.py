"""In-process limits: failed-login throttling and per-tenant / per-API-key request rates.

Counters live in each worker's memory (ADR 0010): with N workers an attacker gets at most N
times the configured allowance, and no shared store is needed. Both structures forget idle
keys so memory stays bounded by the number of active keys. With ``KRALIKI_REDIS_URL`` the
same algorithms run in Redis for every worker (:mod:`kernel._shared.limits`, ADR 0032), and
these remain the fallback while Redis is away.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from kernel._problems import RATE_LIMITED, ProblemError

Clock = Callable[[], float]


@dataclass
class FailureThrottle:
    """Blocks a key (account or address) after ``limit`` failures within ``window`` seconds."""

    limit: int
    window: float
    clock: Clock = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None if it is not blocked."""
        failures = self._recent(key)
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - self.clock()))

    def fail(self, key: str) -> None:
        failures = self._recent(key)
        if failures is None:
            failures = self._failures[key] = deque()
        failures.append(self.clock())
        if len(self._failures) > 100_000:
            self._sweep()

    def record(self, key: str) -> None:
        """Count an attempt, whatever its outcome (limits on every attempt, such as sign-ups)."""
        self.fail(key)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def _sweep(self) -> None:
        for key in list(self._failures):
            self._recent(key)


AttemptThrottle = FailureThrottle
"""The public name (:mod:`kernel`): ``limit`` attempts per key within ``window`` seconds."""


def limit_attempts(throttle: FailureThrottle, key: str | None, detail: str) -> None:
    """Count one attempt for ``key`` (a client address, an account), or refuse it with a 429
    problem and ``Retry-After`` when ``key`` has used its allowance. No key: not limited."""
    if key is None:
        return
    wait = throttle.retry_after(key)
    if wait is not None:
        raise ProblemError(RATE_LIMITED, detail, headers={"Retry-After": str(wait)})
    throttle.record(key)


@dataclass
class RateLimiter:
    """Generic cell rate algorithm: ``per_minute`` requests per key, with a burst of a tenth
    of a minute's allowance; one float per active key."""

    per_minute: int
    clock: Clock = time.monotonic
    _theoretical_arrival: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._interval = 60.0 / self.per_minute if self.per_minute else 0.0
        self._burst = max(1, self.per_minute // 10) * self._interval

    def acquire(self, key: str) -> int | None:
        """None if the request may proceed, else the seconds to wait (Retry-After)."""
        if not self.per_minute:
            return None
        now = self.clock()
        arrival = max(self._theoretical_arrival.get(key, now), now)
        if arrival - now > self._burst:
            return max(1, math.ceil(arrival - now - self._burst))
        self._theoretical_arrival[key] = arrival + self._interval
        if len(self._theoretical_arrival) > 100_000:
            self._theoretical_arrival = {
                k: t for k, t in self._theoretical_arrival.items() if t > now
            }
        return None
