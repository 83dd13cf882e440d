"""Teams: create, change, delete; their members (agents) and supervisors (users).

Supervisors decide who reaches whom (:mod:`plugins.agents.scope`), so their changes are
audited by the route; every change bumps the team's ``version`` and publishes an event.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, if_match_allows, tenant_users_missing, utcnow
from plugins.agents.events import TeamCreated, TeamDeleted, TeamUpdated
from plugins.agents.models import Agent, Team, TeamMember, TeamSupervisor
from plugins.agents.problems import (
    INVALID_TEAM,
    TEAM_CHANGED,
    TEAM_EXISTS,
    TEAM_NOT_FOUND,
    located,
)
from plugins.agents.schemas import TeamOut


async def get_team(session: AsyncSession, team_id: uuid.UUID, *, for_update: bool = False) -> Team:
    query = select(Team).where(Team.id == team_id)
    if for_update:
        query = query.with_for_update()
    team = await session.scalar(query)
    if team is None:
        raise ProblemError(TEAM_NOT_FOUND, f"no team {team_id}")
    return team


def _check_version(team: Team, if_match: str | None) -> None:
    if not if_match_allows(if_match, team.version):
        raise ProblemError(
            TEAM_CHANGED,
            f"the team is at version {team.version}; If-Match named {if_match}",
            current_version=team.version,
        )


async def _name_free(session: AsyncSession, name: str, team_id: uuid.UUID | None) -> None:
    query = select(Team.id).where(Team.name == name)
    if team_id is not None:
        query = query.where(Team.id != team_id)
    if await session.scalar(query) is not None:
        raise ProblemError(TEAM_EXISTS, f"a team {name!r} exists already")


async def _changed(platform: Platform, session: AsyncSession, team: Team) -> None:
    team.version += 1
    team.updated_at = utcnow()
    await platform.events.publish(session, TeamUpdated(team_id=team.id))


async def create_team(
    session: AsyncSession, platform: Platform, *, name: str, description: str
) -> Team:
    await _name_free(session, name, None)
    team = Team(id=uuid.uuid4(), name=name, description=description, version=1)
    session.add(team)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise ProblemError(TEAM_EXISTS, f"a team {name!r} exists already") from None
    await platform.events.publish(session, TeamCreated(team_id=team.id))
    return team


async def update_team(
    session: AsyncSession,
    platform: Platform,
    *,
    team_id: uuid.UUID,
    name: str | None,
    description: str | None,
    if_match: str | None,
) -> Team:
    team = await get_team(session, team_id, for_update=True)
    _check_version(team, if_match)
    changed = False
    if name is not None and name != team.name:
        await _name_free(session, name, team.id)
        team.name, changed = name, True
    if description is not None and description != team.description:
        team.description, changed = description, True
    if changed:
        await _changed(platform, session, team)
    return team


async def delete_team(
    session: AsyncSession, platform: Platform, *, team_id: uuid.UUID, if_match: str | None
) -> None:
    team = await get_team(session, team_id, for_update=True)
    _check_version(team, if_match)
    await platform.events.publish(session, TeamDeleted(team_id=team.id))
    for model in (TeamMember, TeamSupervisor):
        await session.execute(delete(model).where(model.team_id == team.id))
    await session.delete(team)


def _invalid(name: str, ids: Sequence[uuid.UUID], wanted: Sequence[uuid.UUID], what: str) -> None:
    if ids:
        errors = [
            {"field": f"{name}[{wanted.index(i)}]", "reason": f"no {what} of your organization"}
            for i in ids
        ]
        raise ProblemError(INVALID_TEAM, f"{len(ids)} id(s) name no {what}", errors=located(errors))


async def set_members(
    session: AsyncSession,
    platform: Platform,
    *,
    team_id: uuid.UUID,
    agent_ids: Sequence[uuid.UUID],
    if_match: str | None,
) -> Team:
    team = await get_team(session, team_id, for_update=True)
    _check_version(team, if_match)
    wanted = list(dict.fromkeys(agent_ids))
    found = set(await session.scalars(select(Agent.id).where(Agent.id.in_(wanted))))
    _invalid("agent_ids", [i for i in wanted if i not in found], list(agent_ids), "agent")
    current = set(
        await session.scalars(select(TeamMember.agent_id).where(TeamMember.team_id == team.id))
    )
    if current != set(wanted):
        await session.execute(
            delete(TeamMember).where(
                TeamMember.team_id == team.id, TeamMember.agent_id.not_in(wanted)
            )
        )
        session.add_all(TeamMember(team_id=team.id, agent_id=a) for a in wanted if a not in current)
        await _changed(platform, session, team)
    return team


async def set_supervisors(
    session: AsyncSession,
    platform: Platform,
    *,
    team_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    if_match: str | None,
) -> tuple[Team, list[uuid.UUID], list[uuid.UUID]]:
    """Replace the team's supervisors; the team and the users added and removed."""
    team = await get_team(session, team_id, for_update=True)
    _check_version(team, if_match)
    wanted = list(dict.fromkeys(user_ids))
    _invalid("user_ids", await tenant_users_missing(session, wanted), list(user_ids), "user")
    current = set(
        await session.scalars(
            select(TeamSupervisor.user_id).where(TeamSupervisor.team_id == team.id)
        )
    )
    added = [u for u in wanted if u not in current]
    removed = sorted(current - set(wanted))
    if added or removed:
        if removed:
            await session.execute(
                delete(TeamSupervisor).where(
                    TeamSupervisor.team_id == team.id, TeamSupervisor.user_id.in_(removed)
                )
            )
        session.add_all(TeamSupervisor(team_id=team.id, user_id=u) for u in added)
        await _changed(platform, session, team)
    return team, added, removed


async def team_outs(session: AsyncSession, teams: Sequence[Team]) -> list[TeamOut]:
    ids = [t.id for t in teams]
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    supervisors: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if ids:
        for m in await session.scalars(
            select(TeamMember).where(TeamMember.team_id.in_(ids)).order_by(TeamMember.agent_id)
        ):
            members[m.team_id].append(m.agent_id)
        for s in await session.scalars(
            select(TeamSupervisor)
            .where(TeamSupervisor.team_id.in_(ids))
            .order_by(TeamSupervisor.user_id)
        ):
            supervisors[s.team_id].append(s.user_id)
    return [
        TeamOut(
            id=t.id,
            name=t.name,
            description=t.description,
            agent_ids=members[t.id],
            supervisor_ids=supervisors[t.id],
            version=t.version,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )
        for t in teams
    ]
