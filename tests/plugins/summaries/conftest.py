"""Summaries tests: calls on the loopback carrier (``loopback_calls``: a served app with its
workers, an organization whose owner is logged in), summaries made by the real job. The
settle time is 0 and retries come at once, so a summary is there a moment after its call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from plugins.loopback import testing

loopback_calls = testing.loopback_calls


@pytest.fixture(autouse=True)
def quick_summaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRALIKI_SUMMARIES_SETTLE_SECONDS", "0")
    monkeypatch.setenv("KRALIKI_SUMMARIES_RETRY_SCHEDULE", "0,0")


@pytest.fixture
async def api(loopback_calls: testing.LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    """The owner's client on ``/api/v1``."""
    async with httpx.AsyncClient(
        base_url=f"{loopback_calls.url}/api/v1", headers=loopback_calls.headers, timeout=30
    ) as client:
        yield client
