"""Helpers of the summaries tests: calls whose callee says things, and waiting for the job."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

TERMINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def speaking(*lines: str, hangup: bool = True) -> list[Any]:
    """A callee who answers, says ``lines`` one after the other, and hangs up."""
    steps: list[Any] = ["answer"]
    steps += [{"step": "say", "text": line} for line in lines]
    return [*steps, {"step": "wait", "seconds": 2}, *(["hangup"] if hangup else [])]


async def call(api: httpx.AsyncClient, script: Sequence[Any]) -> str:
    """A loopback call (the platform waits on the line) whose callee runs ``script``."""
    body = {
        "to": "+14155550123",
        "from": "+14155550100",
        "instructions": [{"kind": "pause", "seconds": 600}],
        "options": {"script": list(script)},
    }
    return str((await ok(await api.post("/calls", json=body), 201))["id"])


async def ended(api: httpx.AsyncClient, call_id: str, within: float = 20.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            found: dict[str, Any] = await ok(await api.get(f"/calls/{call_id}"))
            if found["status"] in TERMINAL:
                return found
            await asyncio.sleep(0.05)


async def summary(
    api: httpx.AsyncClient, call_id: str, *, status: str = "done", within: float = 20.0
) -> dict[str, Any]:
    """The call's summary once its status is ``status`` (the job works in the background)."""
    async with asyncio.timeout(within):
        while True:
            response = await api.get(f"/summaries/calls/{call_id}")
            if response.status_code == 200 and response.json()["status"] == status:
                found: dict[str, Any] = response.json()
                return found
            assert response.status_code in (200, 404), response.text
            await asyncio.sleep(0.05)
