"""Instructions as Call Control commands: the first step is issued now, the rest rides in
``client_state`` and comes back with the webhook that ends the step (see ``client_state.py``).

Each builder returns the operation (a coroutine function, called again on a retry with the
same ``command_id``, so Telnyx ignores a repeat that did reach it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from plugins.calls import (
    Action,
    CallRef,
    Conference,
    ControlCall,
    Dial,
    Gather,
    Hangup,
    Instruction,
    Pause,
    Pay,
    Play,
    ProviderRefused,
    Record,
    Say,
    SupervisorRole,
    UnsupportedAction,
)
from plugins.telnyx import audio
from plugins.telnyx.client_state import CallState, StateTooLarge, encode
from plugins.telnyx.config import TelnyxSettings
from plugins.telnyx.steps import compact, speech

if TYPE_CHECKING:
    from telnyx import AsyncTelnyx

Operation = Callable[[], Awaitable[object]]
DEFAULT_VOICE = "female"
MAX_LOOP = 100
"""Telnyx plays a file at most 100 times per command."""
RECORD_SILENCE_SECONDS = 5
"""A Record step (a voicemail) ends after this much silence, as TwiML's does."""


@dataclass(frozen=True)
class Commands:
    """Builds the commands for one call and one ``execute``."""

    client: AsyncTelnyx
    call: CallRef
    call_control_id: str
    settings: TelnyxSettings
    webhook_url: str
    command_id: str

    def state(self, on: str, rest: Sequence[Instruction], *, report: str | None = None) -> str:
        """The ``client_state`` that continues with ``rest`` when ``on`` arrives (or, with
        ``report``, reports ``on`` to the platform as that reason)."""
        state = CallState(
            call_id=str(self.call.id),
            on=on,
            rest=tuple(compact(step) for step in rest),
            call_control_id=self.call_control_id,
            report=report,
        )
        try:
            return encode(state, max_length=self.settings.client_state_max_length)
        except StateTooLarge as exc:
            raise ProviderRefused(
                f"{exc}: shorten the instructions or split them into several steps",
                code="client-state-too-large",
            ) from exc

    def answer(self, steps: Sequence[Instruction]) -> Operation:
        """Answer an inbound call; ``call.answered`` then starts the steps."""
        state = self.state("call.answered", steps)
        actions = self.client.calls.actions
        return lambda: actions.answer(
            self.call_control_id, client_state=state, command_id=self.command_id
        )

    def stops(self) -> list[Operation]:
        """What a redirect sends before the new steps: stop the call's gather, then its audio
        (speech and playback, queued files too). They leave a ``client_state`` that waits for
        nothing, and a stopped gather or playback ends ``cancelled``, so the script that was
        running neither continues nor reports."""
        quiet = encode(
            CallState(call_id=str(self.call.id)),
            max_length=self.settings.client_state_max_length,
        )
        actions = self.client.calls.actions
        return [
            lambda: actions.stop_gather(
                self.call_control_id, client_state=quiet, command_id=f"{self.command_id}-gather"
            ),
            lambda: actions.stop_playback(
                self.call_control_id,
                stop="all",
                client_state=quiet,
                command_id=f"{self.command_id}-playback",
            ),
        ]

    def first(self, steps: Sequence[Instruction]) -> Operation:
        step, rest = steps[0], steps[1:]
        if isinstance(step, Say):
            return self._say(step, rest)
        if isinstance(step, Play):
            return self._play(step, rest)
        if isinstance(step, Pause):
            return self._pause(step, rest)
        if isinstance(step, Gather):
            return self._gather(step, rest)
        if isinstance(step, Dial):
            return self._dial(step, rest)
        if isinstance(step, Conference):
            return self._conference(step)
        if isinstance(step, Record):
            return self._record(step, rest)
        if isinstance(step, Pay):
            return self._pay(step, rest)
        assert isinstance(step, Hangup)
        actions = self.client.calls.actions
        return lambda: actions.hangup(self.call_control_id, command_id=self.command_id)

    # -- media ------------------------------------------------------------------------------

    def _say(self, say: Say, rest: Sequence[Instruction]) -> Operation:
        state = self.state("call.speak.ended", rest)
        actions = self.client.calls.actions
        return lambda: actions.speak(
            self.call_control_id,
            payload=say.text,
            payload_type="text",
            voice=say.voice or DEFAULT_VOICE,
            language=cast(Any, say.language),
            stop="all",  # a new script replaces what the call was playing
            client_state=state,
            command_id=self.command_id,
        )

    def _play(self, play: Play, rest: Sequence[Instruction]) -> Operation:
        state = self.state("call.playback.ended", rest)
        actions = self.client.calls.actions
        return lambda: actions.start_playback(
            self.call_control_id,
            audio_url=play.url,
            loop=play.loop,
            stop="all",
            client_state=state,
            command_id=self.command_id,
        )

    def _pause(self, pause: Pause, rest: Sequence[Instruction]) -> Operation:
        """No timers in Call Control: a second of silence, looped; a pause longer than 100
        loops continues with what is left of it. A pause with nothing after it loops until
        the call ends or gets new instructions (a line kept open), with no round trips."""
        loops: int | str = min(pause.seconds, MAX_LOOP) if rest else "infinity"
        seconds = loops if isinstance(loops, int) else pause.seconds
        left = [Pause(seconds=pause.seconds - seconds)] if pause.seconds > seconds else []
        state = self.state("call.playback.ended", [*left, *rest])
        actions = self.client.calls.actions
        return lambda: actions.start_playback(
            self.call_control_id,
            playback_content=audio.silence(),
            audio_type="wav",
            loop=loops,
            stop="all",
            client_state=state,
            command_id=self.command_id,
        )

    def _gather(self, gather: Gather, rest: Sequence[Instruction]) -> Operation:
        """Keys only: Call Control's gather commands have no speech recognition, so a gather
        that also listens for speech collects digits (speech-only ones never get here:
        ``steps.refuse_unsupported``); ``language`` and ``hints`` are not used."""
        state = self.state("call.gather.ended", rest)
        actions = self.client.calls.actions
        timeout = gather.timeout_seconds * 1000
        common: dict[str, Any] = {
            "minimum_digits": 1,
            "maximum_digits": gather.num_digits or 128,
            "terminating_digit": gather.finish_on_key,
            "inter_digit_timeout_millis": timeout,
            "client_state": state,
            "command_id": self.command_id,
        }
        said = speech(gather.prompt) if gather.prompt else None
        if said is not None:
            payload, payload_type = said
            first = next(step for step in gather.prompt if isinstance(step, Say))
            return lambda: actions.gather_using_speak(
                self.call_control_id,
                payload=payload,
                payload_type=cast(Any, payload_type),
                voice=first.voice or DEFAULT_VOICE,
                language=cast(Any, first.language),
                timeout_millis=timeout,
                maximum_tries=1,
                **common,
            )
        if gather.prompt:
            play = gather.prompt[0]
            assert isinstance(play, Play)  # steps.normalize leaves no other prompt
            return lambda: actions.gather_using_audio(
                self.call_control_id,
                audio_url=play.url,
                timeout_millis=timeout,
                maximum_tries=play.loop,
                **common,
            )
        return lambda: actions.gather(
            self.call_control_id, initial_timeout_millis=timeout, **common
        )

    # -- connecting -------------------------------------------------------------------------

    def _dial(self, dial: Dial, rest: Sequence[Instruction]) -> Operation:
        """A transfer. With steps after it, the caller is parked when the callee's leg ends
        (unanswered or hung up), and that leg's ``call.hangup`` carries the rest back.

        With ``report_outcome`` the caller is parked too, and the callee's ``call.hangup``
        is reported as ``dialed`` (its cause as the dial's status): the platform's answer is
        what the caller hears next, so steps after the dial are not run."""
        options: dict[str, Any] = {}
        if dial.caller_id:
            options["from_"] = dial.caller_id
        if dial.report_outcome:
            options["target_leg_client_state"] = self.state("call.hangup", (), report="dialed")
            options["park_after_unbridge"] = "self"
        elif rest:
            options["target_leg_client_state"] = self.state("call.hangup", rest)
            options["park_after_unbridge"] = "self"
        actions = self.client.calls.actions
        return lambda: actions.transfer(
            self.call_control_id,
            to=dial.number,
            timeout_secs=dial.timeout_seconds,
            webhook_url=self.webhook_url,
            command_id=self.command_id,
            **options,
        )

    def _conference(self, conference: Conference) -> Operation:
        """Join the conference of that name in progress, or create it (a supervisor only
        joins: with no live room it is refused). Steps after a conference do not run: the
        call stays in it until it leaves or the conference ends."""
        conferences = self.client.conferences
        members = conferences.actions
        beep = cast(Any, "always" if conference.beep else "never")

        async def join_or_create() -> object:
            page = await conferences.list(filter={"name": conference.name}, page_size=20)
            live = [room for room in page.data if room.status != "completed"]
            if not live and conference.supervisor is not None:
                raise ProviderRefused(
                    f"Telnyx has no conference {conference.name!r} in progress for a "
                    "supervisor to join",
                    code="no-conference",
                )
            if not live:
                created = await conferences.create(
                    call_control_id=self.call_control_id,
                    name=conference.name,
                    beep_enabled=beep,
                    start_conference_on_create=conference.start_on_enter,
                    command_id=self.command_id,
                )
                if conference.muted and created.data is not None:
                    await members.mute(created.data.id, call_control_ids=[self.call_control_id])
                return created
            if conference.supervisor is not None:
                return await members.join(
                    live[0].id,
                    call_control_id=self.call_control_id,
                    beep_enabled=beep,
                    end_conference_on_exit=conference.end_on_exit,
                    command_id=self.command_id,
                    **supervisor_role(conference.supervisor, conference.coach_call_id),
                )
            coach: dict[str, Any] = {}
            if conference.coach_call_id:
                coach = supervisor_role(SupervisorRole.WHISPER, conference.coach_call_id)
            return await members.join(
                live[0].id,
                call_control_id=self.call_control_id,
                mute=conference.muted,
                beep_enabled=beep,
                start_conference_on_enter=conference.start_on_enter,
                end_conference_on_exit=conference.end_on_exit,
                command_id=self.command_id,
                **coach,
            )

        return join_or_create

    # -- recording and payments -------------------------------------------------------------

    def _record(self, record: Record, rest: Sequence[Instruction]) -> Operation:
        """A message from the caller (voicemail): their side only, ended by silence or the
        length limit; ``call.recording.saved`` continues the script."""
        state = self.state("call.recording.saved", rest)
        actions = self.client.calls.actions
        return lambda: actions.start_recording(
            self.call_control_id,
            channels="single",
            format="mp3",
            recording_track="inbound",
            max_length=record.max_seconds,
            play_beep=record.play_beep,
            timeout_secs=RECORD_SILENCE_SECONDS,
            transcription=record.transcribe,
            client_state=state,
            command_id=self.command_id,
        )

    def _pay(self, pay: Pay, rest: Sequence[Instruction]) -> Operation:
        if pay.currency != "usd":
            raise ProviderRefused(
                f"Telnyx Pay takes US dollars only, not {pay.currency.upper()}",
                code="currency-not-supported",
            )
        state = self.state("call.payment.completed", rest)
        options: dict[str, Any] = {}
        if pay.amount is not None:
            options["amount"] = float(pay.amount)
        if pay.description:
            options["description"] = pay.description
        actions = self.client.calls.actions
        return lambda: actions.pay(
            self.call_control_id,
            currency="USD",
            connector_name=pay.connector,
            payment_method="credit-card",
            timeout_millis=pay.timeout_seconds * 1000,
            max_attempts=pay.max_attempts,
            client_state=state,
            command_id=self.command_id,
            **options,
        )


