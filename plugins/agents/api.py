"""Routes of agent profiles and presence: CRUD, a supervisor's forced state change, the state
and call history of an agent.

``plugins.agents.me_api`` holds the fixed paths (``/me``, ``/reason-codes``, ``/settings``,
``/available-count``, ``/teams``) that would otherwise be read as an agent id; the plugin
mounts them before this router.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
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
from plugins.agents import service
from plugins.agents.models import (
    Agent,
    AgentSkill,
    AgentState,
    HandledCall,
    StateChange,
    TeamMember,
)
from plugins.agents.permissions import AGENTS_READ, AGENTS_WRITE, STATE_FORCE
from plugins.agents.problems import (
    AGENT_BUSY,
    AGENT_CHANGED,
    AGENT_EXISTS,
    AGENT_NOT_FOUND,
    INVALID_AGENT,
    TRANSITION_REFUSED,
)
from plugins.agents.schemas import (
    AgentCreate,
    AgentForceStateIn,
    AgentHandledCallOut,
    AgentOut,
    AgentPatch,
    AgentStateChangeOut,
)
from plugins.agents.scope import agent_scope

router = APIRouter()

Reader = Annotated[Principal, Depends(require(AGENTS_READ.resource, AGENTS_READ.action))]
Writer = Annotated[Principal, Depends(require(AGENTS_WRITE.resource, AGENTS_WRITE.action))]
Forcer = Annotated[Principal, Depends(require(STATE_FORCE.resource, STATE_FORCE.action))]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]
ONE = problem_responses(AGENT_NOT_FOUND)
CHANGE = problem_responses(AGENT_NOT_FOUND, AGENT_CHANGED, AGENT_EXISTS, INVALID_AGENT)


def actor(principal: Principal) -> str:
    return principal.subject[:80]


def tagged(response: Response, agent: Agent) -> None:
    response.headers["ETag"] = f'"{agent.version}"'


async def one(session: SessionDep, agent: Agent) -> AgentOut:
    return (await service.agent_outs(session, [agent]))[0]


@router.post(
    "",
    response_model=AgentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an agent profile",
    responses=problem_responses(AGENT_EXISTS, INVALID_AGENT),
)
async def create_agent(
    body: AgentCreate,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
) -> AgentOut:
    """The agent starts `offline`. Without `agents:all`, name one of the teams you lead in
    `team_ids` (an agent outside them would be out of your reach at once)."""
    scope = await agent_scope(session, principal)
    agent = await service.create_agent(
        session, platform, values=body.model_dump(exclude_unset=True), scope=scope
    )
    await session.commit()
    response.headers["Location"] = f"/api/v1/agents/{agent.id}"
    tagged(response, agent)
    return await one(session, agent)


@router.get("", response_model=CursorPage[AgentOut], summary="List agents")
async def list_agents(
    principal: Reader,
    session: SessionDep,
    page: PageParamsDep,
    state: Annotated[list[AgentState] | None, Query(description="One or more states.")] = None,
    reason_code: Annotated[str | None, Query(max_length=32)] = None,
    team_id: uuid.UUID | None = None,
    skill: Annotated[str | None, Query(max_length=64)] = None,
    min_level: Annotated[int, Query(ge=1, le=10, description="With `skill`.")] = 1,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the name.")] = None,
) -> CursorPage[AgentOut]:
    """The agents you reach (the teams you lead and yourself, or everyone with
    `agents:all`), by name."""
    scope = await agent_scope(session, principal)
    query = select(Agent).where(scope.where())
    if state:
        query = query.where(Agent.state.in_([s.value for s in state]))
    if reason_code:
        query = query.where(Agent.reason_code == reason_code)
    if team_id is not None:
        query = query.where(
            Agent.id.in_(select(TeamMember.agent_id).where(TeamMember.team_id == team_id))
        )
    if skill:
        query = query.where(
            Agent.id.in_(
                select(AgentSkill.agent_id).where(
                    AgentSkill.skill == skill, AgentSkill.level >= min_level
                )
            )
        )
    if active is not None:
        query = query.where(Agent.active.is_(active))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Agent.display_name.ilike(f"%{escaped}%", escape="\\"))
    rows, cursor = await paginate(
        session, query, order_by=[Agent.display_name, Agent.id], params=page, descending=False
    )
    return CursorPage(items=await service.agent_outs(session, rows), next_cursor=cursor)


@router.get("/{agent_id}", response_model=AgentOut, summary="An agent", responses=ONE)
async def get_agent(
    agent_id: uuid.UUID, response: Response, session: SessionDep, principal: Reader
) -> AgentOut:
    agent = await service.get_agent(session, agent_id, scope=await agent_scope(session, principal))
    tagged(response, agent)
    return await one(session, agent)


@router.patch(
    "/{agent_id}", response_model=AgentOut, summary="Change an agent profile", responses=CHANGE
)
async def patch_agent(
    agent_id: uuid.UUID,
    body: AgentPatch,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> AgentOut:
    """Only the fields sent change; `skills` and `team_ids` replace the lists (without
    `agents:all`, only memberships of teams you lead change). `active: false` puts the agent
    offline (cause `system`)."""
    agent = await service.update_agent(
        session,
        platform,
        agent_id=agent_id,
        values=body.model_dump(exclude_unset=True),
        if_match=if_match,
        scope=await agent_scope(session, principal),
        actor=actor(principal),
    )
    await session.commit()
    tagged(response, agent)
    return await one(session, agent)


@router.delete(
    "/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an agent profile",
    responses=problem_responses(AGENT_NOT_FOUND, AGENT_CHANGED, AGENT_BUSY),
)
async def delete_agent(
    agent_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> Response:
    """Refused (409) while the agent is offered a call or on one. Their state and call
    history go with them; the calls themselves stay."""
    await service.delete_agent(
        session,
        platform,
        agent_id=agent_id,
        if_match=if_match,
        scope=await agent_scope(session, principal),
    )
    record_audit_event(
        session,
        principal,
        "agents.agent_deleted",
        request=request,
        target_type="agent",
        target_id=agent_id,
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{agent_id}/state",
    response_model=AgentOut,
    summary="Force an agent's presence",
    responses=problem_responses(AGENT_NOT_FOUND, TRANSITION_REFUSED),
)
async def force_agent_state(
    agent_id: uuid.UUID,
    body: AgentForceStateIn,
    request: Request,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    principal: Forcer,
) -> AgentOut:
    """A supervisor sets an agent available, away (with a reason code) or offline (cause
    `supervisor`; never while a call is offered or on). Audited with `reason`."""
    scope = await agent_scope(session, principal)
    agent = await service.get_agent(session, agent_id, scope=scope, for_update=True)
    from_state = agent.state
    await service.move(
        platform,
        session,
        agent,
        AgentState(body.state),
        cause="supervisor",
        reason_code=body.reason_code,
        actor=actor(principal),
    )
    record_audit_event(
        session,
        principal,
        "agents.state_forced",
        request=request,
        target_type="agent",
        target_id=agent.id,
        details={
            "from": from_state,
            "to": body.state,
            "reason_code": body.reason_code,
            "reason": body.reason,
        },
    )
    await session.commit()
    tagged(response, agent)
    return await one(session, agent)


@router.get(
    "/{agent_id}/history",
    response_model=CursorPage[AgentStateChangeOut],
    summary="An agent's state changes, newest first",
    responses=ONE,
)
async def agent_state_history(
    agent_id: uuid.UUID, principal: Reader, session: SessionDep, page: PageParamsDep
) -> CursorPage[AgentStateChangeOut]:
    await service.get_agent(session, agent_id, scope=await agent_scope(session, principal))
    query = select(StateChange).where(StateChange.agent_id == agent_id)
    rows, cursor = await paginate(
        session, query, order_by=[StateChange.occurred_at, StateChange.id], params=page
    )
    return CursorPage(
        items=[AgentStateChangeOut.model_validate(row) for row in rows], next_cursor=cursor
    )


@router.get(
    "/{agent_id}/calls",
    response_model=CursorPage[AgentHandledCallOut],
    summary="The calls an agent handled, newest first",
    responses=ONE,
)
async def agent_handled_calls(
    agent_id: uuid.UUID, principal: Reader, session: SessionDep, page: PageParamsDep
) -> CursorPage[AgentHandledCallOut]:
    await service.get_agent(session, agent_id, scope=await agent_scope(session, principal))
    query = select(HandledCall).where(HandledCall.agent_id == agent_id)
    rows, cursor = await paginate(
        session, query, order_by=[HandledCall.answered_at, HandledCall.id], params=page
    )
    return CursorPage(
        items=[AgentHandledCallOut.model_validate(row) for row in rows], next_cursor=cursor
    )
