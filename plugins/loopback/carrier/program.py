"""Both ends of an answered loopback call: the platform's instructions as the carrier runs
them, and the scripted callee. They meet in gathers, in recordings and in hangups.

A gather listens while its prompt plays and ``timeout_seconds`` after it, for what its
``dtmf`` and ``speech`` say:

* The callee's ``press`` answers the first gather that listens for keys (barge-in allowed);
  it waits for one, so a press while only a speech gather is open goes to a later gather.
* The callee's ``say`` answers the gather open when it starts speaking if that gather
  listens for speech: result ``speech``, the text as said, confidence 1.0 (loopback's
  recognizer is perfect). The gather waits for the end of the sentence even past its window,
  as a recognizer waits for the caller to stop. A ``say`` never waits for a gather: one said
  while no speech gather is open answers nothing. Either way it is a transcript segment, sent
  before the gather's webhook. A muted callee is not heard: it answers no gather (one it was
  answering when muted ends with no input).

A ``dial`` hands the call over: the platform's leg ends as ``transferred``. A ``dial`` with
``report_outcome`` keeps it. The number dialled gets the party :func:`script.script_for_number`
gives it, played on the platform's own timeline while the callee holds the line (its script
goes on: it may still hang up, which ends the call as usual): a busy or failing party ends
the leg after its ring, if any (``busy``, ``failed``); one that never answers rings until the
dial's ``timeout_seconds`` (``no-answer``, as does a ring longer than that); one that answers
talks for its waits and sentences, then hangs up (``completed``). The ``dial`` webhook then
reports the status and how long the party talked, and its answer replaces whatever was left,
as a gather's does.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plugins.calls import (
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
from plugins.loopback.carrier import conference, script
from plugins.loopback.carrier.clock import Timeline
from plugins.loopback.payloads import DialBody, GatherBody

if TYPE_CHECKING:
    from plugins.loopback.carrier.call import CarrierCall, Heard, Instructions

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
    it. The answer to a gather, or to a dial that reports its outcome, replaces whatever was
    left (as TwiML's ``action`` does); so does a redirect (:meth:`CarrierCall.redirect`),
    which cancels this and runs its own instructions."""
    queue = deque(steps)
    while queue:
        await held(call, side)
        step = queue.popleft()
        if isinstance(step, Say | Play | Pause):
            await side.sleep(prompt_seconds(step))
            if isinstance(step, Say):
                call.log.append(("heard", step.text))
        elif isinstance(step, Gather):
            following = await gather(call, side, step)
            if following is None:
                return
            queue = deque(following)
        elif isinstance(step, Dial):
            call.log.append(("dial", step.number))
            if not step.report_outcome:
                call.end(CallStatus.COMPLETED, "transferred", at=side.t)
                return
            following = await dial(call, side, step)
            if following is None:
                return
            queue = deque(following)
        elif isinstance(step, Conference):
            await in_conference(call, side, step)
        elif isinstance(step, Record):
            await record(call, side, step)
        elif isinstance(step, Pay):
            following = await pay(call, side, step)
            if following is None:
                return
            queue = deque(following)
        elif isinstance(step, Hangup):
            return
    await held(call, side)  # a parked call is not hung up because its instructions ran out


async def in_conference(call: CarrierCall, side: Timeline, step: Conference) -> None:
    """Join the room and stay there until the call ends or is redirected (the task running
    the instructions is cancelled either way), then leave it."""
    room = conference.join(call, step, at=side.t)
    try:
        await asyncio.get_running_loop().create_future()
    finally:
        conference.leave(call, room)


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
    """Listen while the prompt plays and ``timeout_seconds`` after it; the callee may answer
    at any time (barge-in). Then ask the ``gather`` webhook what comes next."""
    from plugins.loopback.carrier.call import Listening

    window = sum(prompt_seconds(part) for part in step.prompt) + step.timeout_seconds
    heard: asyncio.Future[Heard] = asyncio.get_running_loop().create_future()
    listening = Listening(opened_at=side.t, heard=heard, dtmf=step.dtmf, speech=step.speech)
    call.gather = listening
    call.gather_open.set()
    try:
        answered = await side.wait(heard, window)
        if not answered and listening.speaking:  # mid-sentence: hear the callee out
            await heard
            answered = True
        if answered:
            side.catch_up(heard.result().at)
    finally:
        call.gather = None
        call.gather_open.clear()
        listening.closed.set()
        heard.cancel()
    body = gather_body(call, step, heard.result() if answered else None)
    return await call.ask(body, at=side.t)


