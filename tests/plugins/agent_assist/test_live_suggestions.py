"""The live suggestions' queue: a call's segments in order, calls side by side, a stopping
worker finishes what is under way and takes nothing new."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from plugins.agent_assist import live
from plugins.agent_assist.live import LiveSuggestions


def step(log: list[str], name: str, seconds: float) -> Callable[[], Awaitable[None]]:
    async def work() -> None:
        log.append(f"{name} start")
        await asyncio.sleep(seconds)
        log.append(f"{name} end")

    return work


async def test_a_calls_segments_run_in_order_and_calls_side_by_side() -> None:
    queue = LiveSuggestions()
    log: list[str] = []
    assert queue.submit("call-a", step(log, "a1", 0.05))
    assert queue.submit("call-a", step(log, "a2", 0.0))
    assert queue.submit("call-b", step(log, "b1", 0.0))
    await queue.idle()
    assert log.index("a1 end") < log.index("a2 start")  # the call's order
    assert log.index("b1 end") < log.index("a1 end")  # another call did not wait for it
    assert queue.waiting == 0


async def test_one_failure_does_not_stop_the_calls_next_segment() -> None:
    queue = LiveSuggestions()
    log: list[str] = []

    async def broken() -> None:
        raise RuntimeError("model down")

    queue.submit("call-a", broken)
    queue.submit("call-a", step(log, "a2", 0.0))
    await queue.idle()
    assert log == ["a2 start", "a2 end"]


async def test_at_most_so_many_calls_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "CONCURRENT_CALLS", 2)
    queue = LiveSuggestions()
    running, most = 0, 0

    async def work() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.02)
        running -= 1

    for n in range(6):
        queue.submit(f"call-{n}", work)
    await queue.idle()
    assert most == 2


async def test_a_stopping_worker_finishes_what_runs_and_takes_nothing_new() -> None:
    queue = LiveSuggestions()
    log: list[str] = []
    queue.submit("call-a", step(log, "a1", 0.05))
    await asyncio.sleep(0)
    await queue.close()
    assert log == ["a1 start", "a1 end"]
    assert not queue.submit("call-a", step(log, "a2", 0.0))
    assert queue.waiting == 0


async def test_past_the_limit_new_segments_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "MAX_WAITING", 2)
    queue = LiveSuggestions()
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()

    assert queue.submit("call-a", blocked)
    assert queue.submit("call-b", blocked)
    assert not queue.submit("call-c", blocked)
    gate.set()
    await queue.idle()
