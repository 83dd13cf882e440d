"""Fixed paths under ``/agents``: the caller's own profile, presence and wrap-up, available
counts, reason codes and settings. Mounted before ``/agents/{agent_id}``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    problem_responses,
    require,
    utcnow,
)
from plugins.agents import codes, service
from plugins.agents.api import actor, one, tagged
from plugins.agents.models import Agent, AgentSkill, AgentState, HandledCall
from plugins.agents.permissions import AGENTS_READ, SETTINGS_WRITE, STATE_WRITE
from plugins.agents.problems import (
    NO_CALL,
    NO_PROFILE,
    REASON_CODE_EXISTS,
    REASON_CODE_NOT_FOUND,
    TRANSITION_REFUSED,
)
from plugins.agents.schemas import (
    AgentHandledCallOut,
    AgentMyStateIn,
    AgentOut,
    AgentsAvailableCountOut,
    AgentSettingsIn,
    AgentSettingsOut,
    AgentSkillCount,
    AgentWrapUpIn,
    AgentWrapUpOut,
    ReasonCodeIn,
    ReasonCodeOut,
    ReasonCodePatch,
)
from plugins.agents.scope import agent_scope, principal_user_id
from plugins.calls import set_call_outcome

router = APIRouter()

Reader = Annotated[Principal, Depends(require(AGENTS_READ.resource, AGENTS_READ.action))]
StateWriter = Annotated[Principal, Depends(require(STATE_WRITE.resource, STATE_WRITE.action))]
SettingsWriter = Annotated[
    Principal, Depends(require(SETTINGS_WRITE.resource, SETTINGS_WRITE.action))
]
S = AgentState


async def my_agent(
    session: AsyncSession, principal: Principal, *, for_update: bool = False
) -> Agent:
    """The caller's own agent profile, or the ``agents-no-profile`` 404."""
    user_id = principal_user_id(principal)
    query = select(Agent).where(Agent.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    agent = await session.scalar(query) if user_id is not None else None
    if agent is None:
        raise ProblemError(NO_PROFILE, "you have no agent profile")
    return agent


@router.get(
    "/me",
    response_model=AgentOut,
    summary="Your agent profile and presence",
    responses=problem_responses(NO_PROFILE),
)
async def get_my_agent(response: Response, session: SessionDep, principal: Reader) -> AgentOut:
    agent = await my_agent(session, principal)
    tagged(response, agent)
    return await one(session, agent)


@router.put(
    "/me/state",
    response_model=AgentOut,
    summary="Change your presence",
    responses=problem_responses(NO_PROFILE, TRANSITION_REFUSED),
)
async def put_my_state(
    body: AgentMyStateIn,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    principal: StateWriter,
) -> AgentOut:
    """`available`, `away` with one of the organization's active reason codes, or `offline`
    (cause `agent`). From `reserved` only `away` (declining the offer); never from
    `on_call`: a 409 names `from` and `to`."""
    agent = await my_agent(session, principal, for_update=True)
    await service.move(
        platform,
        session,
        agent,
        S(body.state),
        cause="agent",
        reason_code=body.reason_code,
        actor=actor(principal),
    )
    await session.commit()
    tagged(response, agent)
    return await one(session, agent)


@router.post(
    "/me/wrap-up",
    response_model=AgentWrapUpOut,
    summary="Record your call's outcome, and end your wrap-up",
    responses=problem_responses(NO_PROFILE, NO_CALL, TRANSITION_REFUSED),
)
async def post_my_wrap_up(
    body: AgentWrapUpIn, session: SessionDep, platform: PlatformDep, principal: StateWriter
) -> AgentWrapUpOut:
    """Sets the disposition and notes of the call you are on or wrapping up (or of
    `call_id`, a call you handled) as `PATCH /api/v1/calls/{id}` would, keeps the
    disposition in your call history, and with `done: true` ends your wrap-up: you become
    `available` (cause `agent`)."""
    agent = await my_agent(session, principal, for_update=True)
    current = agent.current_call_id if agent.state in (S.ON_CALL, S.WRAP_UP) else None
    call_id = body.call_id or current
    handled = None
    if call_id is not None:
        handled = await session.scalar(
            select(HandledCall).where(
                HandledCall.agent_id == agent.id, HandledCall.call_id == call_id
            )
        )
    if call_id is None or (call_id != current and handled is None):
        raise ProblemError(NO_CALL, "no call of yours to wrap up")
    if body.disposition is not None or body.notes is not None:
        await set_call_outcome(
            platform,
            session,
            call_id,
            disposition=body.disposition,
            notes=body.notes,
            actor=actor(principal),
        )
    if handled is not None and body.disposition is not None:
        handled.disposition = body.disposition
    if body.done and agent.state in (S.ON_CALL, S.WRAP_UP):
        now = utcnow()
        if handled is not None and call_id == current and agent.state == S.WRAP_UP:
            handled.wrap_up_ended_at = now
            handled.wrap_up_seconds = round((now - agent.state_since).total_seconds(), 3)
        await service.move(
            platform,
            session,
            agent,
            S.AVAILABLE,
            cause="agent",
            reason_code=None,
            actor=actor(principal),
        )
    await session.commit()
    return AgentWrapUpOut(
        agent=await one(session, agent),
        call=AgentHandledCallOut.model_validate(handled) if handled is not None else None,
    )


@router.get(
    "/available-count",
    response_model=AgentsAvailableCountOut,
    summary="How many agents are available, by skill",
)
async def available_agents_count(
    principal: Reader,
    session: SessionDep,
    skill: Annotated[str | None, Query(max_length=64, description="Count only this skill.")] = None,
    min_level: Annotated[int, Query(ge=1, le=10, description="With `skill`.")] = 1,
) -> AgentsAvailableCountOut:
    """Active agents in `available` that you reach; `by_skill` counts them per skill (an
    agent with two skills counts under each). With `skill`, only agents with that skill at
    `min_level` or more."""
    scope = await agent_scope(session, principal)
    ready = [Agent.state == S.AVAILABLE.value, Agent.active.is_(True), scope.where()]
    skilled = [AgentSkill.agent_id == Agent.id]
    if skill:
        skilled += [AgentSkill.skill == skill, AgentSkill.level >= min_level]
    counts = await session.execute(
        select(AgentSkill.skill, func.count(func.distinct(Agent.id)))
        .join(Agent, AgentSkill.agent_id == Agent.id)
        .where(*ready, *skilled)
        .group_by(AgentSkill.skill)
        .order_by(AgentSkill.skill)
    )
    by_skill = [AgentSkillCount(skill=name, available=count) for name, count in counts]
    total_query = select(func.count()).select_from(Agent).where(*ready)
    if skill:
        total_query = total_query.where(
            Agent.id.in_(
                select(AgentSkill.agent_id).where(
                    AgentSkill.skill == skill, AgentSkill.level >= min_level
                )
            )
        )
    return AgentsAvailableCountOut(
        available=await session.scalar(total_query) or 0, by_skill=by_skill
    )


@router.get("/reason-codes", response_model=list[ReasonCodeOut], summary="Away reason codes")
async def list_reason_codes(session: SessionDep, _: Reader) -> list[ReasonCodeOut]:
    """The organization's codes and the built-in `missed` (routing's, for an offer that
    rang out or was declined)."""
    return await codes.list_codes(session)


@router.post(
    "/reason-codes",
    response_model=ReasonCodeOut,
    status_code=status.HTTP_201_CREATED,
    summary="Define an away reason code",
    responses=problem_responses(REASON_CODE_EXISTS),
)
async def create_reason_code(
    body: ReasonCodeIn, session: SessionDep, _: SettingsWriter
) -> ReasonCodeOut:
    row = await codes.create_code(session, code=body.code, label=body.label, active=body.active)
    await session.commit()
    return codes.code_out(row)


@router.patch(
    "/reason-codes/{code_id}",
    response_model=ReasonCodeOut,
    summary="Change an away reason code",
    responses=problem_responses(REASON_CODE_NOT_FOUND),
)
async def patch_reason_code(
    code_id: uuid.UUID, body: ReasonCodePatch, session: SessionDep, _: SettingsWriter
) -> ReasonCodeOut:
    """An inactive code can no longer be chosen; agents away with it stay so."""
    row = await codes.change_code(session, code_id, label=body.label, active=body.active)
    await session.commit()
    return codes.code_out(row)


@router.delete(
    "/reason-codes/{code_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an away reason code",
    responses=problem_responses(REASON_CODE_NOT_FOUND),
)
async def delete_reason_code(
    code_id: uuid.UUID, session: SessionDep, _: SettingsWriter
) -> Response:
    """The state history keeps the code's name; agents away with it stay so."""
    await codes.delete_code(session, code_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/settings", response_model=AgentSettingsOut, summary="Presence settings")
async def get_agent_settings(session: SessionDep, _: Reader) -> AgentSettingsOut:
    row = await codes.settings(session)
    return AgentSettingsOut(
        default_wrap_up_seconds=row.default_wrap_up_seconds,
        offer_timeout_seconds=row.offer_timeout_seconds,
    )


@router.put("/settings", response_model=AgentSettingsOut, summary="Change presence settings")
async def put_agent_settings(
    body: AgentSettingsIn, session: SessionDep, _: SettingsWriter
) -> AgentSettingsOut:
    """The default wrap-up time applies to agents and queues without their own; the offer
    timeout to offers made from now on."""
    row = await codes.change_settings(
        session,
        default_wrap_up_seconds=body.default_wrap_up_seconds,
        offer_timeout_seconds=body.offer_timeout_seconds,
    )
    await session.commit()
    return AgentSettingsOut(
        default_wrap_up_seconds=row.default_wrap_up_seconds,
        offer_timeout_seconds=row.offer_timeout_seconds,
    )