def gather_body(call: CarrierCall, step: Gather, heard: Heard | None) -> GatherBody:
    if heard is not None and heard.result == "speech" and heard.value:
        return GatherBody(**call.header(), result="speech", speech=heard.value, confidence=1.0)
    digits = received_digits(heard.value, step) if heard is not None else ""
    return GatherBody(**call.header(), result="digits" if digits else "no-input", digits=digits)


CARD_FIELDS = 4
"""Card number, expiry, security code, postal code: a capture waits for each in turn."""
CONNECTOR_RESULTS: dict[str, tuple[str, str | None]] = {
    "visa": ("success", None),
    "mastercard": ("success", None),
    "declined": ("payment-connector-error", "card_declined"),
    "cancel": ("caller-interrupted-with-star", None),
}
"""What loopback's simulated connector makes of each test card: a result and an error."""


async def pay(call: CarrierCall, side: Timeline, step: Pay) -> Instructions | None:
    """A payment capture: listen for a test card (a ``pay`` step) while the fields are
    asked for, at most ``timeout_seconds`` each for ``max_attempts`` tries; loopback's
    simulated connector charges it or refuses it. Then ask the ``gather`` webhook what comes
    next, as Twilio posts ``<Pay>``'s action."""
    from plugins.loopback.carrier.call import Listening

    window = float(step.timeout_seconds * CARD_FIELDS * step.max_attempts)
    keyed: asyncio.Future[Heard] = asyncio.get_running_loop().create_future()
    listening = Listening(opened_at=side.t, heard=keyed, dtmf=False, card=True)
    call.gather = listening
    call.gather_open.set()
    try:
        answered = await side.wait(keyed, window)
        if answered:
            side.catch_up(keyed.result().at)
    finally:
        call.gather = None
        call.gather_open.clear()
        listening.closed.set()
        keyed.cancel()
    card = keyed.result().value if answered else None
    result, error = CONNECTOR_RESULTS.get(card or "", ("input-timeout", None))
    confirmation = f"lbpay_{uuid.uuid4().hex[:24]}" if result == "success" else None
    call.log.append(("paid", result))
    body = GatherBody(
        **call.header(),
        result="payment",
        payment_result=result,
        payment_confirmation=confirmation,
        payment_error=error,
    )
    return await call.ask(body, at=side.t)


async def dial(call: CarrierCall, side: Timeline, step: Dial) -> Instructions | None:
    """Call the number a ``dial`` with ``report_outcome`` names, then ask the ``dial``
    webhook what comes next."""
    party = script.script_for_number(step.number, call.settings)
    status, talked = await dialled_leg(side, party, float(step.timeout_seconds))
    call.log.append(("dialed", status.value))
    body = DialBody(**call.header(), status=status, duration_seconds=round(talked))
    return await call.ask(body, at=side.t)


