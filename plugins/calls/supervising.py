"""Changing a supervisor's role in an agent's conference (monitor, whisper, barge) while
both calls go on.

The supervisor's leg joined the conference with a :class:`Conference` step in a supervisor
role (``redirect_call`` or its answer's instructions); this asks the provider to change that
role. As with a redirect, the calls are checked first (409), the transaction is committed
before the provider is asked, and the change goes to the supervisor call's timeline after.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError
from plugins.calls import service
from plugins.calls.models import Call
from plugins.calls.problems import CALL_STATE_CONFLICT
from plugins.calls.provider import Capability, SuperviseMember, SupervisorRole
from plugins.calls.registry import build_provider
from plugins.calls.steering import provider_problems, require_capabilities, require_in_progress

NEEDED = (Capability.CONFERENCING, Capability.COACHING)


async def supervise_call(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    *,
    conference: str,
    role: SupervisorRole,
    coach_call_id: uuid.UUID | None,
    actor: str | None = None,
) -> Call:
    """Make the supervisor's call ``call_id``, a member of ``conference``, take part as
    ``role`` from now on, and return the call. ``coach_call_id`` is the platform's id of the
    call a whisper is heard by (the agent's; required for whisper, ignored otherwise).

    ``session`` is the tenant's; it is committed (before the provider is asked and after the
    timeline note). Raises ``ValueError`` for a whisper without ``coach_call_id``, and
    problems: 404 no such call (either), 409 ``calls-call-state-conflict`` unless both calls
    are in progress (and on the same provider), 409 ``calls-capability-missing`` when the
    provider cannot coach (``capability``), 422 ``calls-provider-refused`` (no such live
    conference there), 503 ``calls-provider-unavailable``.
    """
    call = await service.get_call(session, call_id)
    require_in_progress(call, "supervise from")
    require_capabilities(platform, call, NEEDED, what="coach or monitor a conference")
    coached = None
    if role is SupervisorRole.WHISPER:
        if coach_call_id is None:
            raise ValueError("a whispering supervisor needs coach_call_id (the agent's call)")
        coached = await _coached_leg(session, call, coach_call_id)
    request = SuperviseMember(
        call=service.call_ref(call),
        conference=conference,
        role=role,
        coach_call_id=coached,
        command_id=f"supervise-{uuid.uuid4().hex}",
    )
    await session.commit()  # no transaction (or lock) is held while the provider answers
    provider = build_provider(platform, call.tenant_id, call.provider, call_id=call.id)
    with provider_problems(call.provider, unsupported=Capability.COACHING.value):
        await provider.supervise(request)
    call = await service.get_call(session, call_id, for_update=True)
    service.note(
        session,
        call,
        "supervision-changed",
        source="platform",
        actor=actor,
        role=role.value,
        conference=conference,
        coach_call_id=str(coach_call_id) if coached is not None else None,
    )
    await session.commit()
    return call


async def _coached_leg(session: AsyncSession, supervisor: Call, coach_call_id: uuid.UUID) -> str:
    """The provider's id of the call a whisper is heard by: a live call of the same
    provider (a whisper cannot cross providers)."""
    coached = await service.get_call(session, coach_call_id)
    require_in_progress(coached, "whisper to")
    if coached.provider != supervisor.provider or not coached.provider_call_id:
        raise ProblemError(
            CALL_STATE_CONFLICT,
            f"the coached call is on {coached.provider}, the supervisor's on "
            f"{supervisor.provider}: a whisper cannot cross providers",
            call_status=coached.status,
        )
    return coached.provider_call_id
