"""A small per-worker cache of decrypted secrets, for hot paths that read one per request.

A provider's webhook is verified with the tenant's secret on every delivery; revealing it
each time (a transaction of its own, an audit row, a commit) cost more than the rest of the
verification. Each worker therefore keeps a few decrypted values (docs/adr/0034):

* bounded: at most ``size`` entries (least recently used dropped first), each for at most
  ``ttl`` seconds (never more than :data:`MAX_TTL`) from the decryption that filled it;
* stamped: an entry holds the secret row's ``version`` and ``data_key_id`` at its fill, and
  a look-up gives the stamp read in the caller's transaction. A write (new version), a
  rotation (new data key) or a deletion (no row) committed by any worker or host makes the
  entry stale at once, everywhere: the look-up that sees the new stamp drops it;
* expired entries leave memory within about a second of expiring (a timer on the event
  loop), also in a worker that is never asked again;
* a suspended tenant's entries are dropped when a look-up sees the suspension, and none is
  filled for it (its secrets are revealed per use again);
* the worker that writes drops its own entry at once (``drop``).

Each fill is one audited decryption (the vault's access log names the secret, the tenant,
the time and the purpose); uses served from the cache are counted, not audited.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_TTL = 60.0
"""No decrypted value is kept longer than this, whatever the settings say."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """What identifies one sealed value of a secret: any write or rotation changes it."""

    version: int
    data_key_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: Stamp
    value: str
    expires: float


class SecretCache:
    """Decrypted secrets by (tenant, name), bounded in size and age."""

    def __init__(
        self, size: int, ttl: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = max(0, size)
        self.ttl = min(max(0.0, ttl), MAX_TTL)
        self._now = clock
        self._entries: OrderedDict[tuple[uuid.UUID, str], _Entry] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    @property
    def enabled(self) -> bool:
        return self.size > 0 and self.ttl > 0

    def get(self, tenant_id: uuid.UUID, name: str, stamp: Stamp) -> str | None:
        """The value, if cached, fresh and sealed as ``stamp`` says; a stale entry is
        dropped."""
        key = (tenant_id, name)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.stamp != stamp or self._now() >= entry.expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, tenant_id: uuid.UUID, name: str, stamp: Stamp, value: str) -> None:
        if not self.enabled:
            return
        now = self._now()
        self._sweep(now)
        key = (tenant_id, name)
        self._entries[key] = _Entry(stamp, value, now + self.ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        self._schedule_sweep()

    def drop(self, tenant_id: uuid.UUID, name: str | None = None) -> None:
        """Forget one secret of the tenant, or all of them (``name`` None)."""
        if name is not None:
            self._entries.pop((tenant_id, name), None)
            return
        for key in [key for key in self._entries if key[0] == tenant_id]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def _sweep(self, now: float) -> None:
        for key in [key for key, entry in self._entries.items() if now >= entry.expires]:
            del self._entries[key]

    def _schedule_sweep(self) -> None:
        """Expired values leave memory about when they expire, also in a worker nobody asks
        again (one timer at a time, on the running event loop)."""
        if not self._entries:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): the next put sweeps
            return
        if self._timer is not None and self._timer_loop is loop:
            return
        self._timer_loop = loop
        self._timer = loop.call_later(self.ttl + 0.5, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._sweep(self._now())
        self._schedule_sweep()

    def __len__(self) -> int:
        return len(self._entries)
