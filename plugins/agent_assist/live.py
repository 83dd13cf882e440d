"""Suggestions made beside the event hooks' pass, not inside it.

A tenant's ``kraliki_events`` hooks run one pass at a time (the kernel's hook runner), and a
suggestion waits hundreds of milliseconds for its model: made inside the pass, every segment
arriving meanwhile (and every other plugin's hooks for that organization) would wait for the
slowest suggestion. The hook hands each segment here and returns; the work runs as tasks of
this worker, several calls at once, each call's segments in order (each reads what was
suggested on its call before).

A suggestion is a live aid: one whose worker stops before it is made is not made (a stale one
would be of no use); delivery to this queue, and the suggestion itself, stay keyed by the
event's id, so a redelivered event is still made once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kernel import StateKey

logger = logging.getLogger(__name__)

CONCURRENT_CALLS = 8
"""Calls whose suggestions are made at the same time in one worker (each holds a database
connection around its reads and its write, not while the model answers)."""
MAX_WAITING = 1000
"""Segments waiting in one worker beyond which new ones are dropped (logged): when models
cannot keep up, a suggestion for something said minutes ago helps nobody."""
DRAIN_SECONDS = 5.0
"""How long a stopping worker lets the suggestions under way finish."""


class LiveSuggestions:
    """This worker's suggestions under way."""

    def __init__(self) -> None:
        self._slots = asyncio.Semaphore(CONCURRENT_CALLS)
        self._latest: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def waiting(self) -> int:
        return len(self._tasks)

    def submit(self, call_key: str, work: Callable[[], Awaitable[object]]) -> bool:
        """Run ``work`` after the call's earlier work; False when dropped (stopping, or too
        much waiting). The task inherits the caller's context: the tenant's scope."""
        if self._closed:
            return False
        if len(self._tasks) >= MAX_WAITING:
            logger.warning("agent_assist: %d segments waiting; one dropped", len(self._tasks))
            return False
        task = asyncio.create_task(
            self._run(self._latest.get(call_key), work), name=f"agent-assist-{call_key}"
        )
        self._latest[call_key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(call_key, done))
        return True

    async def _run(
        self, before: asyncio.Task[None] | None, work: Callable[[], Awaitable[object]]
    ) -> None:
        if before is not None:
            await asyncio.wait([before])  # its outcome is its own
        async with self._slots:
            await work()

    def _forget(self, call_key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._latest.get(call_key) is task:
            del self._latest[call_key]
        if not task.cancelled() and task.exception() is not None:
            logger.error("agent_assist: a suggestion failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until nothing is under way (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self) -> None:
        """Stop taking work; let what is under way finish for a few seconds, then cancel."""
        self._closed = True
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(list(self._tasks), timeout=DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


LIVE = StateKey[LiveSuggestions]("agent_assist.live")
