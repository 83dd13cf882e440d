"""Control actions on a running loopback call. Each takes effect at once; the webhooks it
causes (recordings, the final status) are queued, never awaited, so a platform acting on a
call while it handles one of its webhooks cannot deadlock with the carrier."""

from __future__ import annotations

import re

from plugins.calls import (
    Action,
    CallStatus,
    ControlCall,
    ProviderRefused,
    UnsupportedAction,
)
from plugins.loopback.carrier.call import CarrierCall, Recording

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
DTMF = re.compile(r"^[0-9*#wW]{1,64}$")


def apply(call: CarrierCall, request: ControlCall) -> None:
    """Act on ``call``; raises :class:`ProviderRefused` for what makes no sense now."""
    if request.command_id in call.commands:
        return  # a repeated command, already done
    action = request.action
    if action == Action.HANGUP:
        if call.status in (CallStatus.INITIATED, CallStatus.RINGING):
            call.end(CallStatus.CANCELED, "originator_cancel")
        else:
            call.end(CallStatus.COMPLETED, call.hangup_cause("platform"))
    elif call.status != CallStatus.IN_PROGRESS or call.ended:
        raise ProviderRefused(
            f"loopback call {call.provider_call_id} is not answered: cannot {action.value}",
            code="call-not-answered",
        )
    elif action == Action.TRANSFER:
        if request.target is None or not E164.match(request.target):
            raise ProviderRefused("a transfer needs an E.164 target number", code="invalid-number")
        call.log.append(("transfer", request.target))
        call.end(CallStatus.COMPLETED, "transferred")
    elif action in (Action.HOLD, Action.UNHOLD):
        call.on_hold = action == Action.HOLD
        (call.unheld.clear if call.on_hold else call.unheld.set)()
        call.log.append((action.value, ""))
    elif action in (Action.MUTE, Action.UNMUTE):
        call.muted = action == Action.MUTE
        call.log.append((action.value, ""))
    elif action == Action.SEND_DTMF:
        if request.digits is None or not DTMF.match(request.digits):
            raise ProviderRefused(
                "DTMF digits are 0-9, *, # and w (a half-second wait)", code="invalid-digits"
            )
        call.log.append(("dtmf", request.digits))
    else:
        _recording(call, action)
    call.commands.add(request.command_id)


def _recording(call: CarrierCall, action: Action) -> None:
    current = _call_recording(call)
    now = call.clock.now()
    if action == Action.START_RECORDING:
        if current is not None:
            raise ProviderRefused("the call is being recorded already", code="recording-active")
        call.start_recording("call", at=now)
    elif current is None:
        raise ProviderRefused("the call is not being recorded", code="no-recording")
    elif action == Action.PAUSE_RECORDING:
        if current.status != "in-progress":
            raise ProviderRefused("the recording is paused already", code="recording-paused")
        call.pause_recording(current, at=now)
    elif action == Action.RESUME_RECORDING:
        if current.status != "paused":
            raise ProviderRefused("the recording is not paused", code="recording-active")
        call.resume_recording(current, at=now)
    elif action == Action.STOP_RECORDING:
        call.complete_recording(current, at=now)
    else:  # an action added to the contract after this was written
        raise UnsupportedAction(f"loopback cannot {action.value}")


def _call_recording(call: CarrierCall) -> Recording | None:
    """The call's recording under way (in progress or paused), if any."""
    for recording in call.recordings.values():
        if recording.source == "call" and recording.status != "completed":
            return recording
    return None
