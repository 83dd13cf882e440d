"""Provider-neutral instructions as TwiML, written with the SDK's ``VoiceResponse``.

Twilio runs a document top to bottom. A step that waits for the caller (``<Gather>``,
``<Record>``, ``<Pay>``) posts its result to the ``gather`` webhook, whose answer is the next
document: steps after it in the same list are not reached. ``<Gather>`` reports an empty
result too (``actionOnEmptyResult``), so the platform always hears how a prompt ended, as it
does from command-style providers. A gather that listens for speech posts what Twilio's
recognizer heard (``SpeechResult``, ``Confidence``) to the same webhook. So does a ``<Dial>``
that reports its outcome (``Dial.report_outcome``): its ``action`` posts ``DialCallStatus``
when the dialled leg ends, and steps after it are not rendered (Twilio would not reach them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from plugins.calls import (
    Conference,
    Dial,
    Gather,
    Hangup,
    InstructionList,
    Pause,
    Pay,
    Play,
    Record,
    Say,
    SupervisorRole,
)

WebhookUrl = Callable[[str], str]
"""``ProviderContext.webhook_url``: the URL Twilio calls back for a kind of callback."""

RECORDING_EVENTS = "in-progress completed absent"
HINT_SEPARATOR = ", "
"""Twilio reads ``hints`` as one comma-separated list of words and phrases."""


def document(instructions: Sequence[Any], webhook_url: WebhookUrl) -> bytes:
    """A TwiML document running ``instructions`` (models or their JSON form) in order."""
    response = VoiceResponse()
    for step in InstructionList(steps=list(instructions)).steps:
        _RENDER[type(step)](response, step, webhook_url)
        if isinstance(step, Dial) and step.report_outcome:
            break  # the answer to the dial's action is what runs next
    return xml(response)


def xml(response: Any) -> bytes:
    return str(response).encode()


def empty() -> bytes:
    return xml(VoiceResponse())


def hold(music_url: str) -> str:
    """Music on a loop until the call is redirected (unhold)."""
    response = VoiceResponse()
    response.play(music_url, loop=0)
    return str(response)


def transfer(number: str, caller_id: str | None) -> str:
    response = VoiceResponse()
    response.dial(number, caller_id=caller_id)
    return str(response)


def send_digits(digits: str, then: str) -> str:
    """Play DTMF tones into the call, then ask the platform what comes next."""
    response = VoiceResponse()
    response.play(digits=digits)
    response.redirect(then, method="POST")
    return str(response)


# --- one function per instruction ----------------------------------------------------------


def _say(parent: Any, step: Say, _: WebhookUrl) -> None:
    parent.say(step.text, voice=step.voice, language=step.language)


def _play(parent: Any, step: Play, _: WebhookUrl) -> None:
    parent.play(step.url, loop=step.loop)


def _pause(parent: Any, step: Pause, _: WebhookUrl) -> None:
    parent.pause(length=step.seconds)


def _gather(parent: Any, step: Gather, webhook_url: WebhookUrl) -> None:
    options: dict[str, Any] = {}
    if step.dtmf:
        options |= {"num_digits": step.num_digits, "finish_on_key": step.finish_on_key}
    if step.speech:
        # ``auto``: the recognizer decides when the caller stopped speaking; ``timeout``
        # stays the wait for any input at all.
        options |= {"language": step.language, "speech_timeout": "auto"}
        if step.hints:
            options["hints"] = hints(step.hints)
    gather = parent.gather(
        input=gather_input(step),
        action=webhook_url("gather"),
        method="POST",
        timeout=step.timeout_seconds,
        action_on_empty_result=True,
        **options,
    )
    for prompt in step.prompt:
        _RENDER[type(prompt)](gather, prompt, webhook_url)


def hints(phrases: Sequence[str]) -> str:
    """``<Gather hints>``: the phrases in one comma-separated list. A comma inside a phrase
    would split it in two, so it becomes a space; empty and repeated phrases are left out."""
    cleaned = (" ".join(phrase.replace(",", " ").split()) for phrase in phrases)
    return HINT_SEPARATOR.join(dict.fromkeys(phrase for phrase in cleaned if phrase))


def gather_input(step: Gather) -> str:
    """``<Gather input>``: ``dtmf``, ``speech`` or ``dtmf speech``."""
    return " ".join(name for name, on in (("dtmf", step.dtmf), ("speech", step.speech)) if on)


def _dial(parent: Any, step: Dial, webhook_url: WebhookUrl) -> None:
    options: dict[str, Any] = {}
    if step.report_outcome:
        # Twilio posts how the dialled leg ended (``DialCallStatus``) to the action, and
        # its answer is what the caller hears next.
        options = {"action": webhook_url("gather"), "method": "POST"}
    parent.dial(step.number, caller_id=step.caller_id, timeout=step.timeout_seconds, **options)


def _conference(parent: Any, step: Conference, _: WebhookUrl) -> None:
    muted, coach, start = step.muted, step.coach_call_id, step.start_on_enter
    if step.supervisor is not None:
        # A supervisor joins the agent's live room and never starts one of its own.
        muted, coach = SUPERVISOR_JOIN[step.supervisor], None
        if step.supervisor is SupervisorRole.WHISPER:
            coach = step.coach_call_id
        start = False
    dial = parent.dial()
    dial.conference(
        step.name,
        muted=muted,
        beep=step.beep,
        start_conference_on_enter=start,
        end_conference_on_exit=step.end_on_exit,
        coach=coach,
    )


SUPERVISOR_JOIN = {
    SupervisorRole.MONITOR: True,
    SupervisorRole.WHISPER: False,
    SupervisorRole.BARGE: False,
}
"""``<Conference muted>`` of a joining supervisor; a whisper adds ``coach`` (the agent's
CallSid: only that participant hears the supervisor)."""


def _record(parent: Any, step: Record, webhook_url: WebhookUrl) -> None:
    if step.transcribe:
        # Real-time transcription of the call from here on, segments to the platform.
        start = parent.start()
        start.transcription(
            track="both_tracks",
            status_callback_url=webhook_url("transcription"),
            status_callback_method="POST",
        )
    parent.record(
        action=webhook_url("gather"),
        method="POST",
        max_length=step.max_seconds,
        play_beep=step.play_beep,
        recording_status_callback=webhook_url("recording"),
        recording_status_callback_method="POST",
        recording_status_callback_event=RECORDING_EVENTS,
    )


def _pay(parent: Any, step: Pay, webhook_url: WebhookUrl) -> None:
    parent.pay(
        input="dtmf",
        action=webhook_url("gather"),
        status_callback=webhook_url("payment"),
        status_callback_method="POST",
        payment_connector=step.connector,
        charge_amount=step.amount,
        token_type=None if step.amount else "one-time",  # no amount: tokenize the card
        currency=step.currency,
        description=step.description,
        timeout=step.timeout_seconds,
        max_attempts=step.max_attempts,
    )


def _hangup(parent: Any, _step: Hangup, _: WebhookUrl) -> None:
    parent.hangup()


_RENDER: dict[type[Any], Callable[[Any, Any, WebhookUrl], None]] = {
    Say: _say,
    Play: _play,
    Pause: _pause,
    Gather: _gather,
    Dial: _dial,
    Conference: _conference,
    Record: _record,
    Pay: _pay,
    Hangup: _hangup,
}
