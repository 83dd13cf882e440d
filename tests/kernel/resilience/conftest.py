"""Fixtures of the resilience tests: stamina without waits (the `upstream` server that fails
on demand is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina


@pytest.fixture(autouse=True)
def no_retry_waits() -> Iterator[None]:
    """stamina's testing mode: no backoff, and the attempts each call asks for (capped)."""
    with stamina.set_testing(True, attempts=20, cap=True):
        yield
