"""Fixtures of the resilience tests: a failing-on-demand upstream, stamina without waits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import stamina
from flaky_upstream import FlakyServer


@pytest.fixture
async def upstream() -> AsyncIterator[FlakyServer]:
    server = FlakyServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(autouse=True)
def no_retry_waits() -> Iterator[None]:
    """stamina's testing mode: no backoff, and the attempts each call asks for (capped)."""
    with stamina.set_testing(True, attempts=20, cap=True):
        yield
