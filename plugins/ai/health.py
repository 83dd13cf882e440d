"""Each provider's recent behaviour per tenant: requests, errors, latency percentiles and the
last error, over a rolling window.

In this worker's memory (like the breakers without Redis): with several workers, each shows
what it saw. Only the error's class and time are kept, never its message (which may quote a
request).
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from kernel import Platform, StateKey, utcnow

WINDOW_SECONDS = 900.0
MAX_SAMPLES = 5000


@dataclass
class ProviderStats:
    samples: deque[tuple[float, float, bool]] = field(
        default_factory=lambda: deque(maxlen=MAX_SAMPLES)
    )
    """(monotonic time, latency ms, succeeded)."""
    last_error: tuple[str, datetime] | None = None

    def trim(self, now: float) -> None:
        while self.samples and self.samples[0][0] < now - WINDOW_SECONDS:
            self.samples.popleft()


@dataclass
class Health:
    stats: dict[tuple[uuid.UUID, str], ProviderStats] = field(default_factory=dict)


HEALTH = StateKey[Health]("ai.health")


def health_of(platform: Platform) -> Health:
    if not HEALTH.is_set(platform):
        return HEALTH.set(platform, Health())
    return HEALTH.get(platform)


def observe(
    platform: Platform,
    tenant_id: uuid.UUID,
    provider: str,
    latency_ms: float,
    error: str | None,
) -> None:
    stats = health_of(platform).stats.setdefault((tenant_id, provider), ProviderStats())
    now = time.monotonic()
    stats.samples.append((now, latency_ms, error is None))
    if error is not None:
        stats.last_error = (error, utcnow())
    stats.trim(now)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Figures:
    requests: int
    errors: int
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    last_error: str | None
    last_error_at: datetime | None


def figures(platform: Platform, tenant_id: uuid.UUID, provider: str) -> Figures:
    stats = health_of(platform).stats.get((tenant_id, provider))
    if stats is None:
        return Figures(0, 0, None, None, None, None, None, None)
    stats.trim(time.monotonic())
    latencies = sorted(sample[1] for sample in stats.samples)
    errors = sum(1 for sample in stats.samples if not sample[2])
    count = len(stats.samples)
    return Figures(
        requests=count,
        errors=errors,
        error_rate=errors / count if count else None,
        p50_ms=percentile(latencies, 0.50),
        p95_ms=percentile(latencies, 0.95),
        p99_ms=percentile(latencies, 0.99),
        last_error=stats.last_error[0] if stats.last_error else None,
        last_error_at=stats.last_error[1] if stats.last_error else None,
    )
