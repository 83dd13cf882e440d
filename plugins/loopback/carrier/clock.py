"""Simulated time of one loopback call.

Scripts and instructions are written in simulated seconds; the carrier waits ``seconds x
time_scale`` of real time for them. Two rules keep a call's story the same however fast the
machine and however slow the platform:

* The clock stands still while the carrier waits for the platform to take a webhook (it is
  frozen), so a slow answer at a small time scale does not eat the callee's script.
* Each side of the call (the dialling, the callee, the platform's instructions) keeps its own
  :class:`Timeline`, advanced exactly by what it does; times reported to the platform
  (durations, transcript offsets) come from timelines, never from scheduling jitter.
  Control actions, which come from outside, happen at the clock's time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any


class Clock:
    """Simulated seconds since the call was placed, frozen while webhooks are in flight."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()
        self._frozen_for = 0.0
        self._frozen_at: float | None = None
        self._freezes = 0
        self._changed: asyncio.Future[None] = self._loop.create_future()

    def now(self) -> float:
        real = self._loop.time()
        frozen = self._frozen_for
        if self._frozen_at is not None:
            frozen += real - self._frozen_at
        return (real - self._start - frozen) / self.scale

    def real(self, seconds: float) -> float:
        """Real seconds for ``seconds`` of simulated time."""
        return max(seconds, 0.0) * self.scale

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        self._freezes += 1
        if self._freezes == 1:
            self._frozen_at = self._loop.time()
            self._changed_now()
        try:
            yield
        finally:
            self._freezes -= 1
            if self._freezes == 0 and self._frozen_at is not None:
                self._frozen_for += self._loop.time() - self._frozen_at
                self._frozen_at = None
                self._changed_now()

    def _changed_now(self) -> None:
        if not self._changed.done():
            self._changed.set_result(None)
        self._changed = self._loop.create_future()

    async def wait_until(self, moment: float, future: asyncio.Future[Any] | None = None) -> bool:
        """Wait until simulated ``moment`` or until ``future`` is done (True)."""
        while future is None or not future.done():
            left = moment - self.now()
            if left <= 0:
                return False
            waits: set[asyncio.Future[Any]] = {self._changed}
            if future is not None:
                waits.add(future)
            timeout = None if self._freezes else self.real(left)
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        return True


class Timeline:
    """One side's own simulated time: it moves only by what that side does. Waits are
    measured from when they start, so a side that fell behind (a busy machine) is late,
    never early."""

    def __init__(self, clock: Clock, at: float) -> None:
        self.clock = clock
        self.t = at

    async def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.t += seconds
        await self.clock.wait_until(self.clock.now() + seconds)

    async def wait(self, future: asyncio.Future[Any], seconds: float) -> bool:
        """Wait for ``future`` at most ``seconds``; on a timeout the timeline moves by
        ``seconds``, otherwise the caller moves it to when the future was resolved."""
        seconds = max(seconds, 0.0)
        if await self.clock.wait_until(self.clock.now() + seconds, future):
            return True
        self.t += seconds
        return False

    def catch_up(self, moment: float) -> None:
        self.t = max(self.t, moment)
