"""Database connections dropped under the platform (here: ``pg_terminate_backend``, as an
administrator, a failover or a proxy would) are survived and logged: a warning that says
where the database is but never who connects, a counter, and the next request succeeds."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from kernel._observability.connections import location
from kernel.testing import app_client, wait_until

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    return []  # the kernel alone: nothing here needs a plugin


async def pooled_pids(platform) -> list[int]:
    """The server process ids behind the pool's idle connections."""
    engine = platform.database.engine
    async with AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(engine.connect())
            for _ in range(engine.pool.checkedin())
        ]
        return [await connection.scalar(text("SELECT pg_backend_pid()")) for connection in held]


async def terminate(database, query: str) -> list[int]:
    """Terminate the app role's backends that ``query`` selects (the role may end its own
    sessions; other tests' sessions of the role are never selected)."""
    engine = create_async_engine(database.url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            pids = list(await connection.scalars(text(query)))
            for pid in pids:
                assert await connection.scalar(text(f"SELECT pg_terminate_backend({pid}, 5000)"))
            return pids
    finally:
        await engine.dispose()


async def test_a_dropped_pooled_connection_is_logged_and_replaced(
    kraliki_make_app, kraliki_database, caplog
):
    app = await kraliki_make_app(background_workers=False)
    platform = app.state.platform
    async with app_client(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        pids = await pooled_pids(platform)
        assert pids
        await terminate(kraliki_database, f"SELECT unnest(ARRAY{pids})")
        with caplog.at_level(logging.WARNING, logger="kraliki.db"):
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200

    [record] = [r for r in caplog.records if r.name == "kraliki.db"]
    url = make_url(kraliki_database.url)
    assert record.levelno == logging.WARNING
    assert record.detected_at == "checkout"
    assert record.database == location(url) == f"postgresql://{url.host}:{url.port}/{url.database}"
    assert "lost a database connection" in record.getMessage()
    assert "Pool size" in record.pool
    everything = record.getMessage() + str(vars(record))
    assert url.username not in everything
    counted = platform.metrics.registry.get_sample_value(
        "kraliki_db_disconnects_total", {"detected_at": "checkout"}
    )
    assert counted == 1


async def test_a_dropped_listener_connection_is_logged_and_reopened(
    kraliki_make_app, kraliki_database, caplog
):
    await kraliki_make_app(background_workers=False)  # the listener runs all the same
    listening = (
        "SELECT pid FROM pg_stat_activity WHERE usename = current_user "
        f"AND query LIKE 'LISTEN %{kraliki_database.schema}%'"
    )
    with caplog.at_level(logging.WARNING, logger="kraliki.events"):
        [before] = await terminate(kraliki_database, listening)
        await wait_until(lambda: "listener's database connection was closed" in caplog.text)

    engine = create_async_engine(kraliki_database.url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            async with asyncio.timeout(10):
                while True:  # it reconnects after half a second
                    now = list(await connection.scalars(text(listening)))
                    await connection.rollback()  # pg_stat_activity is read once per transaction
                    if now and before not in now:
                        break
                    await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def test_a_cancelled_statement_is_not_a_lost_connection(kraliki_make_app, caplog):
    app = await kraliki_make_app(background_workers=False)
    engine = app.state.platform.database.engine

    async def slow() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_sleep(5)"))

    with caplog.at_level(logging.WARNING, logger="kraliki.db"):
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.2)
        task.cancel()  # a request whose client went away, a shutdown: dropped on purpose
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [r for r in caplog.records if r.name == "kraliki.db"] == []
    assert app.state.platform.metrics.registry.get_sample_value(
        "kraliki_db_disconnects_total", {"detected_at": "statement"}
    ) in (None, 0)
