"""How one process hears another's commits: PostgreSQL LISTEN on a dedicated connection, or
on SQLite, the database file's change counter."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger("kraliki.events")


FIRST_CONNECT_RETRY_SECONDS = 0.25
"""Until the first connection, retry at a steady short pace: a start waits on it, and a
server busy handing out connections (``too many clients``) frees one at any moment."""
RECONNECT_FIRST_DELAY_SECONDS = 0.5
RECONNECT_MAX_DELAY_SECONDS = 10.0


class Listener:
    """Keeps one connection LISTENing on ``channels``; after every (re)connect it calls
    ``on_connect`` so that whatever was announced while it was deaf gets looked at."""

    def __init__(
        self,
        engine: AsyncEngine,
        channels: dict[str, Callable[[uuid.UUID], None]],
        on_connect: Callable[[], None],
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.on_connect = on_connect
        self.connected = asyncio.Event()
        self.ever_connected = False

    async def run(self) -> None:
        delay = FIRST_CONNECT_RETRY_SECONDS
        while True:
            lost = asyncio.Event()
            try:
                async with self.engine.connect() as connection:
                    raw = await connection.get_raw_connection()
                    driver: Any = raw.driver_connection
                    for channel in self.channels:
                        await driver.add_listener(channel, self._receive)
                    driver.add_termination_listener(lambda _conn, lost=lost: lost.set())
                    self.connected.set()
                    self.ever_connected = True
                    delay = RECONNECT_FIRST_DELAY_SECONDS
                    try:
                        self.on_connect()
                        await lost.wait()
                        logger.warning(
                            "the event listener's database connection was closed; "
                            "reconnecting (what was announced meanwhile is swept)"
                        )
                    finally:
                        # Never hand a listening connection back to the pool.
                        raw.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("event listener lost its connection; reconnecting", exc_info=True)
            self.connected.clear()
            await asyncio.sleep(delay)
            if self.ever_connected:
                delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)

    def _receive(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        callback = self.channels.get(channel)
        if callback is None:
            return
        try:
            tenant = uuid.UUID(payload)
        except ValueError:
            logger.warning("ignored a malformed %s notification", channel)
            return
        callback(tenant)


SQLITE_POLL_SECONDS = 0.5


class SqliteCommits:
    """SQLite has no NOTIFY: another process's commit (a CLI command's events) is noticed by
    ``PRAGMA data_version``, which changes on a dedicated connection whenever any other
    connection commits; ``on_change`` is then called (this process's own commits count too,
    already announced; the dispatcher's sweep that follows finds little)."""

    def __init__(self, engine: AsyncEngine, on_change: Callable[[], None]) -> None:
        self.engine = engine
        self.on_change = on_change

    async def run(self) -> None:
        last: int | None = None
        while True:
            try:
                async with self.engine.connect() as connection:
                    while True:
                        version = await connection.scalar(text("PRAGMA data_version"))
                        await connection.rollback()  # hold no read transaction in between
                        # The first reading after a (re)connect counts as a change:
                        # whatever was committed before it (after the start-up sweep, or
                        # while the watcher was down) is looked at, as after a LISTEN.
                        if version != last:
                            self.on_change()
                        last = version
                        await asyncio.sleep(SQLITE_POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning(
                    "watching the SQLite file for commits failed; retrying", exc_info=True
                )
                last = None  # another connection: its counter starts elsewhere
                await asyncio.sleep(SQLITE_POLL_SECONDS)
