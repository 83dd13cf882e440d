"""Agent profiles: create, change, delete, read with their skills and teams; presence changes
asked for through the API.

No HTTP here: explicit sessions and keyword arguments. Each profile change bumps the agent's
``version`` (its ``ETag``) and publishes an event in the same transaction; every presence
change goes through :func:`plugins.agents.presence.change_state`.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, if_match_allows, tenant_user_exists, utcnow
from plugins.agents.events import AgentCreated, AgentDeleted, AgentUpdated
from plugins.agents.models import (
    Agent,
    AgentSkill,
    AgentState,
    ReachKind,
    Team,
    TeamMember,
)
from plugins.agents.presence import Cause, TransitionRefused, change_state
from plugins.agents.problems import (
    AGENT_BUSY,
    AGENT_CHANGED,
    AGENT_EXISTS,
    AGENT_NOT_FOUND,
    INVALID_AGENT,
    TRANSITION_REFUSED,
    located,
)
from plugins.agents.schemas import AgentOut, AgentReachOut, AgentSkillOut
from plugins.agents.scope import AgentScope

SIP_URI = re.compile(r"^sips?:[^\s@]+(@[^\s@]+)?$")
PROFILE = ("display_name", "auto_accept", "languages", "max_concurrent_calls", "active")


@dataclass
class Problems:
    """The invalid values of one request, reported together in one 422."""

    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, reason: str) -> None:
        self.items.append({"field": name, "reason": reason})

    def raise_any(self) -> None:
        if self.items:
            detail = "; ".join(f"{e['field']}: {e['reason']}" for e in self.items[:5])
            raise ProblemError(INVALID_AGENT, detail, errors=located(self.items))


async def get_agent(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    scope: AgentScope | None = None,
    for_update: bool = False,
) -> Agent:
    """The agent, or the not-found problem (also for one outside ``scope``)."""
    if scope is not None and not scope.covers(agent_id):
        raise ProblemError(AGENT_NOT_FOUND, f"no agent {agent_id}")
    query = select(Agent).where(Agent.id == agent_id)
    if for_update:
        query = query.with_for_update()
    agent = await session.scalar(query)
    if agent is None:
        raise ProblemError(AGENT_NOT_FOUND, f"no agent {agent_id}")
    return agent


def check_version(agent: Agent, if_match: str | None) -> None:
    if not if_match_allows(if_match, agent.version):
        raise ProblemError(
            AGENT_CHANGED,
            f"the agent is at version {agent.version}; If-Match named {if_match}",
            current_version=agent.version,
        )


def _reach(values: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """The reach's columns, its address normalised (E.164 for phones)."""
    kind = ReachKind(values["kind"])
    address = (values.get("address") or "").strip()
    script = values.get("loopback_script")
    if kind is ReachKind.PHONE:
        try:
            parsed = phonenumbers.parse(address, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            problems.add("reach.address", "not a valid phone number in E.164 (+ and digits)")
        else:
            address = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    elif kind is ReachKind.SIP:
        if not SIP_URI.match(address):
            problems.add("reach.address", "not a sip: URI (sip:user@host)")
    elif address:
        problems.add("reach.address", "a loopback agent has no address")
    if script is not None and kind is not ReachKind.LOOPBACK:
        problems.add("reach.loopback_script", "only loopback agents have a script")
    return {"reach_kind": kind.value, "reach_address": address, "loopback_script": script}


async def _check_script(platform: Platform, script: list[Any], problems: Problems) -> None:
    """A loopback agent's script, checked by whoever runs it (the loopback plugin, through
    ``kraliki_agent_loopback_script_problems``: agents does not require it)."""
    for _plugin, found in await platform.hooks.collect(
        "kraliki_agent_loopback_script_problems", script=script
    ):
        for where, why in found:
            problems.add(f"reach.loopback_script{where}", why)


async def _clean(
    session: AsyncSession,
    platform: Platform,
    values: Mapping[str, Any],
    *,
    agent: Agent | None,
    scope: AgentScope,
) -> dict[str, Any]:
    """The columns ``values`` set, checked together; every problem in one 422."""
    problems = Problems()
    out: dict[str, Any] = {k: values[k] for k in PROFILE if values.get(k) is not None}
    if "wrap_up_seconds" in values:
        out["wrap_up_seconds"] = values["wrap_up_seconds"]
    if values.get("reach") is not None:
        out.update(_reach(values["reach"], problems))
        if out["reach_kind"] == ReachKind.LOOPBACK.value and out["loopback_script"] is not None:
            await _check_script(platform, out["loopback_script"], problems)
    if out.get("max_concurrent_calls", 1) != 1:
        problems.add(
            "max_concurrent_calls",
            "a voice agent takes one call at a time (1): two calls at once cannot share "
            "one headset",
        )
    for index, tag in enumerate(out.get("languages", [])):
        if not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", tag):
            problems.add(f"languages[{index}]", "not a BCP 47 language tag (cs, en-US)")
    if "languages" in out:
        out["languages"] = list(dict.fromkeys(out["languages"]))
    if "user_id" in values:
        out["user_id"] = values["user_id"]
    user_id = out.get("user_id", agent.user_id if agent else None)
    kind = out.get("reach_kind", agent.reach_kind if agent else None)
    if user_id is None and kind != ReachKind.LOOPBACK.value:
        problems.add("user_id", "only a simulated (loopback) agent has no user")
    if "user_id" in out and user_id is not None and not await tenant_user_exists(session, user_id):
        problems.add("user_id", "no user of your organization has this id")
    skills = values.get("skills")
    if skills is not None:
        names = [s["skill"] for s in skills]
        for index, name in enumerate(names):
            if name in names[:index]:
                problems.add(f"skills[{index}].skill", f"{name!r} is listed twice")
    team_ids = values.get("team_ids")
    if team_ids is not None:
        known = set(await session.scalars(select(Team.id).where(Team.id.in_(team_ids))))
        for index, team_id in enumerate(team_ids):
            if team_id not in known or not scope.leads(team_id):
                problems.add(f"team_ids[{index}]", "no team you lead has this id")
    if agent is None and not scope.all and not team_ids:
        problems.add("team_ids", "name one of the teams you lead (you have no agents:all)")
    problems.raise_any()
    if "user_id" in out and user_id is not None:
        query = select(Agent.id).where(Agent.user_id == user_id)
        if agent is not None:
            query = query.where(Agent.id != agent.id)
        other = await session.scalar(query)
        if other is not None:
            raise ProblemError(
                AGENT_EXISTS, f"user {user_id} is agent {other} already", agent_id=str(other)
            )
    return out


async def _write_children(
    session: AsyncSession,
    agent: Agent,
    values: Mapping[str, Any],
    scope: AgentScope,
) -> list[str]:
    """Replace the skills and (the reachable part of) the team memberships; the names of
    what changed."""
    changed = []
    skills = values.get("skills")
    if skills is not None:
        current = {
            s.skill: s.level
            for s in await session.scalars(
                select(AgentSkill).where(AgentSkill.agent_id == agent.id)
            )
        }
        wanted = {s["skill"]: s.get("level", 5) for s in skills}
        if current != wanted:
            await session.execute(delete(AgentSkill).where(AgentSkill.agent_id == agent.id))
            session.add_all(
                AgentSkill(agent_id=agent.id, skill=name, level=level)
                for name, level in wanted.items()
            )
            changed.append("skills")
    team_ids = values.get("team_ids")
    if team_ids is not None:
        current_teams = set(
            await session.scalars(select(TeamMember.team_id).where(TeamMember.agent_id == agent.id))
        )
        reachable = {t for t in current_teams if scope.leads(t)}
        wanted_teams = set(team_ids)
        if reachable != wanted_teams:
            gone = reachable - wanted_teams
            if gone:
                await session.execute(
                    delete(TeamMember).where(
                        TeamMember.agent_id == agent.id, TeamMember.team_id.in_(gone)
                    )
                )
            session.add_all(
                TeamMember(team_id=t, agent_id=agent.id) for t in wanted_teams - current_teams
            )
            changed.append("team_ids")
    return changed


async def create_agent(
    session: AsyncSession, platform: Platform, *, values: Mapping[str, Any], scope: AgentScope
) -> Agent:
    cleaned = await _clean(session, platform, values, agent=None, scope=scope)
    agent = Agent(
        id=uuid.uuid4(),
        version=1,
        state=AgentState.OFFLINE.value,
        state_since=utcnow(),
        state_version=0,
        languages=[],
        active=True,
        auto_accept=True,
        max_concurrent_calls=1,
    )
    for name, value in cleaned.items():
        setattr(agent, name, value)
    session.add(agent)
    await session.flush()
    await _write_children(session, agent, values, AgentScope(all=True))
    await platform.events.publish(session, AgentCreated(agent_id=agent.id, profile_version=1))
    return agent


async def update_agent(
    session: AsyncSession,
    platform: Platform,
    *,
    agent_id: uuid.UUID,
    values: Mapping[str, Any],
    if_match: str | None,
    scope: AgentScope,
    actor: str,
) -> Agent:
    agent = await get_agent(session, agent_id, scope=scope, for_update=True)
    check_version(agent, if_match)
    cleaned = await _clean(session, platform, values, agent=agent, scope=scope)
    changed = []
    for name, value in cleaned.items():
        if getattr(agent, name) != value:
            setattr(agent, name, value)
            changed.append(name)
    changed += await _write_children(session, agent, values, scope)
    if not changed:
        return agent
    if "active" in changed and not agent.active and agent.state != AgentState.OFFLINE.value:
        await change_state(
            platform, session, agent, AgentState.OFFLINE, cause="system", actor=actor
        )
    agent.version += 1
    agent.updated_at = utcnow()
    await platform.events.publish(
        session, AgentUpdated(agent_id=agent.id, profile_version=agent.version)
    )
    return agent


async def delete_agent(
    session: AsyncSession,
    platform: Platform,
    *,
    agent_id: uuid.UUID,
    if_match: str | None,
    scope: AgentScope,
) -> None:
    agent = await get_agent(session, agent_id, scope=scope, for_update=True)
    check_version(agent, if_match)
    if agent.state in (AgentState.RESERVED.value, AgentState.ON_CALL.value):
        raise ProblemError(AGENT_BUSY, f"agent {agent.id} is {agent.state}", state=agent.state)
    await platform.events.publish(
        session, AgentDeleted(agent_id=agent.id, profile_version=agent.version)
    )
    for model in (AgentSkill, TeamMember):
        await session.execute(delete(model).where(model.agent_id == agent.id))
    await session.delete(agent)


async def move(
    platform: Platform,
    session: AsyncSession,
    agent: Agent,
    to_state: AgentState,
    *,
    cause: Cause,
    reason_code: str | None,
    actor: str,
) -> None:
    """A presence change asked for through the API: a refusal is the 409 problem naming
    ``from`` and ``to``."""
    try:
        if to_state is AgentState.AVAILABLE and not agent.active:
            raise TransitionRefused(
                "an inactive agent stays offline", from_state=agent.state, to_state=to_state.value
            )
        await change_state(
            platform, session, agent, to_state, cause=cause, reason_code=reason_code, actor=actor
        )
    except TransitionRefused as refused:
        raise ProblemError(
            TRANSITION_REFUSED,
            str(refused),
            **_ends(refused.from_state, refused.to_state),
        ) from None


def _ends(from_state: str, to_state: str) -> dict[str, Any]:
    """The ``from`` and ``to`` members of a refusal (``from`` is a keyword in Python)."""
    return {"from": from_state, "to": to_state}


async def agent_outs(session: AsyncSession, agents: Sequence[Agent]) -> list[AgentOut]:
    """Response bodies, with skills and teams read in two queries."""
    ids = [a.id for a in agents]
    skills: dict[uuid.UUID, list[AgentSkillOut]] = defaultdict(list)
    teams: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if ids:
        for skill in await session.scalars(
            select(AgentSkill).where(AgentSkill.agent_id.in_(ids)).order_by(AgentSkill.skill)
        ):
            skills[skill.agent_id].append(AgentSkillOut(skill=skill.skill, level=skill.level))
        for member in await session.scalars(
            select(TeamMember).where(TeamMember.agent_id.in_(ids)).order_by(TeamMember.team_id)
        ):
            teams[member.agent_id].append(member.team_id)
    return [
        AgentOut(
            id=a.id,
            user_id=a.user_id,
            display_name=a.display_name,
            reach=AgentReachOut(
                kind=ReachKind(a.reach_kind),
                address=a.reach_address,
                loopback_script=a.loopback_script,
            ),
            auto_accept=a.auto_accept,
            skills=skills[a.id],
            languages=list(a.languages),
            max_concurrent_calls=a.max_concurrent_calls,
            wrap_up_seconds=a.wrap_up_seconds,
            team_ids=teams[a.id],
            active=a.active,
            state=AgentState(a.state),
            reason_code=a.reason_code,
            state_since=a.state_since,
            idle_since=a.idle_since,
            current_call_id=a.current_call_id,
            wrap_up_until=a.wrap_up_until,
            state_version=a.state_version,
            version=a.version,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )
        for a in agents
    ]
