"""The queues plugin's tables: queues and who serves them, the calls (and callbacks) waiting
in them, and the offers routing makes to agents.

All tenant-owned. Two partial unique indexes are the database's own guard against the two
errors an ACD must never make, whatever the workers do: one agent offered two calls at once
(``uq_queues_offers_live_agent``) and one call offered to two agents at once outside
ring-all (``uq_queues_offers_live_item``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, UniqueConstraint, Uuid, text
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


class Strategy(enum.StrEnum):
    LONGEST_IDLE = "longest_idle"
    """The available agent who has been idle longest (Asterisk ``leastrecent``)."""
    ROUND_ROBIN = "round_robin"
    """The available agent offered a call longest ago (``rrmemory``)."""
    SKILLS = "skills"
    """Qualified agents only (required skills at a minimum level); the highest level first,
    then the longest idle."""
    RING_ALL = "ring_all"
    """Every available agent at once; the first to answer takes the call."""


class OverflowKind(enum.StrEnum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    IVR = "ivr"
    HANGUP = "hangup"


class ItemStatus(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    COMPLETED = "completed"
    """The caller talked to an agent and the call ended."""
    ABANDONED = "abandoned"
    """The caller hung up while waiting."""
    OVERFLOWED = "overflowed"
    """Sent to the overflow target (maximum wait or queue size)."""
    CANCELLED = "cancelled"
    """Taken out of the queue (moved elsewhere, or a callback cancelled)."""


LIVE_ITEM_STATUSES = (ItemStatus.WAITING, ItemStatus.OFFERED)


class OfferStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for the agent to accept (agents who do not auto-accept)."""
    RINGING = "ringing"
    """The agent's reach is being called."""
    ACCEPTED = "accepted"
    """The agent answered; the caller is being bridged."""
    CONNECTED = "connected"
    DECLINED = "declined"
    MISSED = "missed"
    WITHDRAWN = "withdrawn"
    """The caller hung up, or another agent of a ring-all took the call."""
    FAILED = "failed"
    """The agent's leg could not be placed."""
    ENDED = "ended"
    """The conversation is over."""


LIVE_OFFER_STATUSES = (OfferStatus.PENDING, OfferStatus.RINGING, OfferStatus.ACCEPTED)
_LIVE_OFFER = "status IN ('pending', 'ringing', 'accepted')"


class Queue(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "queues_queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    strategy: Mapped[str] = mapped_column(String(16), default=Strategy.LONGEST_IDLE.value)
    required_skills: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """``[{"skill": "billing", "min_level": 3}]``: every one is required (skills strategy,
    and a filter for the others)."""
    relax_skills_after_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """After this long a caller may go to any member agent (None: never)."""
    priority: Mapped[int] = mapped_column(Integer, default=0)
    """An agent serving several queues takes the higher-priority queue's caller first."""
    service_level_seconds: Mapped[int] = mapped_column(Integer, default=20)
    service_level_target: Mapped[int] = mapped_column(Integer, default=80)
    """Percent of offered calls to answer within ``service_level_seconds``."""
    max_wait_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    overflow: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """``{"kind": "queue"|"voicemail"|"ivr"|"hangup", "queue_id", "flow_id", "node_id",
    "message"}``; empty: hang up with the default message."""
    greeting: Mapped[str] = mapped_column(String(1000), default="")
    announce_every_seconds: Mapped[int] = mapped_column(Integer, default=30)
    announce_position: Mapped[bool] = mapped_column(Boolean, default=True)
    announce_wait: Mapped[bool] = mapped_column(Boolean, default=True)
    music_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    callback_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_key: Mapped[str] = mapped_column(String(1), default="1")
    wrap_up_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    offer_timeout_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class QueueAgent(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """An agent who serves a queue directly (besides the members of its teams)."""

    __tablename__ = "queues_queue_agents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "queue_id", "agent_id"),
        Index("ix_queues_queue_agents_agent", "tenant_id", "agent_id"),
        tenant_foreign_key("queue_id", "queues_queues", ondelete="CASCADE"),
    )

    queue_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class QueueTeam(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A team whose members serve a queue."""

    __tablename__ = "queues_queue_teams"
    __table_args__ = (
        UniqueConstraint("tenant_id", "queue_id", "team_id"),
        Index("ix_queues_queue_teams_team", "tenant_id", "team_id"),
        tenant_foreign_key("queue_id", "queues_queues", ondelete="CASCADE"),
    )

    queue_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    team_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class QueueItem(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A caller waiting (or who waited) in a queue, or a callback that keeps its place."""

    __tablename__ = "queues_items"
    __table_args__ = (
        Index("ix_queues_items_waiting", "tenant_id", "queue_id", "status", "priority"),
        Index("ix_queues_items_call", "tenant_id", "call_id"),
        Index("ix_queues_items_entered", "tenant_id", "queue_id", "entered_at"),
        tenant_foreign_key("queue_id", "queues_queues", ondelete="CASCADE"),
    )

    queue_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(16), default="call")
    """``call`` (a live caller) or ``callback`` (call them back when an agent is free)."""
    call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The caller's call (for a callback: the call that asked for it)."""
    provider: Mapped[str] = mapped_column(String(32), default="")
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    called_number: Mapped[str] = mapped_column(String(64), default="")
    callback_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    required_skills: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """What the agent is shown: the IVR path so far, chosen options, the contact."""
    return_target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """Where an overflow or timeout sends the caller back (IVR ``<flow>@<node>``)."""
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.WAITING.value)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """The place in line (with ``priority``); a callback keeps the caller's."""
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Maximum wait: when the caller overflows."""
    next_announce_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The agent who took the call."""
    target_agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """A supervisor moved the call to this agent: routing offers it to them only (skills
    and membership aside), and it waits while they are busy. It lapses when the agent is
    deleted or deactivated."""
    offers: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    wait_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    """From entering the queue to the answer (or the end)."""


class Offer(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One offer of a queued call to one agent."""

    __tablename__ = "queues_offers"
    __table_args__ = (
        Index(
            "uq_queues_offers_live_agent",
            "tenant_id",
            "agent_id",
            unique=True,
            postgresql_where=text(_LIVE_OFFER),
            sqlite_where=text(_LIVE_OFFER),
        ),
        Index(
            "uq_queues_offers_live_item",
            "tenant_id",
            "item_id",
            unique=True,
            postgresql_where=text(f"{_LIVE_OFFER} AND NOT ring_all"),
            sqlite_where=text(f"{_LIVE_OFFER} AND NOT ring_all"),
        ),
        Index("ix_queues_offers_expiry", "tenant_id", "status", "expires_at"),
        Index("ix_queues_offers_agent_call", "tenant_id", "agent_call_id"),
        tenant_foreign_key("item_id", "queues_items", ondelete="CASCADE"),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    queue_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    ring_all: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=OfferStatus.PENDING.value)
    agent_call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The agent's leg (an outbound call the platform placed to the agent's reach)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Unanswered by then: missed (a crashed worker's offer times out the same way)."""
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)


MODELS: list[type] = [Queue, QueueAgent, QueueTeam, QueueItem, Offer]