def supervisor_role(role: SupervisorRole, coach_call_id: str | None) -> dict[str, Any]:
    """``supervisor_role`` (Telnyx's names are the platform's) and, for a whisper, the one
    leg that hears it (``whisper_call_control_ids``)."""
    if role is not SupervisorRole.WHISPER:
        return {"supervisor_role": role.value}
    if not coach_call_id:
        raise ProviderRefused("a whisper needs the agent's call", code="no-coached-call")
    return {"supervisor_role": role.value, "whisper_call_control_ids": [coach_call_id]}


def control_command(request: ControlCall, hold_audio_url: str | None) -> tuple[str, dict[str, Any]]:
    """The Call Control action (the SDK method's name) and its arguments for a control
    request; ``command_id`` is added by the caller."""
    action = request.action
    if action in _PLAIN:
        return _PLAIN[action]
    if action is Action.TRANSFER:
        if not request.target:
            raise ProviderRefused("a transfer needs a number to transfer to")
        caller = {"from_": request.caller_id} if request.caller_id else {}
        return "transfer", {"to": request.target, **caller}
    if action is Action.SEND_DTMF:
        if not request.digits:
            raise ProviderRefused("sending DTMF needs digits")
        return "send_dtmf", {"digits": request.digits}
    if action is Action.HOLD:
        # Call Control holds conference participants only: a single call hears hold music
        # looped until unhold stops it (the far end of a bridged call still hears the caller).
        media: dict[str, Any] = (
            {"audio_url": hold_audio_url}
            if hold_audio_url
            else {"playback_content": audio.hold_tone(), "audio_type": "wav"}
        )
        return "start_playback", {"loop": "infinity", **media}
    raise UnsupportedAction(f"Telnyx cannot {action.value} a call outside a conference")


_PLAIN: dict[Action, tuple[str, dict[str, Any]]] = {
    Action.HANGUP: ("hangup", {}),
    Action.UNHOLD: ("stop_playback", {"stop": "all"}),
    Action.START_RECORDING: ("start_recording", {"channels": "dual", "format": "mp3"}),
    Action.PAUSE_RECORDING: ("pause_recording", {}),
    Action.RESUME_RECORDING: ("resume_recording", {}),
    Action.STOP_RECORDING: ("stop_recording", {}),
}
