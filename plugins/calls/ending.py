"""Ending a call the platform decides has ended: what its provider reported when asked
(reconciliation), that its carrier is gone, or that someone forced it (force-end).

Every path goes through the status machine (``service.apply_progress``), so the end is
monotonic, written to the timeline and published as the usual end event
(``calls.call.completed``, ``calls.call.failed``...) carrying ``reason``; a call with a
handler (an IVR flow) hears that it ended, as after a provider's own report.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    DependencyError,
    Platform,
    Principal,
    ProblemError,
    record_audit_event,
)
from plugins.calls import service
from plugins.calls.models import Call
from plugins.calls.problems import CALL_STATE_CONFLICT
from plugins.calls.provider import (
    Action,
    CallProgress,
    CallRef,
    CallStatus,
    ControlCall,
    ProviderRefused,
    UnsupportedAction,
)
from plugins.calls.registry import build_provider, calls_state
from plugins.calls.routing import call_ended
from plugins.calls.status import Verdict

logger = logging.getLogger(__name__)

FORCE_ENDED = "force-ended"


async def settle(
    platform: Platform,
    session: AsyncSession,
    call: Call,
    progress: CallProgress,
    *,
    source: str,
    reason: str | None,
) -> Verdict:
    """Apply ``progress`` as a webhook's would be, then tell the call's handler if it ended."""
    was_final = CallStatus(call.status).terminal
    verdict = await service.apply_progress(
        platform, session, call, progress, source=source, reason=reason
    )
    if not was_final and CallStatus(call.status).terminal and call.handler:
        await call_ended(platform, session, call)
    return verdict


def lost(call: Call, cause: str) -> CallProgress:
    """The end of a call nobody can report on any more: failed, ``cause`` saying why."""
    return CallProgress(
        provider_call_id=call.provider_call_id or "",
        status=CallStatus.FAILED,
        hangup_cause=cause,
    )


async def force_end(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    *,
    principal: Principal,
    reason: str | None,
    request: Request | None = None,
) -> Call:
    """End the call here at once, whatever its provider says or does not say; then ask the
    provider to hang up, without waiting on its answer to decide anything.

    An answered call ends ``completed``, one not answered yet ``canceled`` (as a hang-up
    would), with ``hangup_cause`` and ``reason`` ``force-ended``. Who did it is in the
    timeline and the audit log. 409 when the call has ended already.
    """
    call = await service.get_call(session, call_id, for_update=True)
    status = CallStatus(call.status)
    if status.terminal:
        raise ProblemError(
            CALL_STATE_CONFLICT,
            f"the call has ended already ({status.value})",
            call_status=status.value,
        )
    before = service.call_ref(call)  # the provider hangs up the call as it was
    actor = principal.label or principal.subject
    service.note(
        session, call, FORCE_ENDED, source="api", actor=actor, reason=reason, previous=status.value
    )
    final = CallStatus.COMPLETED if status is CallStatus.IN_PROGRESS else CallStatus.CANCELED
    progress = CallProgress(
        provider_call_id=call.provider_call_id or "", status=final, hangup_cause=FORCE_ENDED
    )
    await settle(platform, session, call, progress, source="api", reason=FORCE_ENDED)
    record_audit_event(
        session,
        principal,
        "calls.call.force-ended",
        request=request,
        target_type="call",
        target_id=call.id,
        tenant_id=call.tenant_id,
        details={"previous_status": status.value, "status": call.status, "reason": reason},
    )
    await session.commit()
    if before.provider_call_id is not None:
        await _hang_up_at_provider(platform, session, call, before)
    return call


async def _hang_up_at_provider(
    platform: Platform, session: AsyncSession, call: Call, before: CallRef
) -> None:
    """Best effort: the call has ended here whatever the provider answers; the timeline
    says whether the provider took the hang-up."""
    request = ControlCall(call=before, action=Action.HANGUP, command_id=uuid.uuid4().hex)
    error: str | None = None
    if call.provider not in calls_state(platform).providers:
        error = f"the provider {call.provider} is not installed"
    else:
        provider = build_provider(platform, call.tenant_id, call.provider, call_id=call.id)
        try:
            await provider.control(request)
        except (ProviderRefused, UnsupportedAction, DependencyError) as exc:
            error = str(exc)[:300]
    if error is not None:
        logger.info("call %s: the provider did not take the forced hang-up: %s", call.id, error)
    service.note(
        session,
        call,
        "provider-hangup",
        source="platform",
        outcome="failed" if error else "ok",
        error=error,
    )
    await session.commit()
