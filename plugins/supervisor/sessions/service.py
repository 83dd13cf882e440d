"""Starting, switching and ending supervision sessions.

A session is started in the API's transaction (scope, permission for the mode, the agent's
live conversation, the supervisor's reach), committed, and only then is the supervisor's
phone rung (no lock is held while a provider answers). The supervisor's leg is driven by the
``supervisor`` call handler (``handler.py``): answered, it joins the agent's conference in
the session's mode; when it ends, the session ends. Switching mode on a live leg asks the
provider to change the member's role (``plugins.calls.supervise_call``); before the leg is
answered it only changes the row, and the leg joins in the new mode.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Event, Platform, Principal, ProblemError, utcnow
from plugins.agents import (
    Agent,
    Conversation,
    agent_conversation,
    agent_scope,
    leg_address,
    leg_options,
    principal_user_id,
)
from plugins.calls import (
    Call,
    CallRequest,
    CallStatus,
    Capability,
    SupervisorRole,
    hang_up_call,
    installed_providers,
    place_call,
    supervise_call,
)
from plugins.supervisor.events import (
    SessionAnnounced,
    SessionEnded,
    SessionModeChanged,
    SessionStarted,
)
from plugins.supervisor.models import (
    LIVE_SESSIONS,
    SessionStatus,
    SupervisionMode,
    SupervisionSession,
    SupervisorSettingsRow,
)
from plugins.supervisor.permissions import (
    SUPERVISOR_BARGE,
    SUPERVISOR_MONITOR,
    SUPERVISOR_WHISPER,
)
from plugins.supervisor.problems import (
    AGENT_NOT_FOUND,
    CAPABILITY_MISSING,
    MODE_FORBIDDEN,
    NO_REACH,
    NOT_ON_CALL,
    SESSION_CONFLICT,
    SESSION_NOT_FOUND,
)

HANDLER = "supervisor"
TARGET_PREFIX = "session:"
PLACED_BY = "supervisor"
LEG_RING_SECONDS = 30
"""How long the supervisor's phone rings."""
MODE_PERMISSIONS = {
    SupervisionMode.MONITOR: SUPERVISOR_MONITOR,
    SupervisionMode.WHISPER: SUPERVISOR_WHISPER,
    SupervisionMode.BARGE: SUPERVISOR_BARGE,
}
LOOPBACK = "loopback"


def check_mode(principal: Principal, mode: SupervisionMode) -> None:
    """403 unless ``principal`` may supervise in ``mode``."""
    permission = MODE_PERMISSIONS[mode]
    if not principal.can(permission.resource, permission.action):
        raise ProblemError(
            MODE_FORBIDDEN,
            f"{mode.value} needs {permission.resource}:{permission.action}",
            permission=f"{permission.resource}:{permission.action}",
        )


async def supervised_agent(
    session: AsyncSession, principal: Principal, agent_id: uuid.UUID
) -> Agent:
    """The agent, if ``principal`` supervises them (404 otherwise, as if it did not exist)."""
    scope = await agent_scope(session, principal)
    agent = await session.scalar(select(Agent).where(Agent.id == agent_id))
    if agent is None or not scope.covers(agent.id) or agent.id == scope.own_agent_id:
        raise ProblemError(AGENT_NOT_FOUND, f"you supervise no agent {agent_id}")
    return agent


