"""What the campaigns' loopback tests share: the served app with per-number callees
(``KRALIKI_LOOPBACK_CALLEES``), a client for it, zones where it is midday or night now (so
that the calling window allows or refuses dials whatever the hour the test runs at), and
polling the API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from kernel import utcnow
from plugins.loopback.testing import LoopbackCalls


def loopback_with_callees(request: pytest.FixtureRequest, callees: dict[str, Any]) -> LoopbackCalls:
    """The ``loopback_calls`` app, its carrier's callees set before the app reads them."""
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("KRALIKI_LOOPBACK_CALLEES", json.dumps(callees))
    found: LoopbackCalls = request.getfixturevalue("loopback_calls")
    return found


async def client_of(calls: LoopbackCalls) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers, timeout=30) as c:
        yield c


def zone_at(hour: int) -> str:
    """A fixed-offset zone where it is ``hour`` o'clock now."""
    offset = (hour - utcnow().hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def midday_zone() -> str:
    return zone_at(12)


def night_zone() -> str:
    return zone_at(3)


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(0.05)
