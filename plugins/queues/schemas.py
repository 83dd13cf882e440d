"""Request and response bodies of queue management and live state (names start with ``Queue``
so that they stay distinct in the OpenAPI document)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from plugins.queues.models import ItemStatus, OverflowKind, Strategy

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Prompt = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Seconds = Annotated[int, Field(ge=0, le=86_400)]
MusicUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048)]
CallbackKey = Annotated[str, StringConstraints(pattern=r"^[0-9*#]$")]
Members = Annotated[list[uuid.UUID], Field(max_length=500)]


class QueueSkill(BaseModel):
    """A skill every agent who takes the queue's calls needs, at ``min_level`` or more."""

    model_config = ConfigDict(extra="forbid")

    skill: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    min_level: int = Field(default=1, ge=1, le=10)


class QueueOverflow(BaseModel):
    """Where callers go when they waited ``max_wait_seconds`` or the queue is full.

    ``queue``: ``queue_id`` (another queue); ``ivr``: ``flow_id`` and ``node_id`` (a node of
    the flow's published version); ``voicemail``: record a message (``message`` is the
    prompt); ``hangup``: say ``message`` and hang up."""

    model_config = ConfigDict(extra="forbid")

    kind: OverflowKind
    queue_id: uuid.UUID | None = None
    flow_id: uuid.UUID | None = None
    node_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    message: Prompt | None = None


class QueueSettingsFields(BaseModel):
    """What a queue is besides its name (every field optional in a change)."""

    model_config = ConfigDict(extra="forbid")

    description: Description | None = None
    strategy: Strategy | None = Field(
        default=None,
        description="`longest_idle` (default), `round_robin`, `skills` (needs "
        "`required_skills`) or `ring_all`.",
    )
    required_skills: Annotated[list[QueueSkill], Field(max_length=20)] | None = None
    relax_skills_after_seconds: Seconds | None = Field(
        default=None, description="After this wait any member may take the call; null: never."
    )
    priority: int | None = Field(default=None, ge=0, le=100)
    service_level_seconds: int | None = Field(default=None, ge=1, le=3600)
    service_level_target: int | None = Field(
        default=None, ge=1, le=100, description="Percent of offered calls."
    )
    max_wait_seconds: int | None = Field(default=None, ge=10, le=86_400)
    max_size: int | None = Field(default=None, ge=1, le=10_000)
    overflow: QueueOverflow | None = None
    greeting: Prompt | None = None
    announce_every_seconds: int | None = Field(default=None, ge=10, le=3600)
    announce_position: bool | None = None
    announce_wait: bool | None = None
    music_url: MusicUrl | None = Field(
        default=None, description="Hold music (http or https) the provider plays in a loop."
    )
    callback_enabled: bool | None = None
    callback_key: CallbackKey | None = None
    wrap_up_seconds: int | None = Field(
        default=None, ge=0, le=3600, description="Overrides the agent's and the tenant's."
    )
    offer_timeout_seconds: int | None = Field(
        default=None, ge=5, le=300, description="Overrides the tenant's."
    )
    active: bool | None = None
    agent_ids: Members | None = Field(default=None, description="Agents who serve it directly.")
    team_ids: Members | None = Field(default=None, description="Teams whose members serve it.")


class QueueCreate(QueueSettingsFields):
    name: Name


class QueuePatch(QueueSettingsFields):
    """Only the fields sent change; ``agent_ids`` and ``team_ids`` replace the lists; null
    clears the nullable ones (``overflow``, ``max_wait_seconds``, ``music_url``, ...)."""

    name: Name | None = None


class QueueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    strategy: Strategy
    required_skills: list[QueueSkill]
    relax_skills_after_seconds: int | None
    priority: int
    service_level_seconds: int
    service_level_target: int
    max_wait_seconds: int | None
    max_size: int | None
    overflow: QueueOverflow | None
    greeting: str
    announce_every_seconds: int
    announce_position: bool
    announce_wait: bool
    music_url: str | None
    callback_enabled: bool
    callback_key: str
    wrap_up_seconds: int | None
    offer_timeout_seconds: int | None
    active: bool
    agent_ids: list[uuid.UUID]
    team_ids: list[uuid.UUID]
    version: int
    created_at: datetime
    updated_at: datetime


