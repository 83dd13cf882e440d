"""The simulated carrier: one :class:`CarrierCall` per call, run in a task the plugin owns.

It does what a real carrier does, seen from the platform: reports the call's progress to the
``status`` webhook, asks the ``voice`` webhook what to do once the callee answers (or, for an
inbound call, as soon as it arrives), runs those instructions
(:mod:`plugins.loopback.carrier.program`) against the scripted party, and ends the call when
either side hangs up. The scripted party is called the callee throughout, whichever way the
call goes: on an inbound call it is the caller. Control actions change the running call at
once and never wait for the platform: what they cause is queued in the call's outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from plugins.calls import (
    AnsweredBy,
    CallStatus,
    Direction,
    InstructionList,
    MachineDetection,
    PlaceCall,
    ProviderContext,
)
from plugins.loopback.carrier.capture import Captures
from plugins.loopback.carrier.clock import Clock, Timeline
from plugins.loopback.carrier.media import WAV_CONTENT_TYPE, Media
from plugins.loopback.carrier.outbox import Outbox
from plugins.loopback.carrier.script import Answer, Busy, Fail, NoAnswer, Script, TestCard
from plugins.loopback.carrier.state import LoopbackState
from plugins.loopback.config import LoopbackSettings
from plugins.loopback.payloads import (
    AmdBody,
    DialBody,
    GatherBody,
    RecordingBody,
    StatusBody,
    TranscriptionBody,
    VoiceBody,
)

logger = logging.getLogger(__name__)

Instructions = list[Any]
"""Validated provider-neutral instructions (``InstructionList.steps``)."""


@dataclass
class Recording:
    id: str
    source: Literal["call", "message"]
    """``call``: the whole call (``PlaceCall.record`` or a control action, two channels);
    ``message``: a ``Record`` instruction (one channel)."""
    status: Literal["in-progress", "paused", "completed"] = "in-progress"
    seconds: float = 0.0
    """Simulated seconds recorded before the current stretch."""
    since: float | None = None
    """When the current stretch began (None while paused or completed)."""

    @property
    def channels(self) -> int:
        return 2 if self.source == "call" else 1


@dataclass(frozen=True)
class Heard:
    """What answered a gather: keys (``digits``) or words (``speech``), and the simulated
    time the callee finished keying or speaking."""

    result: Literal["digits", "speech", "card"]
    value: str
    at: float


@dataclass
class Listening:
    """An open gather: ``heard`` gets the callee's answer. It takes keys when ``dtmf``,
    speech when ``speech``; ``speaking`` is set while the callee talks into it (the gather
    then waits for the end of the sentence, however long its window)."""

    opened_at: float
    heard: asyncio.Future[Heard]
    dtmf: bool = True
    speech: bool = False
    card: bool = False
    """A payment capture: it takes a test card (a ``pay`` step), nothing else."""
    speaking: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Ending:
    status: CallStatus
    cause: str
    at: float
    """Simulated time of the end."""


@dataclass
class CarrierCall:
    """One call on the loopback carrier. Built and started by the provider's ``place_call``
    (outbound) or ``receive_call`` (inbound: ``request`` then holds the caller's and the
    dialled number, and its ``call_id`` is the carrier's own, as the platform numbers an
    arriving call itself)."""

    state: LoopbackState
    context: ProviderContext
    secret: str = field(repr=False)
    script: Script
    request: PlaceCall
    provider_call_id: str = ""
    """``LB``, the carrier's instance, then the call's own 32 hex digits."""
    direction: Direction = Direction.OUTBOUND
    status: CallStatus = CallStatus.INITIATED
    on_hold: bool = False
    muted: bool = False
    answered_at: float | None = None
    """Simulated time of the answer."""
    log: list[tuple[str, str]] = field(default_factory=list)
    """What happened on the line, for tests and demos: ``("pressed", "1")``, ``("hold", "")``,
    ``("heard", text)`` (the platform's ``say`` the callee heard to its end), ``("beep", "")``
    (a machine's greeting ended), ``("detected", "machine")`` (asynchronous detection told);
    an agent-assisted capture adds ``("capture", "started")``, ``("asked", field)``,
    ``("keyed", field)``, ``("capture", "complete")``, ``("capture", result)`` or
    ``("capture", "cancelled")`` (never digits)."""
    recordings: dict[str, Recording] = field(default_factory=dict)
    commands: set[str] = field(default_factory=set)
    """Command ids of the control actions done (a repeated command is ignored)."""
    card: TestCard = "visa"
    """The test card in the callee's hand: what it keys when an agent asks for card details
    (the last ``card`` or ``pay`` step its script reached changes it)."""
    captures: Captures = field(default_factory=Captures)
    """Agent-assisted capture sessions (:mod:`plugins.loopback.carrier.capture`)."""
    _sequence: int = 0
    clock: Clock = field(init=False)
    outbox: Outbox = field(init=False)
    unheld: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    gather_open: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    rang: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    """Set once the platform was told the call rings (it knows the call from then on)."""
    gather: Listening | None = field(init=False, default=None)
    greeting_over: asyncio.Future[float] = field(init=False)
    """Resolved with the simulated time the callee's greeting (its first ``say`` steps)
    ended: a machine beeps then."""
    callee_idle: asyncio.Future[float] = field(init=False)
    """Resolved with the simulated time the callee's script ran out (it stays, silent)."""
    _ended: asyncio.Future[Ending] = field(init=False)
    _program: asyncio.Task[None] | None = field(init=False, default=None)
    """The task running the platform's instructions (replaced by a redirect)."""
    _children: set[asyncio.Task[Any]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        if not self.provider_call_id:
            self.provider_call_id = f"LB{self.state.instance}{uuid.uuid4().hex}"
        loop = asyncio.get_running_loop()
        self.clock = Clock(self.settings.time_scale)
        self.outbox = Outbox(
            context=self.context, secret=self.secret, settings=self.settings, clock=self.clock
        )
        self.unheld.set()
        self.callee_idle = loop.create_future()
        self.greeting_over = loop.create_future()
        self._ended = loop.create_future()

    @property
    def settings(self) -> LoopbackSettings:
        return self.state.settings

    @property
    def ended(self) -> bool:
        return self._ended.done()

    def start(self) -> None:
        self.state.run(self, self.run())

    # -- lifecycle -----------------------------------------------------------------------

    def end(self, status: CallStatus, cause: str, *, at: float | None = None) -> None:
        """End the call at simulated time ``at`` (default: now); the first ending wins and
        :meth:`run` reports it."""
        if not self._ended.done():
            self._ended.set_result(Ending(status, cause, self.clock.now() if at is None else at))

    async def run(self) -> None:
        final = CallStatus.FAILED
        self.outbox.start()
        try:
            if self.direction is Direction.OUTBOUND:  # an inbound call arrives ringing
                self.report(CallStatus.INITIATED)
            live = self.spawn(self._live())
            ending = await self._ended
            final = ending.status
            live.cancel()
            await self._stop_children()
            for recording in self.recordings.values():
                self.complete_recording(recording, at=ending.at)
            duration = 0
            if self.answered_at is not None:
                duration = round(max(ending.at - self.answered_at, 0.0))
            self.status = final
            await self.report(final, hangup_cause=ending.cause, duration_seconds=duration)
        finally:
            await self._stop_children()
            await self.outbox.close()
            self.state.finished(self, final)

    async def _live(self) -> None:
        try:
            if self.direction is Direction.INBOUND:
                await self._arrive()
                return
            answered_at = await self._dial()
            if answered_at is not None:
                await self._converse(answered_at)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("loopback call %s failed in the carrier", self.provider_call_id)
            self.end(CallStatus.FAILED, "carrier_error")

    async def _dial(self) -> float | None:
        """Ring the callee; the simulated time it answered, or None if it did not."""
        dialling = Timeline(self.clock, 0.0)
        timeout = float(self.request.timeout_seconds)
        for step in self.script.before:
            if step.step == "ring":
                await self._ringing()
            seconds = getattr(step, "seconds", 0.0)
            if dialling.t + seconds >= timeout:  # the caller gives up first
                await dialling.sleep(timeout - dialling.t)
                self.end(CallStatus.NO_ANSWER, "no_answer", at=dialling.t)
                return None
            await dialling.sleep(seconds)
        outcome = self.script.outcome
        if isinstance(outcome, Busy):
            self.end(CallStatus.BUSY, "user_busy", at=dialling.t)
            return None
        if isinstance(outcome, Fail):
            self.end(CallStatus.FAILED, outcome.cause, at=dialling.t)
            return None
        await self._ringing()
        if isinstance(outcome, NoAnswer):
            await dialling.sleep(timeout - dialling.t)
            self.end(CallStatus.NO_ANSWER, "no_answer", at=dialling.t)
            return None
        return dialling.t

    async def _arrive(self) -> None:
        """An inbound call: it rings at the platform (the first report, which makes the
        platform create the call), which answers at once with the instructions its voice
        webhook gives, as Twilio does with a number's voice URL."""
        await self._ringing()
        await self._converse(0.0)

    def hangup_cause(self, by: Literal["platform", "party"]) -> str:
        """The cause of a hangup by the platform's side or by the scripted party: each is
        the caller or the callee depending on the call's direction."""
        platform_called = self.direction is Direction.OUTBOUND
        if by == "platform":
            return "caller_hangup" if platform_called else "callee_hangup"
        return "callee_hangup" if platform_called else "caller_hangup"

    async def _ringing(self) -> None:
        if self.status != CallStatus.RINGING:
            self.status = CallStatus.RINGING
            await self.report(CallStatus.RINGING)
            self.rang.set()

    async def heard_of(self) -> bool:
        """Wait until the platform heard the call ring (True) or the call ended first."""
        ringing = asyncio.ensure_future(self.rang.wait())
        either: list[asyncio.Future[Any]] = [ringing, self._ended]
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ringing.cancel()
        return self.rang.is_set()

    async def _converse(self, answered_at: float) -> None:
        from plugins.loopback.carrier.program import run_callee

        outcome = self.script.outcome
        assert isinstance(outcome, Answer)
        detecting = self.request.detection is not MachineDetection.OFF
        synchronous = self.request.machine_detection and not detecting
        answered_by = AnsweredBy(outcome.by) if synchronous else None
        self.status = CallStatus.IN_PROGRESS
        self.answered_at = answered_at
        self.report(CallStatus.IN_PROGRESS, answered_by=answered_by)
        if self.request.record:
            self.start_recording("call", at=answered_at)
        self.spawn(run_callee(self, Timeline(self.clock, answered_at), self.script.after))
        if detecting:
            self.spawn(self._detect(outcome, Timeline(self.clock, answered_at)))
        voice = VoiceBody(
            **self.header(),
            reason="inbound" if self.direction is Direction.INBOUND else "answered",
            direction=self.direction,
            from_number=self.request.from_number,
            to_number=self.request.to_number,
            answered_by=answered_by,
        )
        instructions = await self.ask(voice, at=answered_at)
        if instructions is not None:
            self._program = self.spawn(self._platform_side(instructions, answered_at, None))

    async def _detect(self, outcome: Answer, detection: Timeline) -> None:
        """Asynchronous detection: the verdict ``detect_after`` into the call; with message
        end, a machine's at the end of its greeting (when it beeps)."""
        by = AnsweredBy(outcome.by)
        started = detection.t
        if (
            self.request.detection is MachineDetection.DETECT_MESSAGE_END
            and by is AnsweredBy.MACHINE
        ):
            detection.catch_up(await self.greeting_over)  # the machine's own time
            await detection.sleep(started + outcome.detect_after - detection.t)
            fields: dict[str, Any] = {"greeting_ended": True, "beep": outcome.beep}
        else:
            await detection.sleep(outcome.detect_after)
            fields = {}
        self.log.append(("detected", by.value))
        elapsed = round((detection.t - started) * 1000)
        self.outbox.send(AmdBody(**self.header(), answered_by=by, detection_ms=elapsed, **fields))

    async def _platform_side(
        self, steps: Instructions, at: float, replaced: asyncio.Task[Any] | None
    ) -> None:
        from plugins.loopback.carrier.program import run_program

        if replaced is not None:  # let it leave what it was in (a gather, a room) first
            await asyncio.wait([replaced])
        platform_side = Timeline(self.clock, at)
        try:
            await run_program(self, platform_side, steps)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("loopback call %s failed in the carrier", self.provider_call_id)
            self.end(CallStatus.FAILED, "carrier_error")
            return
        # The instructions ran out (or hung up): the platform's side leaves.
        self.end(CallStatus.COMPLETED, self.hangup_cause("platform"), at=platform_side.t)

    def redirect(self, steps: Instructions) -> None:
        """Replace what the platform's side runs now with ``steps``: the running step stops
        where it is (an open gather sends no webhook; a conference is left) and ``steps``
        run from now on."""
        previous = self._program
        if previous is not None:
            previous.cancel()
        self.log.append(("redirected", ",".join(step.kind for step in steps)))
        work = self._platform_side(steps, self.clock.now(), previous)
        self._program = self.spawn(work, fresh=True)

    def spawn(self, work: Any, *, fresh: bool = False) -> asyncio.Task[Any]:
        """Run ``work`` as part of the call; ``fresh`` for work started from the platform's
        side (a redirect), which must not inherit the request's tenant or trace."""
        context = contextvars.Context() if fresh else None
        task: asyncio.Task[Any] = asyncio.create_task(work, context=context)
        self._children.add(task)
        task.add_done_callback(self._children.discard)
        return task

    async def _stop_children(self) -> None:
        children = [task for task in self._children if task is not asyncio.current_task()]
        for task in children:
            task.cancel()
        for task in children:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- webhooks ------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        """The fields every body starts with; numbers the webhook in the call's sequence."""
        self._sequence += 1
        return {
            "call_id": self.provider_call_id,
            "sequence": self._sequence,
            "occurred_at": datetime.now(UTC),
        }

    def report(self, status: CallStatus, **fields: Any) -> asyncio.Future[httpx.Response | None]:
        """Queue a ``status`` webhook (await the result to wait until it was delivered)."""
        return self.outbox.send(
            StatusBody(
                **self.header(),
                status=status,
                direction=self.direction,
                from_number=self.request.from_number,
                to_number=self.request.to_number,
                **fields,
            )
        )

    async def ask(
        self, body: VoiceBody | GatherBody | DialBody, *, at: float
    ) -> Instructions | None:
        """Send a webhook whose answer is the next instructions (``voice``, ``gather``,
        ``dial``). None when the platform could not be reached or answered nonsense: the
        call then ends at ``at``, as on a real carrier that plays its "application error"
        message."""
        response = await self.outbox.send(body)
        if response is None:
            self.end(CallStatus.COMPLETED, "application_error", at=at)
            return None
        if not response.content.strip():
            return []
        try:
            return list(InstructionList.model_validate_json(response.content).steps)
        except ValidationError as exc:
            logger.warning(
                "loopback call %s: the %s webhook answered no instructions it understands: %s",
                self.provider_call_id,
                body.kind,
                exc.errors(include_url=False, include_input=False)[:3],
            )
            self.end(CallStatus.COMPLETED, "application_error", at=at)
            return None

    def transcribe(self, text: str, *, start: float, end: float) -> None:
        """Report what the callee said from ``start`` to ``end`` (simulated times)."""
        since = self.answered_at or 0.0
        self.outbox.send(
            TranscriptionBody(
                **self.header(),
                text=text,
                speaker="callee",
                confidence=0.98,
                start_seconds=round(start - since, 2),
                end_seconds=round(end - since, 2),
            )
        )

    # -- recordings ----------------------------------------------------------------------

    def start_recording(self, source: Literal["call", "message"], *, at: float) -> Recording:
        recording = Recording("RE" + uuid.uuid4().hex, source, since=at)
        self.recordings[recording.id] = recording
        self._recording_webhook(recording)
        return recording

    def pause_recording(self, recording: Recording, *, at: float) -> None:
        self._stretch_ends(recording, at)
        recording.status = "paused"
        self._recording_webhook(recording)

    def resume_recording(self, recording: Recording, *, at: float) -> None:
        recording.status = "in-progress"
        recording.since = at
        self._recording_webhook(recording)

    def complete_recording(self, recording: Recording, *, at: float) -> None:
        if recording.status == "completed":
            return
        self._stretch_ends(recording, at)
        recording.status = "completed"
        self._recording_webhook(recording)

    @staticmethod
    def _stretch_ends(recording: Recording, at: float) -> None:
        if recording.since is not None:
            recording.seconds += max(at - recording.since, 0.0)
            recording.since = None

    def _recording_webhook(self, recording: Recording) -> None:
        fields: dict[str, Any] = {}
        if recording.status == "completed":
            media = Media(recording.id, round(recording.seconds), recording.channels)
            fields = {
                "duration_seconds": media.seconds,
                "media_ref": media.ref,
                "content_type": WAV_CONTENT_TYPE,
            }
        self.outbox.send(
            RecordingBody(
                **self.header(),
                recording_id=recording.id,
                status=recording.status,
                channels=recording.channels,
                **fields,
            )
        )
