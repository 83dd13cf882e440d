"""Call control over the API: each action checks the call's state and the provider's
capabilities first (409 otherwise), then asks the provider, then records what it did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import CircuitOpenError, DependencyError, Platform, ProblemError, RejectedError
from plugins.calls import events, service
from plugins.calls.models import Call
from plugins.calls.problems import (
    CALL_STATE_CONFLICT,
    CAPABILITY_MISSING,
    PROVIDER_REFUSED,
    PROVIDER_UNAVAILABLE,
)
from plugins.calls.provider import (
    Action,
    CallProgress,
    CallStatus,
    Capability,
    ControlCall,
    ProviderRefused,
    UnsupportedAction,
)
from plugins.calls.reconcile import Outcome, check_call
from plugins.calls.registry import build_provider, calls_state

LIVE = frozenset({CallStatus.IN_PROGRESS})
NOT_ENDED = frozenset(
    {CallStatus.QUEUED, CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS}
)


@dataclass(frozen=True)
class Rule:
    statuses: frozenset[CallStatus]
    capability: Capability | None
    event: type[events.CallControlled] | None = None


RULES: dict[Action, Rule] = {
    Action.HANGUP: Rule(NOT_ENDED, None),
    Action.TRANSFER: Rule(LIVE, Capability.TRANSFER, events.CallTransferred),
    Action.HOLD: Rule(LIVE, Capability.HOLD, events.CallHeld),
    Action.UNHOLD: Rule(LIVE, Capability.HOLD, events.CallUnheld),
    Action.MUTE: Rule(LIVE, Capability.MUTE, events.CallMuted),
    Action.UNMUTE: Rule(LIVE, Capability.MUTE, events.CallUnmuted),
    Action.SEND_DTMF: Rule(LIVE, Capability.DTMF, events.CallDigitsSent),
    Action.START_RECORDING: Rule(LIVE, Capability.RECORDING),
    Action.PAUSE_RECORDING: Rule(LIVE, Capability.RECORDING),
    Action.RESUME_RECORDING: Rule(LIVE, Capability.RECORDING),
    Action.STOP_RECORDING: Rule(LIVE, Capability.RECORDING),
}


def _flag_conflict(call: Call, action: Action) -> str | None:
    """Why the call's hold/mute/recording state forbids the action (None: it does not)."""
    checks = {
        Action.HOLD: (call.on_hold, "the call is already on hold"),
        Action.UNHOLD: (not call.on_hold, "the call is not on hold"),
        Action.MUTE: (call.muted, "the call is already muted"),
        Action.UNMUTE: (not call.muted, "the call is not muted"),
        Action.START_RECORDING: (call.recording is not None, "the call is already recorded"),
        Action.PAUSE_RECORDING: (call.recording != "recording", "no recording is running"),
        Action.RESUME_RECORDING: (call.recording != "paused", "no recording is paused"),
        Action.STOP_RECORDING: (call.recording is None, "no recording is running"),
    }
    conflict, reason = checks.get(action, (False, ""))
    return reason if conflict else None


async def act(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    action: Action,
    *,
    actor: str | None,
    target: str | None = None,
    digits: str | None = None,
) -> Call:
    call = await service.get_call(session, call_id)
    rule = RULES[action]
    status = CallStatus(call.status)
    if status not in rule.statuses:
        raise ProblemError(
            CALL_STATE_CONFLICT,
            f"cannot {action.value} a call that is {status.value}",
            call_status=status.value,
        )
    reason = _flag_conflict(call, action)
    if reason is not None:
        raise ProblemError(CALL_STATE_CONFLICT, reason, call_status=status.value)
    spec = calls_state(platform).providers.get(call.provider)
    if rule.capability is not None and rule.capability not in spec.capabilities:
        raise ProblemError(
            CAPABILITY_MISSING,
            f"{call.provider} cannot {action.value}",
            capability=rule.capability.value,
        )
    await session.commit()  # no transaction (or lock) is held while the provider answers
    if action is Action.HANGUP and call.provider_call_id is None:
        return await _cancel_queued(platform, session, call_id, actor)
    try:
        await _ask_provider(platform, call, action, target=target, digits=digits)
    except ProblemError as refused:
        if action is not Action.HANGUP or refused.problem is not PROVIDER_REFUSED:
            raise
        return await _hang_up_gone(platform, session, call_id, actor, refused)
    return await _record(platform, session, call_id, action, actor, target, digits)