class QueueWaitingCall(BaseModel):
    item_id: uuid.UUID
    kind: str = Field(description="`call` (a caller on the line) or `callback`.")
    status: ItemStatus = Field(description="`waiting` or `offered` (an agent is being rung).")
    call_id: uuid.UUID | None
    priority: int
    position: int = Field(description="1 is next: priority first, then the longest wait.")
    wait_seconds: float
    entered_at: datetime
    offers: int


class QueueToday(BaseModel):
    """The queue's figures for the organization's current day (formulas in the guide)."""

    day: date
    time_zone: str
    offered: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    short_abandoned: int = Field(description="Left out of offered and abandoned.")
    overflowed: int
    service_level: float | None = Field(description="Percent; null before the first call.")
    asa_seconds: float | None = Field(description="Average speed of answer.")
    abandon_rate: float | None = Field(description="Percent of offered.")


class QueueLive(BaseModel):
    queue_id: uuid.UUID
    name: str
    active: bool
    waiting: int
    connected: int
    oldest_wait_seconds: float
    calls: list[QueueWaitingCall]
    agents: dict[str, int] = Field(description="Agents who serve the queue, by presence state.")
    today: QueueToday
    at: datetime


class QueueLiveSummary(BaseModel):
    queue_id: uuid.UUID
    name: str
    active: bool
    waiting: int
    connected: int
    oldest_wait_seconds: float
    agents: dict[str, int]
    offered_today: int
    answered_today: int
    abandoned_today: int
    service_level_today: float | None
    service_level_target: int


class QueueAvailability(BaseModel):
    queue_id: uuid.UUID
    name: str
    members: int = Field(description="Active agents who serve the queue.")
    available: int = Field(description="Of those, available now.")
    qualified: int = Field(description="Available and holding every required skill.")


class QueueCallRecord(BaseModel):
    """One call (or callback) that entered the queue, as it went."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    queue_id: uuid.UUID
    kind: str
    call_id: uuid.UUID | None
    status: ItemStatus
    priority: int
    entered_at: datetime
    offered_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    agent_id: uuid.UUID | None
    target_agent_id: uuid.UUID | None = Field(
        default=None, description="The agent the call was moved to: only they are offered it."
    )
    offers: int
    outcome: str | None
    wait_seconds: float | None


class QueueMoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue_id: uuid.UUID | None = Field(
        default=None, description="The queue the waiting call moves to (or `agent_id`)."
    )
    agent_id: uuid.UUID | None = Field(
        default=None,
        description="The agent the call is offered to, only: it stays in its queue and waits "
        "while they are busy (or `queue_id`).",
    )


def overflow_out(value: dict[str, Any] | None) -> QueueOverflow | None:
    return QueueOverflow.model_validate(value) if value else None


def sent_fields(body: BaseModel) -> dict[str, Any]:
    """The fields the client sent, nested models whole: ``exclude_unset`` would also drop the
    defaults inside a nested model (a required skill without ``min_level``), which the
    service must see."""
    whole = body.model_dump()
    return {name: whole[name] for name in body.model_fields_set}


class SampleNumberOut(BaseModel):
    id: uuid.UUID
    number: str


class SampleImportOut(BaseModel):
    """What the support sample created (``POST /api/v1/queues/samples/support/import``)."""

    queue_id: uuid.UUID = Field(description='The queue "Support".')
    agent_ids: list[uuid.UUID] = Field(description="Ava, Ben and Cleo, available.")
    flow_id: uuid.UUID = Field(description='The flow "Support line", published.')
    flow_version: int
    number: SampleNumberOut | None = Field(
        description="The organization's number now routed to the flow (null: it had none "
        "routed nowhere)."
    )
