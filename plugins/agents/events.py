"""Events the agents plugin publishes (catalogue in ``docs/events.md``)."""

from __future__ import annotations

import uuid

from kernel import Event


class AgentStateChanged(Event):
    name = "agents.agent.state_changed"
    permission = "agents:read"
    aggregate = "agent_id"
    description = (
        "An agent's presence changed; `cause` says who changed it (`agent`, `routing`, "
        "`supervisor`, `timeout`, `system`) and `seconds_in_previous` how long the agent "
        "was in `from_state`."
    )

    agent_id: uuid.UUID
    user_id: uuid.UUID | None = None
    from_state: str
    to_state: str
    reason_code: str | None = None
    cause: str
    actor: str | None = None
    call_id: uuid.UUID | None = None
    queue_id: uuid.UUID | None = None
    seconds_in_previous: float
    state_version: int


class AgentEvent(Event):
    permission = "agents:read"
    aggregate = "agent_id"

    agent_id: uuid.UUID
    profile_version: int = 1


class AgentCreated(AgentEvent):
    name = "agents.agent.created"
    description = "An agent profile was created."


class AgentUpdated(AgentEvent):
    name = "agents.agent.updated"
    description = "An agent profile changed (skills, reach, teams, ...)."


class AgentDeleted(AgentEvent):
    name = "agents.agent.deleted"
    description = "An agent profile was deleted."


class TeamEvent(Event):
    permission = "teams:read"
    aggregate = "team_id"

    team_id: uuid.UUID


class TeamCreated(TeamEvent):
    name = "agents.team.created"
    description = "A team was created."


class TeamUpdated(TeamEvent):
    name = "agents.team.updated"
    description = "A team, its members or its supervisors changed."


class TeamDeleted(TeamEvent):
    name = "agents.team.deleted"
    description = "A team was deleted."


EVENT_TYPES: list[type[Event]] = [
    AgentStateChanged,
    AgentCreated,
    AgentUpdated,
    AgentDeleted,
    TeamCreated,
    TeamUpdated,
    TeamDeleted,
]
