"""Routes of supervision: start a session on an agent's live call, switch its mode, end it,
end the call; list sessions; the organization's supervision settings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    SessionDep,
    paginate,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.agents import agent_scope
from plugins.supervisor.models import SessionStatus, SupervisionSession, SupervisorSettingsRow
from plugins.supervisor.permissions import SUPERVISOR_MONITOR, SUPERVISOR_SETTINGS_WRITE
from plugins.supervisor.problems import (
    AGENT_NOT_FOUND,
    CAPABILITY_MISSING,
    MODE_FORBIDDEN,
    NO_REACH,
    NOT_ON_CALL,
    SESSION_CONFLICT,
    SESSION_NOT_FOUND,
)
from plugins.supervisor.sessions import service
from plugins.supervisor.sessions.schemas import (
    SessionIn,
    SessionModeIn,
    SessionOut,
    SupervisionSettingsIn,
    SupervisionSettingsOut,
)

router = APIRouter(tags=["supervisor"])

Supervisor = Annotated[
    Principal, Depends(require(SUPERVISOR_MONITOR.resource, SUPERVISOR_MONITOR.action))
]
SettingsWriter = Annotated[
    Principal,
    Depends(require(SUPERVISOR_SETTINGS_WRITE.resource, SUPERVISOR_SETTINGS_WRITE.action)),
]


def _audit(
    request: Request,
    session: SessionDep,
    principal: Principal,
    action: str,
    row: SupervisionSession,
    **details: object,
) -> None:
    record_audit_event(
        session,
        principal,
        f"supervisor.{action}",
        request=request,
        target_type="supervision_session",
        target_id=row.id,
        details={"agent_id": str(row.agent_id), "mode": row.mode, **details},
    )


@router.post(
    "/sessions",
    response_model=SessionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Supervise an agent's live call",
    responses=problem_responses(
        AGENT_NOT_FOUND, MODE_FORBIDDEN, NOT_ON_CALL, SESSION_CONFLICT, NO_REACH, CAPABILITY_MISSING
    ),
)
async def start_session(
    body: SessionIn,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Supervisor,
) -> SessionOut:
    """Your phone (the reach of your own agent profile) rings; when you answer you are in the
    agent's call in `mode`: `monitor` (you hear everyone, nobody hears you), `whisper` (only
    the agent hears you; `supervisor:whisper`) or `barge` (everyone hears you;
    `supervisor:barge`). Only agents of the teams you lead (`agents:all`: everyone), one
    session at a time. The organization may announce supervision to the agent (a tone and
    an event). A provider that cannot put a supervisor in a call: 409 with its
    `capability`."""
    row = await service.start(platform, session, principal, body.agent_id, body.mode)
    _audit(request, session, principal, "session_started", row)
    out = SessionOut.model_validate(row)
    await session.commit()
    return out


@router.get("/sessions", response_model=CursorPage[SessionOut], summary="Supervision sessions")
async def list_sessions(
    session: SessionDep,
    principal: Supervisor,
    page: PageParamsDep,
    live: Annotated[bool, Query(description="Only sessions not ended.")] = False,
    agent_id: uuid.UUID | None = None,
) -> CursorPage[SessionOut]:
    """Sessions on the agents you supervise, oldest first."""
    scope = await agent_scope(session, principal)
    query = select(SupervisionSession)
    if not scope.all:
        query = query.where(SupervisionSession.agent_id.in_(scope.agent_ids))
    if live:
        query = query.where(SupervisionSession.status != SessionStatus.ENDED.value)
    if agent_id is not None:
        query = query.where(SupervisionSession.agent_id == agent_id)
    rows, cursor = await paginate(
        session,
        query,
        order_by=[SupervisionSession.started_at, SupervisionSession.id],
        params=page,
    )
    return CursorPage(items=[SessionOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/sessions/{session_id}",
    response_model=SessionOut,
    summary="A supervision session",
    responses=problem_responses(SESSION_NOT_FOUND),
)
async def get_session(
    session_id: uuid.UUID, session: SessionDep, principal: Supervisor
) -> SessionOut:
    return SessionOut.model_validate(await service.get_session(session, principal, session_id))


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionOut,
    summary="Switch a supervision session's mode",
    responses=problem_responses(SESSION_NOT_FOUND, SESSION_CONFLICT, MODE_FORBIDDEN),
)
async def switch_mode(
    session_id: uuid.UUID,
    body: SessionModeIn,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Supervisor,
) -> SessionOut:
    """Listen, whisper or barge from now on, without leaving the call (the provider changes
    your role in the conference). A session still ringing your phone joins in the new
    mode."""
    row = await service.get_session(session, principal, session_id)
    previous = row.mode
    row = await service.change_mode(platform, session, principal, session_id, body.mode)
    if row.mode != previous:
        _audit(request, session, principal, "session_mode_changed", row, previous_mode=previous)
    out = SessionOut.model_validate(row)
    await session.commit()
    return out


@router.delete(
    "/sessions/{session_id}",
    response_model=SessionOut,
    summary="End a supervision session",
    responses=problem_responses(SESSION_NOT_FOUND, SESSION_CONFLICT),
)
async def end_session(
    session_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Supervisor,
) -> SessionOut:
    """Your leg is hung up; the agent's call goes on."""
    row = await service.end(platform, session, principal, session_id)
    _audit(request, session, principal, "session_ended", row)
    out = SessionOut.model_validate(row)
    await session.commit()
    return out


@router.post(
    "/sessions/{session_id}/end-call",
    response_model=SessionOut,
    summary="End the supervised call",
    responses=problem_responses(SESSION_NOT_FOUND, SESSION_CONFLICT, MODE_FORBIDDEN),
)
async def end_supervised_call(
    session_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Supervisor,
) -> SessionOut:
    """Hang up the customer's call (`supervisor:barge`); the session ends with it."""
    row = await service.end_call(platform, session, principal, session_id)
    _audit(request, session, principal, "call_ended", row, call_id=str(row.customer_call_id))
    out = SessionOut.model_validate(row)
    await session.commit()
    return out


@router.get("/settings", response_model=SupervisionSettingsOut, summary="Supervision settings")
async def get_settings(session: SessionDep, _: Supervisor) -> SupervisionSettingsOut:
    return SupervisionSettingsOut(announce_to_agent=await service.announces(session))


@router.put(
    "/settings", response_model=SupervisionSettingsOut, summary="Change supervision settings"
)
async def put_settings(
    body: SupervisionSettingsIn, request: Request, session: SessionDep, principal: SettingsWriter
) -> SupervisionSettingsOut:
    """Whether agents are told they are supervised (applies to sessions started later)."""
    row = await session.scalar(select(SupervisorSettingsRow))
    if row is None:
        row = SupervisorSettingsRow(announce_to_agent=body.announce_to_agent)
        session.add(row)
    row.announce_to_agent = body.announce_to_agent
    record_audit_event(
        session,
        principal,
        "supervisor.settings_changed",
        request=request,
        target_type="supervisor_settings",
        details={"announce_to_agent": body.announce_to_agent},
    )
    await session.commit()
    return SupervisionSettingsOut(announce_to_agent=body.announce_to_agent)
