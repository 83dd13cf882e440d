"""The background workers a platform runs next to its web server: the event dispatcher (with
its PostgreSQL listener), the job worker and the purge of expired idempotency keys."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from kernel._events.listener import Listener, SqliteCommits
from kernel._settings import sqlite_path

if TYPE_CHECKING:
    from kernel._platform import Platform


LISTENER_START_SECONDS = 30.0
"""How long a start waits for its LISTEN connection: generous, since a loaded server may
refuse connections for a while; past it the start fails with a message that says why."""


class BackgroundWorkers:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.tasks: list[asyncio.Task[None]] = []
        self.listener: Listener | None = None

    async def start(self, *, run_workers: bool) -> None:
        """Start the event transport (real-time subscribers need other workers'
        dispatches: PostgreSQL LISTEN, or a NATS consumer) and, with ``run_workers``, the
        dispatcher (with the transport's relay), the job worker and the idempotency-key
        purge."""
        platform = self.platform
        transport = platform.event_transport
        channels: dict[str, Callable[[uuid.UUID], None]] = dict(transport.listen_channels())
        on_connect = _nothing
        # First: a transport that cannot start (NATS unreachable) fails the start cleanly.
        self.tasks.extend(await transport.start(relay=run_workers))
        if run_workers:
            dispatcher = platform.dispatcher
            channels[platform.events.events_channel] = dispatcher.wake
            on_connect = dispatcher.request_sweep
            self.tasks.append(asyncio.create_task(dispatcher.run(), name="kraliki-dispatcher"))
            self.tasks.append(asyncio.create_task(platform.jobs.run(platform), name="kraliki-jobs"))
            self.tasks.append(
                asyncio.create_task(
                    platform.idempotency.run_purge(), name="kraliki-idempotency-purge"
                )
            )
        if platform.database.dialect == "postgresql" and channels:
            self.listener = Listener(platform.database.engine, channels, on_connect=on_connect)
            self.tasks.append(asyncio.create_task(self.listener.run(), name="kraliki-listener"))
            # Commits made after start must not go unheard.
            try:
                await asyncio.wait_for(self.listener.connected.wait(), LISTENER_START_SECONDS)
            except TimeoutError:
                raise RuntimeError(
                    "the event listener could not connect to PostgreSQL within "
                    f"{LISTENER_START_SECONDS:g} s (see the warnings logged above)"
                ) from None
        elif run_workers and sqlite_path(platform.settings.database_url) is not None:
            # Another process's commits (a CLI command's events): no NOTIFY on SQLite.
            watcher = SqliteCommits(platform.database.engine, platform.dispatcher.request_sweep)
            self.tasks.append(asyncio.create_task(watcher.run(), name="kraliki-sqlite-commits"))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()


def _nothing() -> None:
    return None
