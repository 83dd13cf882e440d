"""The async engine and session factory the platform shares."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from kernel._settings import sqlite_path
from kernel._storable import install_storage_guard
from kernel._tenancy import KralikiSession

logger = logging.getLogger("kraliki.db")


def make_engine(
    url: str, *, schema: str | None = None, pool_size: int = 10, echo: bool = False
) -> AsyncEngine:
    """Create an engine with the per-dialect settings the platform relies on."""
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        if schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, **kwargs)
    install_storage_guard(engine)  # the same values refused on both databases
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run during a write; busy_timeout waits instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    """Owns the engine and hands out sessions; one per platform instance."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # KralikiSession carries the tenancy listeners (kernel._tenancy).
        self.sessionmaker = async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=KralikiSession
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that rolls back whatever was not committed when the block exits."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


_request_session: ContextVar[AsyncSession | None] = ContextVar(
    "kraliki_request_session", default=None
)


def request_session() -> AsyncSession | None:
    """The session of the request being served (``SessionDep``), or None outside one.

    Lets kernel helpers that a route calls without its session (``idempotency.claim``) roll
    back the request's uncommitted work before they write: on SQLite, that work holds the
    one write lock.
    """
    return _request_session.get()


@contextmanager
def serving_request(session: AsyncSession) -> Iterator[None]:
    """Make ``session`` the :func:`request_session` inside the block."""
    token = _request_session.set(session)
    try:
        yield
    finally:
        _request_session.reset(token)


_AFTER_COMMIT = "kraliki_after_commit"


def call_after_commit(session: AsyncSession, key: object, callback: Callable[[], None]) -> bool:
    """Run ``callback`` once if the session's current transaction commits (never if it rolls
    back); a second registration under the same ``key`` in one transaction is ignored
    (returns False)."""
    callbacks: dict[object, Callable[[], None]] = session.info.setdefault(_AFTER_COMMIT, {})
    if key in callbacks:
        return False
    callbacks[key] = callback
    return True


@event.listens_for(KralikiSession, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, {}).values():
        try:
            callback()
        except Exception:
            logger.exception("an after-commit callback failed")


@event.listens_for(KralikiSession, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)
