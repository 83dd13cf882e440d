"""The agents plugin's tables: agent profiles with their presence, skills, teams, reason codes,
the history of state changes and the calls each agent handled.

All tenant-owned. Presence lives on the agent row itself: routing claims an agent by locking
that one row (``SELECT ... FOR UPDATE SKIP LOCKED``), so the state it reads and the state it
writes can never come from two different rows.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base,
    TenantOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    UUIDPrimaryKeyMixin,
    tenant_foreign_key,
    utcnow,
)


class AgentState(enum.StrEnum):
    """Presence (docs/plugins/agents.md has the transition table)."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    """A call is being offered to the agent."""
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"
    """Not ready, with a reason code (``break``, ``lunch``, ... or ``missed``)."""


class ReachKind(enum.StrEnum):
    """How the platform rings the agent."""

    PHONE = "phone"
    SIP = "sip"
    LOOPBACK = "loopback"
    """A simulated agent of the loopback provider (development, demos, tests)."""


MISSED = "missed"
"""The reason code of an agent who let an offer ring out or declined it."""


class AgentSettingsRow(TenantOwnedMixin, TimestampMixin, Base):
    """One row per tenant: presence defaults. Missing row: the defaults."""

    __tablename__ = "agents_settings"

    default_wrap_up_seconds: Mapped[int] = mapped_column(Integer, default=30)
    offer_timeout_seconds: Mapped[int] = mapped_column(Integer, default=20)
    """How long an offered call rings the agent before it counts as missed."""


class ReasonCode(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A tenant-defined reason for being away (break, lunch, training, ...)."""

    __tablename__ = "agents_reason_codes"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Agent(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """An agent's profile and presence."""

    __tablename__ = "agents_agents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        Index("ix_agents_agents_state", "tenant_id", "state", "idle_since"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The user who works as this agent; None for a simulated (loopback) agent."""
    display_name: Mapped[str] = mapped_column(String(200))
    reach_kind: Mapped[str] = mapped_column(String(16), default=ReachKind.PHONE.value)
    reach_address: Mapped[str] = mapped_column(String(256), default="")
    """E.164 number (phone), ``sip:`` URI (sip); empty for loopback."""
    loopback_script: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """Loopback agents: what the simulated agent's phone does (loopback callee steps)."""
    auto_accept: Mapped[bool] = mapped_column(Boolean, default=True)
    """True: an offer rings the agent's reach at once (answering accepts). False: the offer
    waits for Accept on the agent page or the API, then rings the reach."""
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_concurrent_calls: Mapped[int] = mapped_column(Integer, default=1)
    wrap_up_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """None: the queue's, else the tenant's default."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    """The profile's version (``ETag``)."""

    state: Mapped[str] = mapped_column(String(16), default=AgentState.OFFLINE.value)
    reason_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the agent last became available: longest-idle routing picks the earliest."""
    last_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Round-robin routing picks the agent offered a call longest ago."""
    current_call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The call the agent is reserved for, on, or wrapping up."""
    wrap_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state_version: Mapped[int] = mapped_column(Integer, default=0)
    """Goes up with every state change (events carry it: a stale one is recognisable)."""


class AgentSkill(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One skill of an agent with its level (1-10); a table of its own so that routing can
    filter on it in SQL."""

    __tablename__ = "agents_agent_skills"
    __table_args__ = (
        UniqueConstraint("tenant_id", "agent_id", "skill"),
        Index("ix_agents_agent_skills_skill", "tenant_id", "skill", "level"),
        tenant_foreign_key("agent_id", "agents_agents", ondelete="CASCADE"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    skill: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer, default=5)


class Team(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "agents_teams"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)


class TeamMember(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    __tablename__ = "agents_team_members"
    __table_args__ = (
        UniqueConstraint("tenant_id", "team_id", "agent_id"),
        Index("ix_agents_team_members_agent", "tenant_id", "agent_id"),
        tenant_foreign_key("team_id", "agents_teams", ondelete="CASCADE"),
        tenant_foreign_key("agent_id", "agents_agents", ondelete="CASCADE"),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class TeamSupervisor(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A user who leads a team: sees and manages its agents."""

    __tablename__ = "agents_team_supervisors"
    __table_args__ = (
        UniqueConstraint("tenant_id", "team_id", "user_id"),
        Index("ix_agents_team_supervisors_user", "tenant_id", "user_id"),
        tenant_foreign_key("team_id", "agents_teams", ondelete="CASCADE"),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class StateChange(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One presence change, kept for reports (time in state) and audits."""

    __tablename__ = "agents_state_changes"
    __table_args__ = (
        Index("ix_agents_state_changes_agent", "tenant_id", "agent_id", "occurred_at"),
        tenant_foreign_key("agent_id", "agents_agents", ondelete="CASCADE"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cause: Mapped[str] = mapped_column(String(16))
    """``agent``, ``routing``, ``supervisor``, ``timeout`` or ``system``."""
    actor: Mapped[str | None] = mapped_column(String(80), nullable=True)
    call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    seconds_in_previous: Mapped[float] = mapped_column(Float, default=0.0)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HandledCall(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A call an agent was connected to (the agent's call history), written by routing."""

    __tablename__ = "agents_handled_calls"
    __table_args__ = (
        UniqueConstraint("tenant_id", "agent_id", "call_id"),
        Index("ix_agents_handled_calls_agent", "tenant_id", "agent_id", "answered_at"),
        tenant_foreign_key("agent_id", "agents_agents", ondelete="CASCADE"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    """The caller's call (not the agent's leg)."""
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wrap_up_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    talk_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    wrap_up_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(64), nullable=True)


MODELS: list[type] = [
    AgentSettingsRow,
    ReasonCode,
    Agent,
    AgentSkill,
    Team,
    TeamMember,
    TeamSupervisor,
    StateChange,
    HandledCall,
]
