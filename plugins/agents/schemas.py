"""Request and response bodies of agents, presence, reason codes, settings and teams."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plugins.agents.models import AgentState, ReachKind

SKILL = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
REASON = r"^[a-z0-9][a-z0-9_-]{0,31}$"
LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
"""A BCP 47 tag's shape (``cs``, ``en-US``, ``zh-Hant-TW``)."""


class AgentReachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ReachKind = Field(description="How the platform rings the agent.")
    address: str = Field(
        default="",
        max_length=256,
        description="`phone`: an E.164 number; `sip`: a `sip:` URI; `loopback`: empty.",
        examples=["+420601123456", "sip:ana@pbx.example.com"],
    )
    loopback_script: list[Any] | None = Field(
        default=None,
        max_length=50,
        description="`loopback` only: what the simulated agent's phone does when offered a "
        'call, the loopback provider\'s callee steps: `{"answer_after": 2}`, '
        '`{"decline_after": 3}`, `{"hangup_after": 30}`, or `ring`, `wait`, `answer`, `busy`, '
        "`no_answer`, `fail`, `say`, `press`, `hangup` steps, e.g. "
        '`[{"step": "ring", "seconds": 2}, {"step": "answer"}, {"step": "wait", "seconds": 30}, '
        '{"step": "hangup"}]`. Checked when stored: each problem is an `errors` entry.',
    )


class AgentReachOut(BaseModel):
    kind: ReachKind
    address: str
    loopback_script: list[Any] | None


class AgentSkillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skill: str = Field(pattern=SKILL, examples=["billing"])
    level: int = Field(default=5, ge=1, le=10, description="1 (novice) to 10 (expert).")


class AgentSkillOut(BaseModel):
    skill: str
    level: int


class AgentFields(BaseModel):
    """What a client writes; an update changes only what it sends."""

    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID | None = Field(
        default=None,
        description="The user of your organization who works as this agent; null only for "
        "a simulated agent (reach `loopback`).",
    )
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    reach: AgentReachIn | None = None
    auto_accept: bool | None = Field(
        default=None,
        description="True: an offered call rings the agent's reach at once. False: it waits "
        "for the agent to accept it.",
    )
    skills: list[AgentSkillIn] | None = Field(default=None, max_length=50)
    languages: list[str] | None = Field(
        default=None, max_length=20, description="BCP 47 tags, e.g. `cs`, `en-US`."
    )
    max_concurrent_calls: int | None = Field(
        default=None, description="Voice agents take one call at a time: only 1 is accepted."
    )
    wrap_up_seconds: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="After-call work time; null: the queue's, else the organization's default.",
    )
    team_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)
    active: bool | None = Field(
        default=None, description="An inactive agent is offline and cannot become available."
    )


class AgentCreate(AgentFields):
    display_name: str = Field(min_length=1, max_length=200)
    reach: AgentReachIn


class AgentPatch(AgentFields):
    pass


class AgentOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID | None
    display_name: str
    reach: AgentReachOut
    auto_accept: bool
    skills: list[AgentSkillOut]
    languages: list[str]
    max_concurrent_calls: int
    wrap_up_seconds: int | None
    team_ids: list[uuid.UUID]
    active: bool
    state: AgentState
    reason_code: str | None
    state_since: datetime
    idle_since: datetime | None
    current_call_id: uuid.UUID | None
    wrap_up_until: datetime | None
    state_version: int = Field(description="Goes up with every state change.")
    version: int = Field(description="The profile's version; the `ETag`.")
    created_at: datetime
    updated_at: datetime


class AgentMyStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["available", "away", "offline"] = Field(examples=["available"])
    reason_code: str | None = Field(
        default=None, pattern=REASON, description="Required for `away`: an active reason code."
    )


class AgentForceStateIn(AgentMyStateIn):
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the audit log).")


class AgentStateChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    from_state: str
    to_state: str
    reason_code: str | None
    cause: str
    actor: str | None
    call_id: uuid.UUID | None
    queue_id: uuid.UUID | None
    seconds_in_previous: float
    occurred_at: datetime


class AgentHandledCallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    call_id: uuid.UUID
    queue_id: uuid.UUID | None
    answered_at: datetime
    ended_at: datetime | None
    wrap_up_ended_at: datetime | None
    talk_seconds: float | None
    wrap_up_seconds: float | None
    disposition: str | None


class AgentWrapUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition: str | None = Field(default=None, min_length=1, max_length=64)
    notes: str | None = Field(default=None, max_length=10000)
    done: bool = Field(
        default=False, description="True: the wrap-up is over; you become available."
    )
    call_id: uuid.UUID | None = Field(
        default=None,
        description="A call you handled earlier; by default the call you are on or wrapping up.",
    )


class AgentWrapUpOut(BaseModel):
    agent: AgentOut
    call: AgentHandledCallOut | None


class AgentSkillCount(BaseModel):
    skill: str
    available: int


class AgentsAvailableCountOut(BaseModel):
    available: int = Field(description="Available, active agents you can reach.")
    by_skill: list[AgentSkillCount]


class ReasonCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=REASON, examples=["lunch"])
    label: str = Field(default="", max_length=100)
    active: bool = True


class ReasonCodePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, max_length=100)
    active: bool | None = None


class ReasonCodeOut(BaseModel):
    id: uuid.UUID | None = Field(description="None for the built-in `missed`.")
    code: str
    label: str
    active: bool
    builtin: bool


class AgentSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_wrap_up_seconds: int = Field(ge=0, le=3600)
    offer_timeout_seconds: int = Field(
        ge=5, le=300, description="How long an offered call rings before it counts as missed."
    )


class AgentSettingsOut(BaseModel):
    default_wrap_up_seconds: int
    offer_timeout_seconds: int


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)


class TeamPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)


class TeamMembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_ids: list[uuid.UUID] = Field(max_length=1000, description="Replaces the members.")


class TeamSupervisorsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[uuid.UUID] = Field(max_length=100, description="Replaces the supervisors.")


class TeamOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    agent_ids: list[uuid.UUID]
    supervisor_ids: list[uuid.UUID] = Field(description="Users who lead the team.")
    version: int
    created_at: datetime
    updated_at: datetime
