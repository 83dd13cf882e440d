"""Database connections found dead: logged and counted, though the platform survives them.

The pool refuses a connection the database closed when it hands it out (the driver knows
without a round trip, see ``kernel._db``) and SQLAlchemy notices a connection that breaks
under a statement; either way the connection is replaced and the pool renews its other
connections, silently. A database restart, a failover, a proxy or a
firewall that cuts idle connections, or an administrator's ``pg_terminate_backend`` should
still show: a warning on the ``kraliki.db`` logger and ``kraliki_db_disconnects_total``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel._db import ClosedConnection
from kernel._metrics import Metrics

logger = logging.getLogger("kraliki.db")

CHECKOUT = "checkout"
"""Found closed when the pool handed it out, before use: nothing failed."""
STATEMENT = "statement"
"""Broke under a statement: that statement (and its transaction) failed."""


def watch_connections(engine: AsyncEngine, metrics: Metrics) -> None:
    """Log and count every connection of ``engine`` found dead."""
    where = location(engine.url)

    @event.listens_for(engine.sync_engine, "invalidate")
    def _closed(_dbapi_connection: Any, _record: Any, error: BaseException | None) -> None:
        if isinstance(error, ClosedConnection):
            _report(CHECKOUT, error)

    @event.listens_for(engine.sync_engine, "handle_error")
    def _disconnected(context: ExceptionContext) -> None:
        if not context.is_disconnect or not isinstance(context.original_exception, Exception):
            return  # a cancelled or interrupted statement: dropped on purpose, not lost
        if context.is_pre_ping:
            when = CHECKOUT
        elif context.connection is not None:
            when = STATEMENT
        else:
            return  # could not connect at all: the caller's error says so
        _report(when, context.original_exception)

    def _report(when: str, error: BaseException) -> None:
        metrics.db_disconnects.labels(when).inc()
        logger.warning(
            "lost a database connection (%s, found at %s: %s); it is replaced and the pool "
            "renews its other connections",
            where,
            when,
            type(error).__name__,
            extra={
                "database": where,
                "detected_at": when,
                "error": f"{type(error).__name__}: {str(error)[:200]}",
                "pool": engine.pool.status(),
            },
        )


def location(url: URL) -> str:
    """Where the database is, never who connects to it: host, port and database name (the
    user name and password are left out)."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite:{url.database or ':memory:'}"
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{url.get_backend_name()}://{host}{port}/{url.database or ''}"
