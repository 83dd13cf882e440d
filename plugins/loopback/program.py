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


async def run_program(call: CarrierCall, steps: Sequence[Any]) -> None:
    """Run the platform's instructions until they run out or end the call. A gather's
    answer replaces whatever was left (as TwiML's ``action`` does)."""
    queue = deque(steps)
    while queue:
        await call.unheld.wait()  # on hold, the instructions wait
        step = queue.popleft()
        if isinstance(step, Say | Play | Pause):
            await call.sleep(prompt_seconds(step))
        elif isinstance(step, Gather):
            following = await gather(call, step)
            if following is None:
                return
            queue = deque(following)
        elif isinstance(step, Dial):
            call.log.append(("dial", step.number))
            call.end(CallStatus.COMPLETED, "transferred")
            return
        elif isinstance(step, Conference):
            call.log.append(("conference", step.name))
            await asyncio.get_running_loop().create_future()  # in the room until the end
        elif isinstance(step, Record):
            await record(call, step)
        elif isinstance(step, Pay):
            logger.warning("loopback call %s: loopback takes no payments", call.provider_call_id)
            call.log.append(("pay-skipped", ""))
        elif isinstance(step, Hangup):
            call.end(CallStatus.COMPLETED, "caller_hangup")
            return


def received_digits(pressed: str, step: Gather) -> str:
    """What a gather keeps of the keys pressed: up to the finish key, at most num_digits."""
    if step.finish_on_key and step.finish_on_key in pressed:
        pressed = pressed[: pressed.index(step.finish_on_key)]
    if step.num_digits is not None:
        pressed = pressed[: step.num_digits]
    return pressed


async def gather(call: CarrierCall, step: Gather) -> Instructions | None:
    """Listen while the prompt plays and ``timeout_seconds`` after it; the callee may key in
    at any time (barge-in). Then ask the ``gather`` webhook what comes next."""
    listening = sum(prompt_seconds(part) for part in step.prompt) + step.timeout_seconds
    keys: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    call.gather = keys
    call.gather_open.set()
    try:
        await asyncio.wait({keys}, timeout=call.clock.real(listening))
    finally:
        call.gather = None
        call.gather_open.clear()
    pressed = keys.result() if keys.done() else ""
    keys.cancel()
    digits = received_digits(pressed, step)
    body = GatherBody(**call.header(), result="digits" if digits else "no-input", digits=digits)
    return await call.ask(body)


async def record(call: CarrierCall, step: Record) -> None:
    """Record a message: until ``max_seconds``, or the silence after the callee's last
    words, or the end of the call (which completes the recording too)."""
    recording = call.start_recording("message")
    call.log.append(("record", recording.id))
    deadline = call.clock.now() + step.max_seconds
    try:
        async with asyncio.timeout(call.clock.real(step.max_seconds)):
            await call.callee_idle.wait()
            await call.sleep(min(SILENCE_SECONDS, deadline - call.clock.now()))
    except TimeoutError:
        pass
    call.complete_recording(recording)


async def run_callee(call: CarrierCall, steps: Sequence[script.Step]) -> None:
    """The callee's side after it answered; a callee whose script runs out stays on the
    line, silent, until the platform hangs up."""
    for step in steps:
        if isinstance(step, script.Wait):
            await call.sleep(step.seconds)
        elif isinstance(step, script.Say):
            start = call.talk_time()
            await call.sleep(speech_seconds(step.text))
            if call.muted:  # nobody hears a muted callee
                call.log.append(("unheard", step.text))
            else:
                call.transcribe(step.text, start=start, end=call.talk_time())
        elif isinstance(step, script.Press):
            await press(call, step.digits)
        elif isinstance(step, script.Hangup):
            call.end(CallStatus.COMPLETED, "callee_hangup")
            return
    call.callee_idle.set()


async def press(call: CarrierCall, digits: str) -> None:
    """Key in ``digits`` once a gather listens (a person waits for the menu)."""
    while True:
        await call.gather_open.wait()
        keys = call.gather
        if keys is not None and not keys.done():
            keys.set_result(digits)
            call.gather = None
            call.gather_open.clear()
            call.log.append(("pressed", digits))
            return
        await asyncio.sleep(0)  # a gather that is closing right now
