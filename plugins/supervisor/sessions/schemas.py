"""Supervision sessions and settings as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from plugins.supervisor.models import SessionStatus, SupervisionMode


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID = Field(description="The agent whose live call you supervise.")
    mode: SupervisionMode = Field(
        default=SupervisionMode.MONITOR,
        description="monitor (you hear everyone, nobody hears you), whisper (only the agent "
        "hears you) or barge (everyone hears you).",
    )


class SessionModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: SupervisionMode


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agent_id: uuid.UUID
    supervisor: str = Field(description="Who supervises (their subject in the audit log).")
    supervisor_user_id: uuid.UUID | None
    mode: SupervisionMode
    status: SessionStatus = Field(
        description="connecting (your phone rings), active (you are in the call) or ended."
    )
    provider: str
    source: str = Field(description="Whose conversation it is: `queues` or `campaigns`.")
    agent_call_id: uuid.UUID = Field(description="The agent's leg.")
    customer_call_id: uuid.UUID | None
    supervisor_call_id: uuid.UUID | None = Field(description="Your leg.")
    announced: bool = Field(description="The agent was told (organization setting).")
    mode_changes: int
    started_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None = Field(
        description="supervisor (ended or hung up), call_ended, not_answered or failed."
    )


class SupervisionSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    announce_to_agent: bool = Field(
        description="Tell the agent when a supervisor joins, switches mode or leaves: a tone "
        "when the supervisor joins and the event `supervisor.session.announced`."
    )


class SupervisionSettingsOut(BaseModel):
    announce_to_agent: bool
