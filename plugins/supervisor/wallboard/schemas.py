"""What ``GET /api/v1/supervisor/wallboard`` answers: the board in one document."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Sentiment(BaseModel):
    """How the caller sounds, as a plugin judges it (``kraliki_supervisor_call_sentiment``)."""

    label: Literal["positive", "neutral", "negative"]
    score: float | None = Field(default=None, ge=-1.0, le=1.0)
    """-1 (very negative) to 1 (very positive)."""
    at: datetime | None = None
    """When it was judged."""


class AgentCounts(BaseModel):
    """The queue's serving agents by state (active agents only)."""

    available: int = 0
    reserved: int = 0
    on_call: int = 0
    wrap_up: int = 0
    away: int = 0
    offline: int = 0


class WallboardQueue(BaseModel):
    id: uuid.UUID
    name: str
    active: bool
    waiting: int
    longest_wait_seconds: float
    """The longest waiting caller's wait at ``at`` (0: nobody waits)."""
    service_level_today: float | None
    """Percent answered within the queue's threshold, of offered (null before the first)."""
    service_level_target: int
    offered_today: int
    answered_today: int
    abandoned_today: int
    agents: AgentCounts
    at: datetime
    """When the figures were read: the page counts the longest wait on from it."""


class WallboardAgent(BaseModel):
    id: uuid.UUID
    display_name: str
    state: str
    state_since: datetime
    reason_code: str | None
    current_call_id: uuid.UUID | None
    call_started_at: datetime | None
    """When the agent was connected to the current call (on a call only)."""
    sentiment: Sentiment | None
    """None unless a plugin provides it (``kraliki_supervisor_call_sentiment``)."""
    state_version: int
    """Goes up with every state change: an older event is recognisable."""


class WallboardAlert(BaseModel):
    id: uuid.UUID
    rule_id: uuid.UUID
    kind: str
    severity: str
    subject_type: str
    subject_key: str
    subject_name: str
    value: float | None
    threshold: float | None
    message: str
    raised_at: datetime


class WallboardSession(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    supervisor: str
    """The supervising principal's subject."""
    mine: bool
    """The principal asking is the one supervising."""
    mode: str
    status: str
    started_at: datetime
    connected_at: datetime | None


class StreamPoint(BaseModel):
    """Where the board stands in the tenant's real-time stream."""

    position: int
    """The last event dispatched before the board was read (0: none yet)."""
    last_event_id: uuid.UUID | None
    """That event's id: subscribe with it as ``last_event_id`` to get every later event."""


class Abilities(BaseModel):
    """What the principal may do from the board."""

    monitor: bool
    whisper: bool
    barge: bool


class Wallboard(BaseModel):
    generated_at: datetime
    subject: str
    """The principal's subject (a session's ``supervisor`` when it is theirs)."""
    can: Abilities
    queues: list[WallboardQueue]
    agents: list[WallboardAgent]
    """The agents the principal may see, by name."""
    alerts: list[WallboardAlert]
    """Raised alerts, newest first."""
    sessions: list[WallboardSession]
    """Live supervision sessions on the agents shown (and the principal's own)."""
    reason_labels: dict[str, str]
    """Every away reason code with its label."""
    stream: StreamPoint
