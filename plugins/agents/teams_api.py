"""``/agents/teams``: teams, their members and their supervisors. Mounted before
``/agents/{agent_id}``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
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
from plugins.agents import teams
from plugins.agents.models import Team
from plugins.agents.permissions import TEAMS_READ, TEAMS_WRITE
from plugins.agents.problems import INVALID_TEAM, TEAM_CHANGED, TEAM_EXISTS, TEAM_NOT_FOUND
from plugins.agents.schemas import TeamIn, TeamMembersIn, TeamOut, TeamPatch, TeamSupervisorsIn

router = APIRouter(prefix="/teams")

Reader = Annotated[Principal, Depends(require(TEAMS_READ.resource, TEAMS_READ.action))]
Writer = Annotated[Principal, Depends(require(TEAMS_WRITE.resource, TEAMS_WRITE.action))]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The team's version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]
CHANGE = problem_responses(TEAM_NOT_FOUND, TEAM_CHANGED, INVALID_TEAM)


def _tagged(response: Response, team: Team) -> None:
    response.headers["ETag"] = f'"{team.version}"'


async def _one(session: SessionDep, team: Team) -> TeamOut:
    return (await teams.team_outs(session, [team]))[0]


@router.post(
    "",
    response_model=TeamOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a team",
    responses=problem_responses(TEAM_EXISTS),
)
async def create_team(
    body: TeamIn, response: Response, session: SessionDep, platform: PlatformDep, _: Writer
) -> TeamOut:
    team = await teams.create_team(session, platform, name=body.name, description=body.description)
    await session.commit()
    response.headers["Location"] = f"/api/v1/agents/teams/{team.id}"
    _tagged(response, team)
    return await _one(session, team)


@router.get("", response_model=CursorPage[TeamOut], summary="List teams")
async def list_teams(_: Reader, session: SessionDep, page: PageParamsDep) -> CursorPage[TeamOut]:
    rows, cursor = await paginate(
        session, select(Team), order_by=[Team.name, Team.id], params=page, descending=False
    )
    return CursorPage(items=await teams.team_outs(session, rows), next_cursor=cursor)


@router.get(
    "/{team_id}",
    response_model=TeamOut,
    summary="A team",
    responses=problem_responses(TEAM_NOT_FOUND),
)
async def get_team(
    team_id: uuid.UUID, response: Response, session: SessionDep, _: Reader
) -> TeamOut:
    team = await teams.get_team(session, team_id)
    _tagged(response, team)
    return await _one(session, team)


@router.patch(
    "/{team_id}",
    response_model=TeamOut,
    summary="Rename or describe a team",
    responses=problem_responses(TEAM_NOT_FOUND, TEAM_CHANGED, TEAM_EXISTS),
)
async def patch_team(
    team_id: uuid.UUID,
    body: TeamPatch,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    _: Writer,
    if_match: IfMatch = None,
) -> TeamOut:
    team = await teams.update_team(
        session,
        platform,
        team_id=team_id,
        name=body.name,
        description=body.description,
        if_match=if_match,
    )
    await session.commit()
    _tagged(response, team)
    return await _one(session, team)


@router.delete(
    "/{team_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a team",
    responses=problem_responses(TEAM_NOT_FOUND, TEAM_CHANGED),
)
async def delete_team(
    team_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> Response:
    """The agents stay; its supervisors no longer reach them through it (audited)."""
    await teams.delete_team(session, platform, team_id=team_id, if_match=if_match)
    record_audit_event(
        session,
        principal,
        "agents.team_deleted",
        request=request,
        target_type="team",
        target_id=team_id,
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{team_id}/members", response_model=TeamOut, summary="Set a team's agents", responses=CHANGE
)
async def put_team_members(
    team_id: uuid.UUID,
    body: TeamMembersIn,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    _: Writer,
    if_match: IfMatch = None,
) -> TeamOut:
    """Replaces the members; an id that names no agent is a 422 and nothing changes."""
    team = await teams.set_members(
        session, platform, team_id=team_id, agent_ids=body.agent_ids, if_match=if_match
    )
    await session.commit()
    _tagged(response, team)
    return await _one(session, team)


@router.put(
    "/{team_id}/supervisors",
    response_model=TeamOut,
    summary="Set a team's supervisors",
    responses=CHANGE,
)
async def put_team_supervisors(
    team_id: uuid.UUID,
    body: TeamSupervisorsIn,
    request: Request,
    response: Response,
    session: SessionDep,
    platform: PlatformDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> TeamOut:
    """Replaces the users who lead the team (they see and manage its agents); audited with
    who was added and removed."""
    team, added, removed = await teams.set_supervisors(
        session, platform, team_id=team_id, user_ids=body.user_ids, if_match=if_match
    )
    if added or removed:
        record_audit_event(
            session,
            principal,
            "agents.team_supervisors_changed",
            request=request,
            target_type="team",
            target_id=team.id,
            details={"added": [str(u) for u in added], "removed": [str(u) for u in removed]},
        )
    await session.commit()
    _tagged(response, team)
    return await _one(session, team)
