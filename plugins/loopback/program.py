"""Both ends of an answered loopback call: the platform's instructions as the carrier runs
them, and the scripted callee. They meet in gathers (the callee's ``press`` answers the
platform's ``Gather``), in recordings and in hangups."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plugins.calls.provider import (
    CallStatus,
    Conference,
    Dial,
    Gather,
    Hangup,
    Pause,
    Pay,
    Play,
    Record,
    Say,
)
from plugins.loopback import script
from plugins.loopback.clock import Timeline
from plugins.loopback.payloads import GatherBody

if TYPE_CHECKING:
    from plugins.loopback.carrier import CarrierCall, Instructions

logger = logging.getLogger(__name__)

WORDS_PER_SECOND = 2.5
"""How fast text is spoken, by the platform's ``Say`` and the callee's ``say``."""
PLAY_SECONDS = 3.0
"""How long one loop of a ``Play`` lasts (loopback fetches no audio)."""
SILENCE_SECONDS = 5.0
"""A ``Record`` stops after this much silence once the callee has nothing more to say."""


def speech_seconds(text: str) -> float:
    return max(1.0, len(text.split()) / WORDS_PER_SECOND)


def prompt_seconds(step: Say | Play | Pause) -> float:
    if isinstance(step, Say):
        return speech_seconds(step.text)
    if isinstance(step, Play):
        return PLAY_SECONDS * step.loop
    return float(step.seconds)


async def run_program(call: CarrierCall, side: Timeline, steps: Sequence[Any]) -> None:
    """Run the platform's instructions on its side of the call until they run out or end
    it. A gather's answer replaces whatever was left (as TwiML's ``action`` does)."""
    queue = deque(steps)
    while queue:
        await held(call, side)
        step = queue.popleft()
        if isinstance(step, Say | Play | Pause):
            await side.sleep(prompt_seconds(step))
        elif isinstance(step, Gather):
            following = await gather(call, side, step)
            if following is None:
                return
            queue = deque(following)
        elif isinstance(step, Dial):
            call.log.append(("dial", step.number))
            call.end(CallStatus.COMPLETED, "transferred", at=side.t)
            return
        elif isinstance(step, Conference):
            call.log.append(("conference", step.name))
            await asyncio.get_running_loop().create_future()  # in the room until the end
        elif isinstance(step, Record):
            await record(call, side, step)
        elif isinstance(step, Pay):
            logger.warning("loopback call %s: loopback takes no payments", call.provider_call_id)
            call.log.append(("pay-skipped", ""))
        elif isinstance(step, Hangup):
            return
    await held(call, side)  # a parked call is not hung up because its instructions ran out


async def held(call: CarrierCall, side: Timeline) -> None:
    """On hold, the platform's instructions wait (the callee hears hold music)."""
    if call.on_hold:
        await call.unheld.wait()
        side.catch_up(call.clock.now())


def received_digits(pressed: str, step: Gather) -> str:
    """What a gather keeps of the keys pressed: up to the finish key, at most num_digits."""
    if step.finish_on_key and step.finish_on_key in pressed:
        pressed = pressed[: pressed.index(step.finish_on_key)]
    if step.num_digits is not None:
        pressed = pressed[: step.num_digits]
    return pressed


async def gather(call: CarrierCall, side: Timeline, step: Gather) -> Instructions | None:
    """Listen while the prompt plays and ``timeout_seconds`` after it; the callee may key in
    at any time (barge-in). Then ask the ``gather`` webhook what comes next."""
    from plugins.loopback.carrier import Listening

    listening = sum(prompt_seconds(part) for part in step.prompt) + step.timeout_seconds
    keys: asyncio.Future[tuple[str, float]] = asyncio.get_running_loop().create_future()
    call.gather = Listening(opened_at=side.t, keys=keys)
    call.gather_open.set()
    try:
        pressed = ""
        if await side.wait(keys, listening):
            pressed, at = keys.result()
            side.catch_up(at)
    finally:
        call.gather = None
        call.gather_open.clear()
        keys.cancel()
    digits = received_digits(pressed, step)
    body = GatherBody(**call.header(), result="digits" if digits else "no-input", digits=digits)
    return await call.ask(body, at=side.t)


async def record(call: CarrierCall, side: Timeline, step: Record) -> None:
    """Record a message: until ``max_seconds``, or the silence after the callee's last
    words, or the end of the call (which completes the recording too)."""
    recording = call.start_recording("message", at=side.t)
    call.log.append(("record", recording.id))
    deadline = side.t + step.max_seconds
    if await side.wait(call.callee_idle, step.max_seconds):
        side.catch_up(call.callee_idle.result())
        await side.sleep(min(SILENCE_SECONDS, deadline - side.t))
    call.complete_recording(recording, at=side.t)


async def run_callee(call: CarrierCall, callee: Timeline, steps: Sequence[script.Step]) -> None:
    """The callee's side after it answered; a callee whose script runs out stays on the
    line, silent, until the platform hangs up."""
    for step in steps:
        if isinstance(step, script.Wait):
            await callee.sleep(step.seconds)
        elif isinstance(step, script.Say):
            start = callee.t
            await callee.sleep(speech_seconds(step.text))
            if call.muted:  # nobody hears a muted callee
                call.log.append(("unheard", step.text))
            else:
                call.transcribe(step.text, start=start, end=callee.t)
        elif isinstance(step, script.Press):
            await press(call, callee, step.digits)
        elif isinstance(step, script.Hangup):
            call.end(CallStatus.COMPLETED, "callee_hangup", at=callee.t)
            return
    call.callee_idle.set_result(callee.t)


async def press(call: CarrierCall, callee: Timeline, digits: str) -> None:
    """Key in ``digits`` once a gather listens (a person waits for the menu)."""
    while True:
        await call.gather_open.wait()
        listening = call.gather
        if listening is not None and not listening.keys.done():
            callee.catch_up(listening.opened_at)
            listening.keys.set_result((digits, callee.t))
            call.gather = None
            call.gather_open.clear()
            call.log.append(("pressed", digits))
            return
        await asyncio.sleep(0)  # a gather that is closing right now
