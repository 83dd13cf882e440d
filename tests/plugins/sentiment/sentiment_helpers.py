"""Placing a loopback call whose callee (the customer: the call is outbound) says lines, and
waiting for what the platform makes of it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from kernel import DeliveredEvent
from kernel.testing import wait_until

HAPPY = "Thank you so much, this is wonderful, great service, I love it!"
ANGRY = "This is terrible. I am furious and angry, the worst experience ever!"
STAY = [{"kind": "pause", "seconds": 60}]


def script(*lines: str) -> list[Any]:
    steps: list[Any] = ["answer"]
    for line in lines:
        steps += [{"step": "say", "text": line}, {"step": "wait", "seconds": 2}]
    return [*steps, {"step": "hangup"}]


async def finished_call(calls: Any, *lines: str, outcome: str = "completed") -> dict[str, Any]:
    """Place the call, wait until it ended and its transcript arrived; the call's detail."""
    options = {"script": script(*lines)} if lines else {}
    call = await calls.place(outcome, instructions=STAY, options=options)
    async with httpx.AsyncClient(base_url=calls.url, headers=calls.headers, timeout=30) as api:
        async with asyncio.timeout(30):
            while True:
                detail = (await api.get(f"/api/v1/calls/{call['id']}")).json()
                if detail.get("ended_at") and len(detail["transcript"]) >= len(lines):
                    return dict(detail)
                await asyncio.sleep(0.05)


def updates(delivered: list[DeliveredEvent], call_id: str) -> list[DeliveredEvent]:
    return [
        e
        for e in delivered
        if e.name == "sentiment.call.updated" and str(e.payload["call_id"]) == call_id
    ]


async def scored(calls: Any, call_id: str, segments: int) -> DeliveredEvent:
    """The ``sentiment.call.updated`` event once ``segments`` segments are scored."""

    def found() -> DeliveredEvent | None:
        done = [e for e in updates(calls.delivered, call_id) if e.payload["segments"] >= segments]
        return done[-1] if done else None

    await wait_until(lambda: found() is not None, within=20)
    event = found()
    assert event is not None
    return event