async def dialled_leg(
    side: Timeline, party: script.Script, gives_up_after: float
) -> tuple[CallStatus, float]:
    """How the dialled ``party`` ends its leg, on ``side``'s time (it waits as long as the
    leg lasts), and how many seconds it talked after answering."""
    started = side.t
    for before in party.before:  # rings and waits
        seconds = before.seconds if isinstance(before, script.Ring | script.Wait) else 0.0
        if side.t - started + seconds >= gives_up_after:  # the dial gives up first
            await side.sleep(gives_up_after - (side.t - started))
            return CallStatus.NO_ANSWER, 0.0
        await side.sleep(seconds)
    outcome = party.outcome
    if isinstance(outcome, script.Busy):
        return CallStatus.BUSY, 0.0
    if isinstance(outcome, script.Fail):
        return CallStatus.FAILED, 0.0
    if isinstance(outcome, script.NoAnswer):
        await side.sleep(gives_up_after - (side.t - started))
        return CallStatus.NO_ANSWER, 0.0
    answered = side.t
    for after in party.after:  # nobody listens for its keys: only its time counts
        if isinstance(after, script.Wait):
            await side.sleep(after.seconds)
        elif isinstance(after, script.Say):
            await side.sleep(speech_seconds(after.text))
    return CallStatus.COMPLETED, side.t - answered


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
    line, silent, until the platform hangs up. A machine beeps at the end of its greeting
    (the ``say`` steps it starts with) when its answer says so."""
    answer = call.script.outcome
    beeps = isinstance(answer, script.Answer) and answer.by == "machine" and answer.beep
    greeting = True
    for step in steps:
        if greeting and not isinstance(step, script.Say):
            greeting = False
            greeting_over(call, callee.t, beeps=beeps)
        if isinstance(step, script.Wait):
            await callee.sleep(step.seconds)
        elif isinstance(step, script.Say):
            await say(call, callee, step.text)
        elif isinstance(step, script.Press):
            await press(call, callee, step.digits)
        elif isinstance(step, script.PayCard):
            call.card = step.card  # the card in hand, should an agent ask for it too
            await key_card(call, callee, step.card)
        elif isinstance(step, script.Card):
            call.card = step.card
        elif isinstance(step, script.Hangup):
            call.end(CallStatus.COMPLETED, call.hangup_cause("party"), at=callee.t)
            return
    if greeting:
        greeting_over(call, callee.t, beeps=beeps)
    call.callee_idle.set_result(callee.t)


def greeting_over(call: CarrierCall, at: float, *, beeps: bool) -> None:
    """The callee's greeting ended at ``at`` (a machine beeps now, if it does)."""
    if beeps:
        call.log.append(("beep", ""))
    if not call.greeting_over.done():
        call.greeting_over.set_result(at)


async def say(call: CarrierCall, callee: Timeline, text: str) -> None:
    """Speak: a transcript segment, and the answer to the gather open now if it listens for
    speech (a ``say`` never waits for one)."""
    from plugins.loopback.carrier.call import Heard

    listening = call.gather
    if listening is None or listening.heard.done() or listening.speaking or call.muted:
        listening = None
    elif listening.speech:
        callee.catch_up(listening.opened_at)
        listening.speaking = True
    else:
        listening = None  # keys only: what is said is just a transcript
    start = callee.t
    await callee.sleep(speech_seconds(text))
    heard = not call.muted  # nobody hears a muted callee
    if heard:
        call.transcribe(text, start=start, end=callee.t)
    else:
        call.log.append(("unheard", text))
    if listening is not None and not listening.heard.done():
        listening.heard.set_result(Heard("speech", text if heard else "", callee.t))
        if heard:
            call.log.append(("said", text))


async def press(call: CarrierCall, callee: Timeline, digits: str) -> None:
    """Key in ``digits`` once a gather listens for keys (a person waits for the menu; a
    gather that listens for speech only ignores keys, so the press waits for the next)."""
    from plugins.loopback.carrier.call import Heard

    while True:
        await call.gather_open.wait()
        listening = call.gather
        if listening is not None and (not listening.dtmf or listening.speaking):
            await listening.closed.wait()
            continue
        if listening is not None and not listening.heard.done():
            callee.catch_up(listening.opened_at)
            listening.heard.set_result(Heard("digits", digits, callee.t))
            call.gather = None
            call.gather_open.clear()
            call.log.append(("pressed", digits))
            return
        await asyncio.sleep(0)  # a gather that is closing right now


async def key_card(call: CarrierCall, callee: Timeline, card: str) -> None:
    """Key a test card into the next payment capture (keys and words wait for their own
    gathers; a capture waits for this)."""
    from plugins.loopback.carrier.call import Heard

    while True:
        await call.gather_open.wait()
        listening = call.gather
        if listening is not None and not listening.card:
            await listening.closed.wait()
            continue
        if listening is not None and not listening.heard.done():
            callee.catch_up(listening.opened_at)
            listening.heard.set_result(Heard("card", card, callee.t))
            call.log.append(("keyed card", card))
            return
        await asyncio.sleep(0)  # a capture that is closing right now
