"""The async engine and session factory the platform shares."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event, exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from kernel._settings import sqlite_path
from kernel._storable import install_storage_guard
from kernel._tenancy import KralikiSession

logger = logging.getLogger("kraliki.db")


def make_engine(
    url: str, *, schema: str | None = None, pool_size: int = 10, echo: bool = False
) -> AsyncEngine:
    """Create an engine with the per-dialect settings the platform relies on.

    No pre-ping (a round trip on every checkout): a pooled connection the database closed
    (restart, failover, ``pg_terminate_backend``) is known to its driver without asking,
    and :func:`_refuse_closed_connection` replaces it at checkout (docs/adr/0031).
    """
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _sqlite_savepoint_writes)
    else:
        if schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, **kwargs)
    install_storage_guard(engine)  # the same values refused on both databases
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


class ClosedConnection(exc.InvalidatePoolError):
    """A pooled connection was found closed at checkout: the pool replaces it and renews
    the connections older than it (a database restart closed them all)."""


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # asyncpg learns that the server closed the socket from the event loop (the
    # connection is "closed" without a round trip); SQLite's connections do not drop.
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise ClosedConnection("the database closed this pooled connection")


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


@dataclass(slots=True)
class _Waiting:
    """A callback waiting for a commit, and the transaction (the root or a savepoint) that
    must survive for it to run."""

    callback: Callable[[], None]
    scope: SessionTransaction | None


def call_after_commit(session: AsyncSession, key: object, callback: Callable[[], None]) -> bool:
    """Run ``callback`` once when the session's transaction commits (never if it rolls back,
    nor if the savepoint it was registered in rolls back); a second registration under the
    same ``key`` in one transaction is ignored (returns False).

    Releasing a savepoint is not the commit: SQLAlchemy reports it with the same
    ``after_commit`` event, but nothing is visible to other connections until the
    enclosing transaction commits, so a wake-up sent then finds nothing and the real commit
    would go unannounced.
    """
    sync = session.sync_session
    if not isinstance(sync, KralikiSession):
        # Its commits would never run the callback: say so rather than lose wake-ups.
        raise TypeError("call_after_commit needs a session from platform.database.session()")
    waiting: dict[object, _Waiting] = sync.info.setdefault(_AFTER_COMMIT, {})
    if key in waiting:
        return False
    waiting[key] = _Waiting(callback, sync.get_nested_transaction() or sync.get_transaction())
    return True


def _boundary(transaction: SessionTransaction) -> SessionTransaction:
    """The root transaction or savepoint that ``transaction`` commits or rolls back with."""
    while transaction.parent is not None and not transaction.nested:
        transaction = transaction.parent
    return transaction


@event.listens_for(KralikiSession, "after_commit")
def _run_after_commit(session: Session) -> None:
    waiting: dict[object, _Waiting] = session.info.get(_AFTER_COMMIT, {})
    savepoint = session.get_nested_transaction()
    if savepoint is not None:  # RELEASE SAVEPOINT: what it registered now rides on its parent
        assert savepoint.parent is not None
        parent = _boundary(savepoint.parent)
        for item in waiting.values():
            if item.scope is savepoint:
                item.scope = parent
        return
    for item in session.info.pop(_AFTER_COMMIT, {}).values():
        try:
            item.callback()
        except Exception:
            logger.exception("an after-commit callback failed")


@event.listens_for(KralikiSession, "after_transaction_end")
def _drop_after_commit(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ends without having run its callbacks never will (rolled back, or
    closed); a savepoint that ends still holding some was rolled back."""
    waiting: dict[object, _Waiting] | None = session.info.get(_AFTER_COMMIT)
    if not waiting:
        return
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)
    elif transaction.nested:
        for key in [key for key, item in waiting.items() if item.scope is transaction]:
            del waiting[key]


@event.listens_for(KralikiSession, "do_orm_execute")
def _refresh_locked_rows(state: ORMExecuteState) -> None:
    """A row read under a lock (``FOR UPDATE``, ``with_for_update=`` in ``Session.get``)
    is read as the database has it now, also when the session loaded it before.

    Sessions do not expire objects on commit, and the identity map keeps an object's loaded
    attributes when a later query returns its row again. Without this, a transaction that
    waited for another's lock would take the row lock and still read the status it had
    before (a provider's webhook racing the request that placed the call published the
    same transition twice). Pending changes are flushed before the query runs (autoflush),
    so none is lost.

    SQLite has no row locks, and its driver begins a transaction only before the first
    write: a locked read outside one saw whatever was committed last, and a writer that
    committed between it and this session's first write was overwritten (a provider's
    webhook moving a call to ``ringing`` while the request that placed it still read it
    ``queued``). There, a locked read first takes the database's one write lock
    (``BEGIN IMMEDIATE``), which is what ``FOR UPDATE`` promises.
    """
    if state.is_select and getattr(state.statement, "_for_update_arg", None) is not None:
        state.update_execution_options(populate_existing=True)
        _lock_sqlite_for_writing(state.session.connection())


def _sqlite_savepoint_writes(connection: Connection, _name: str) -> None:
    """A savepoint opened first in a SQLite transaction begins it: as a deferred (read)
    transaction, whose first write fails at once with "database is locked" if another
    connection wrote since its first read (no busy wait can help a stale snapshot). A
    savepoint is opened to write (a create-if-missing, a claim), so the transaction it
    starts takes the write lock at once, waiting its turn like any writer."""
    _lock_sqlite_for_writing(connection)


def _lock_sqlite_for_writing(connection: Connection) -> None:
    """SQLite has no row locks: a locking read takes the database's write lock first.

    Its driver begins a transaction only at the first write, so a read-then-write is not
    atomic: a webhook committed between the read and the write is overwritten with what
    was read (a placed call's answer put it back to "initiated" after the provider's
    "in-progress"). ``BEGIN IMMEDIATE`` waits for the writer (``busy_timeout``) and holds
    others off until this transaction ends, as ``FOR UPDATE`` does on PostgreSQL.
    """
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