async def hang_up_call(
    platform: Platform, session: AsyncSession, call_id: uuid.UUID, *, actor: str | None = None
) -> Call:
    """Hang up (or cancel, if not yet answered) a call that has not ended, as
    ``POST /calls/{id}/hangup`` does: for plugins that end calls they placed (the queues'
    agent legs). ``session`` is committed. Raises the same problems as the route (404, 409
    for a call that already ended, 422/503 from the provider)."""
    return await act(platform, session, call_id, Action.HANGUP, actor=actor)


async def _hang_up_gone(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    actor: str | None,
    refused: ProblemError,
) -> Call:
    """The provider refused to hang the call up: if it no longer has the call (it ended
    there unreported, or its carrier is gone), the call ends here as reconciliation would
    end it, and the hang-up succeeds; otherwise the refusal stands."""
    try:
        outcome = await check_call(platform, call_id)
    except DependencyError:
        raise refused from None
    call = await service.get_call(session, call_id, for_update=True)
    if outcome is not Outcome.ENDED and not CallStatus(call.status).terminal:
        raise refused
    service.note(
        session, call, "action", source="api", action="hangup", actor=actor, ended="already"
    )
    await session.commit()
    return call


async def _ask_provider(
    platform: Platform, call: Call, action: Action, *, target: str | None, digits: str | None
) -> None:
    provider = build_provider(platform, call.tenant_id, call.provider, call_id=call.id)
    request = ControlCall(
        call=service.call_ref(call),
        action=action,
        command_id=uuid.uuid4().hex,
        target=target,
        digits=digits,
        caller_id=call.from_number,
    )
    try:
        await provider.control(request)
    except UnsupportedAction as exc:
        raise ProblemError(CAPABILITY_MISSING, str(exc), capability=action.value) from None
    except (ProviderRefused, RejectedError) as exc:
        detail = exc.detail if isinstance(exc, ProviderRefused) else str(exc)
        raise ProblemError(PROVIDER_REFUSED, detail) from None
    except CircuitOpenError:
        raise ProblemError(PROVIDER_UNAVAILABLE, f"{call.provider}'s circuit is open") from None
    except DependencyError:
        raise ProblemError(PROVIDER_UNAVAILABLE, f"{call.provider} did not answer") from None


async def _record(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    action: Action,
    actor: str | None,
    target: str | None,
    digits: str | None,
) -> Call:
    call = await service.get_call(session, call_id, for_update=True)
    if action is Action.HOLD:
        call.on_hold = True
    elif action is Action.UNHOLD:
        call.on_hold = False
    elif action is Action.MUTE:
        call.muted = True
    elif action is Action.UNMUTE:
        call.muted = False
    elif action in (Action.START_RECORDING, Action.RESUME_RECORDING):
        call.recording = "recording"
    elif action is Action.PAUSE_RECORDING:
        call.recording = "paused"
    elif action is Action.STOP_RECORDING:
        call.recording = None
    service.note(
        session,
        call,
        "action",
        source="api",
        action=action.value,
        actor=actor,
        target=target,
        digits_count=len(digits) if digits else None,
    )
    event = RULES[action].event
    if event is events.CallTransferred:
        await service.publish(platform, session, event, call, actor=actor, target=target or "")
    elif event is events.CallDigitsSent:
        await service.publish(
            platform, session, event, call, actor=actor, digits_count=len(digits or "")
        )
    elif event is not None:
        await service.publish(platform, session, event, call, actor=actor)
    await session.commit()
    return call


async def _cancel_queued(
    platform: Platform, session: AsyncSession, call_id: uuid.UUID, actor: str | None
) -> Call:
    """A call the provider never got: cancel it here."""
    call = await service.get_call(session, call_id, for_update=True)
    service.note(session, call, "action", source="api", action="hangup", actor=actor)
    progress = CallProgress(
        provider_call_id="", status=CallStatus.CANCELED, hangup_cause="canceled-before-dialling"
    )
    await service.apply_progress(platform, session, call, progress, source="platform")
    await session.commit()
    return call