async def get_session(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID, *, lock: bool = False
) -> SupervisionSession:
    """A session of an agent ``principal`` supervises (404 otherwise)."""
    query = select(SupervisionSession).where(SupervisionSession.id == session_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = await session.scalar(query)
    scope = await agent_scope(session, principal)
    if row is None or not scope.covers(row.agent_id):
        raise ProblemError(SESSION_NOT_FOUND, f"no supervision session {session_id}")
    return row


def live(row: SupervisionSession) -> None:
    """409 unless the session is still live."""
    if row.status not in LIVE_SESSIONS:
        raise ProblemError(
            SESSION_CONFLICT,
            "the session has ended",
            session_status=row.status,
            session_id=str(row.id),
        )


async def announces(session: AsyncSession) -> bool:
    """Whether the organization tells agents they are supervised."""
    value = await session.scalar(select(SupervisorSettingsRow.announce_to_agent))
    return bool(value)


async def publish(
    platform: Platform,
    session: AsyncSession,
    row: SupervisionSession,
    event: type[Event],
    **extra: Any,
) -> None:
    common = {
        "session_id": row.id,
        "agent_id": row.agent_id,
        "supervisor": row.supervisor,
        "mode": row.mode,
        "status": row.status,
    }
    await platform.events.publish(session, event(**common, **extra))


async def announce(
    platform: Platform, session: AsyncSession, row: SupervisionSession, what: str
) -> None:
    """Tell the agent, when the organization does."""
    if row.announced:
        await platform.events.publish(
            session,
            SessionAnnounced(agent_id=row.agent_id, session_id=row.id, what=what, mode=row.mode),
        )


async def _supervisor_reach(
    session: AsyncSession, principal: Principal, conversation: Conversation
) -> tuple[str, dict[str, Any]]:
    """Where to ring the supervisor: the reach of their own agent profile (a phone, a SIP
    URI, or a simulated loopback phone). A loopback conversation needs a loopback reach and
    any other one a real phone: a conference does not span providers."""
    user_id = principal_user_id(principal)
    own = (
        await session.scalar(select(Agent).where(Agent.user_id == user_id))
        if user_id is not None
        else None
    )
    if own is None or (own.reach_kind != LOOPBACK and not own.reach_address):
        message = "you have no agent profile with a reach to ring"
        raise ProblemError(
            NO_REACH, message, errors=[{"loc": ["agent profile", "reach"], "message": message}]
        )
    if (own.reach_kind == LOOPBACK) != (conversation.provider == LOOPBACK):
        message = (
            f"the call runs on {conversation.provider}; your reach is {own.reach_kind}: a "
            "loopback call is supervised from a loopback reach, any other from a phone"
        )
        raise ProblemError(
            NO_REACH, message, errors=[{"loc": ["agent profile", "reach"], "message": message}]
        )
    return leg_address(own), leg_options(own)


def _check_provider(platform: Platform, provider: str) -> None:
    spec = installed_providers(platform).get(provider)
    if spec is None or Capability.COACHING not in spec.capabilities:
        raise ProblemError(
            CAPABILITY_MISSING,
            f"{provider} cannot put a supervisor in a call",
            capability=Capability.COACHING.value,
            provider=provider,
        )


async def start(
    platform: Platform,
    session: AsyncSession,
    principal: Principal,
    agent_id: uuid.UUID,
    mode: SupervisionMode,
) -> SupervisionSession:
    """Open a session on the agent's live call and ring the supervisor; ``session`` is
    committed. The answer is the session, ``connecting`` (``ended`` when the call could not
    be placed: the problem is raised after the session is recorded as failed)."""
    check_mode(principal, mode)
    agent = await supervised_agent(session, principal, agent_id)
    user_id = principal_user_id(principal)
    if user_id is not None:
        mine = await session.scalar(
            select(SupervisionSession.id).where(
                SupervisionSession.supervisor_user_id == user_id,
                SupervisionSession.status.in_(LIVE_SESSIONS),
            )
        )
        if mine is not None:
            raise ProblemError(
                SESSION_CONFLICT,
                "you already supervise a call: end it or switch its mode",
                session_id=str(mine),
                session_status=SessionStatus.ACTIVE.value,
            )
    conversation = await agent_conversation(platform, session, agent)
    if conversation is None:
        raise ProblemError(
            NOT_ON_CALL, f"{agent.display_name} has no live call now", state=agent.state
        )
    _check_provider(platform, conversation.provider)
    address, options = await _supervisor_reach(session, principal, conversation)
    row = SupervisionSession(
        id=uuid.uuid4(),
        agent_id=agent.id,
        supervisor_user_id=user_id,
        supervisor=principal.subject,
        mode=mode.value,
        status=SessionStatus.CONNECTING.value,
        provider=conversation.provider,
        conference=conversation.conference,
        source=conversation.source,
        agent_call_id=conversation.agent_call_id,
        customer_call_id=conversation.customer_call_id,
        reach=address,
        announced=await announces(session),
        mode_changes=0,
        started_at=utcnow(),
        version=1,
    )
    session.add(row)
    await session.flush()
    await publish(platform, session, row, SessionStarted, call_id=row.customer_call_id)
    request = CallRequest(
        to_number=address,
        from_number=await _caller_id(session, conversation),
        provider=conversation.provider,
        timeout_seconds=LEG_RING_SECONDS,
        options=options,
        placed_by=PLACED_BY,
        handler=HANDLER,
        handler_target=f"{TARGET_PREFIX}{row.id}",
        tags=["supervisor-leg"],
        metadata={"supervision_session_id": str(row.id), "agent_id": str(agent.id)},
    )
    session_id = row.id
    try:
        call = await place_call(platform, session, request)
    except ProblemError:
        await session.rollback()
        failed = await locked_session(session, session_id)
        if failed is not None and failed.status in LIVE_SESSIONS:
            await finish(platform, session, failed, "failed")
        await session.commit()
        raise
    placed = await locked_session(session, session_id)
    if placed is None:  # pragma: no cover (the row was committed by place_call)
        raise ProblemError(SESSION_NOT_FOUND, f"no supervision session {session_id}")
    if placed.supervisor_call_id is None:
        placed.supervisor_call_id = call.id
    await session.commit()
    return placed


async def _caller_id(session: AsyncSession, conversation: Conversation) -> str | None:
    """The organization's number the conversation uses (the one the customer called, or the
    one that called them): the supervisor sees a number of their own organization ring."""
    call = await session.scalar(
        select(Call).where(Call.id == (conversation.customer_call_id or conversation.agent_call_id))
    )
    if call is None:
        return None
    if conversation.customer_call_id is None:
        return str(call.from_number) or None
    return str(call.to_number if call.direction == "inbound" else call.from_number) or None


async def locked_session(session: AsyncSession, session_id: uuid.UUID) -> SupervisionSession | None:
    row: SupervisionSession | None = await session.scalar(
        select(SupervisionSession)
        .where(SupervisionSession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return row


async def provider_call_id(session: AsyncSession, call_id: uuid.UUID) -> str | None:
    """The provider's id of a platform call (what a whisper names)."""
    value = await session.scalar(select(Call.provider_call_id).where(Call.id == call_id))
    return str(value) if value else None


async def change_mode(
    platform: Platform,
    session: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    mode: SupervisionMode,
) -> SupervisionSession:
    """Switch a live session to ``mode``; ``session`` is committed. A leg in the call has its
    role changed at the provider first (its problems are raised, the mode unchanged)."""
    check_mode(principal, mode)
    row = await get_session(session, principal, session_id, lock=True)
    live(row)
    previous = SupervisionMode(row.mode)
    if previous is mode:
        await session.commit()
        return row
    if row.status == SessionStatus.ACTIVE.value and row.supervisor_call_id is not None:
        await supervise_call(
            platform,
            session,
            row.supervisor_call_id,
            conference=row.conference,
            role=SupervisorRole(mode.value),
            coach_call_id=row.agent_call_id if mode is SupervisionMode.WHISPER else None,
            actor=principal.subject,
        )
        row = await get_session(session, principal, session_id, lock=True)
        live(row)
    row.mode = mode.value
    row.mode_changes += 1
    row.version += 1
    await publish(platform, session, row, SessionModeChanged, previous_mode=previous.value)
    await announce(platform, session, row, "mode_changed")
    return row


async def finish(
    platform: Platform, session: AsyncSession, row: SupervisionSession, reason: str
) -> None:
    """Mark the session ended (once) and say so."""
    if row.status == SessionStatus.ENDED.value:
        return
    was_connected = row.connected_at is not None
    now = utcnow()
    row.status = SessionStatus.ENDED.value
    row.ended_at = now
    row.end_reason = reason
    row.version += 1
    seconds = (
        round((now - row.connected_at).total_seconds(), 3) if row.connected_at is not None else None
    )
    await publish(platform, session, row, SessionEnded, reason=reason, seconds=seconds)
    if was_connected:
        await announce(platform, session, row, "left")


async def end(
    platform: Platform, session: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> SupervisionSession:
    """End the supervision: the supervisor's leg is hung up; the agent's call goes on."""
    row = await get_session(session, principal, session_id, lock=True)
    live(row)
    await finish(platform, session, row, "supervisor")
    leg = row.supervisor_call_id
    await session.commit()
    if leg is not None:
        await hang_up_leg(platform, session, leg, actor=principal.subject)
    return await get_session(session, principal, session_id)


async def hang_up_leg(
    platform: Platform, session: AsyncSession, call_id: uuid.UUID, *, actor: str
) -> None:
    """Hang up a supervisor's leg that may have ended meanwhile (that is not a failure)."""
    status = await session.scalar(select(Call.status).where(Call.id == call_id))
    if status is None or CallStatus(status).terminal:
        return
    try:
        await hang_up_call(platform, session, call_id, actor=actor)
    except ProblemError as problem:
        if problem.problem.status != 409:  # 409: it ended meanwhile
            raise


async def end_call(
    platform: Platform, session: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> SupervisionSession:
    """End the agent's call (barge permission): the customer's call is hung up, and the
    session ends with the conversation."""
    check_mode(principal, SupervisionMode.BARGE)
    row = await get_session(session, principal, session_id, lock=True)
    live(row)
    target = row.customer_call_id or row.agent_call_id
    await hang_up_leg(platform, session, target, actor=principal.subject)
    row = await get_session(session, principal, session_id, lock=True)
    await finish(platform, session, row, "call_ended")
    leg = row.supervisor_call_id
    await session.commit()
    if leg is not None:
        await hang_up_leg(platform, session, leg, actor=principal.subject)
    return await get_session(session, principal, session_id)
