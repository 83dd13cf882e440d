"""The campaigns plugin's tables: campaigns and the static contact lists some of them dial.

Tenant-owned. A campaign's settings that have structure (schedule, retry rules, frequency
caps, answering-machine policy, the abandoned-call message) are JSON columns validated by
the API's schemas (``schemas.py``); the columns that the dialer filters or joins on are
plain columns.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base,
    TenantOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    UUIDPrimaryKeyMixin,
    tenant_foreign_key,
)


class Mode(enum.StrEnum):
    PREVIEW = "preview"
    """The agent sees the contact first and starts the call."""
    PROGRESSIVE = "progressive"
    """One call per available agent."""
    PREDICTIVE = "predictive"
    """Paced over-dialling from measured answer rates and handle times, under the
    abandonment cap."""
    AGENTLESS = "agentless"
    """Every answered call runs an IVR flow (reminders, surveys); no agent."""


AGENT_MODES = (Mode.PREVIEW, Mode.PROGRESSIVE, Mode.PREDICTIVE)


class CampaignState(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class SourceKind(enum.StrEnum):
    SEGMENT = "segment"
    """The contacts plugin's segment, as it is when the dialer reads it."""
    LIST = "list"
    """A fixed list of contacts (``campaigns_list_entries``)."""


MAX_ABANDON_RATE = 3.0
"""Percent of live-answered calls over the campaign's rolling 30 days (the FTC's safe
harbour): a campaign may set a lower cap, never a higher one."""
MIN_RING_SECONDS = 15
"""Unanswered calls ring at least this long before the dialer gives up."""


class Campaign(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "campaigns_campaigns"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_campaigns_campaigns_state", "tenant_id", "state"),
    )

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.DRAFT.value)
    source_kind: Mapped[str] = mapped_column(String(16))
    segment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """Whose agents take answered calls (agent modes)."""
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """Or a team's agents (agent modes, instead of or besides the queue)."""
    flow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The IVR flow every answered call runs (agentless)."""
    caller_id: Mapped[str] = mapped_column(String(32))
    """One of the organization's numbers: callers can call it back."""
    consent_purpose: Mapped[str] = mapped_column(String(64))
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    retry: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    frequency_caps: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    amd: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dispositions: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_abandon_rate: Mapped[float] = mapped_column(Float, default=MAX_ABANDON_RATE)
    abandon_message: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """``{"text", "callback_number"}``: played within 2 s to a person the dialer could not
    connect (required before a predictive campaign is activated)."""
    ring_seconds: Mapped[int] = mapped_column(Integer, default=25)
    lines: Mapped[int] = mapped_column(Integer, default=2)
    """Agentless: the most calls the campaign has in flight at once."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """The first activation (the 30-day abandonment window never reaches further back)."""
    pacing_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """How the dialer last paced the campaign (``predictive`` or ``progressive``): a change
    is an event."""
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ListEntry(TenantOwnedMixin, Base):
    """One contact of a campaign's static list, in the order given."""

    __tablename__ = "campaigns_list_entries"
    __table_args__ = (
        tenant_foreign_key("campaign_id", "campaigns_campaigns", ondelete="CASCADE"),
        Index("ix_campaigns_list_entries_contact", "tenant_id", "contact_id"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class CampaignSettingsRow(TenantOwnedMixin, TimestampMixin, Base):
    """One row per tenant: its calling-window rules (``compliance.window_rules.WindowRules``
    as JSON; stricter than the law, never looser). Missing row: the legal window only."""

    __tablename__ = "campaigns_settings"

    window_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ContactStatus(enum.StrEnum):
    PENDING = "pending"
    """Not dialled yet."""
    SCHEDULED = "scheduled"
    """Waiting for ``next_attempt_at`` (a retry, or a time rule that said later)."""
    DIALING = "dialing"
    """An attempt is live."""
    DONE = "done"
    """A person answered."""
    EXHAUSTED = "exhausted"
    """No retry left under the campaign's rules."""
    BLOCKED = "blocked"
    """A rule that time does not change refused the dial (do-not-call, no consent...)."""


DUE_STATUSES = (ContactStatus.PENDING.value, ContactStatus.SCHEDULED.value)
"""The contacts the dialer may still call."""


class CampaignContact(TenantOwnedMixin, Base):
    """A campaign's dialing state for one contact (written at activation, from the list or
    the segment as it is then)."""

    __tablename__ = "campaigns_contacts"
    __table_args__ = (
        tenant_foreign_key("campaign_id", "campaigns_campaigns", ondelete="CASCADE"),
        Index(
            "ix_campaigns_contacts_due",
            "tenant_id",
            "campaign_id",
            "status",
            "next_attempt_at",
            "position",
        ),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ContactStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts that dialled (or may have): blocked and not placed ones do not count."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    callback_agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """An agent-owned callback: at ``next_attempt_at``, only this agent gets the contact."""


class AttemptStatus(enum.StrEnum):
    BLOCKED = "blocked"
    """The check before the dial refused it (``rule`` says why); never dialled."""
    PREVIEWING = "previewing"
    """Preview mode: allowed, and shown to an agent (``agent_id``) who decides to call it,
    skip it or schedule a callback."""
    DIALING = "dialing"
    """Allowed and committed; the call is being placed."""
    PLACED = "placed"
    """The calls plugin has the call (``call_id``)."""
    ENDED = "ended"
    """The call ended (``outcome``)."""
    LOST = "lost"
    """A worker died between the decision and the call's id: retried as a failure."""
    NOT_PLACED = "not_placed"
    """The calls plugin's limits refused the call (429): retried shortly, not counted."""


LIVE_ATTEMPTS = (
    AttemptStatus.PREVIEWING.value,
    AttemptStatus.DIALING.value,
    AttemptStatus.PLACED.value,
)
"""An attempt that holds its contact: at most one per contact and campaign."""
_LIVE = text("status IN ('previewing', 'dialing', 'placed')")


class Outcome(enum.StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Preview mode: the agent skipped the contact (``note`` says why); not dialled."""
    CALLBACK = "callback"
    """Preview mode: the agent scheduled a callback of their own (the contact's
    ``next_attempt_at`` and ``callback_agent_id``); not dialled."""


class Attempt(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One decision to dial a contact, with the check's full record, and its call."""

    __tablename__ = "campaigns_attempts"
    __table_args__ = (
        tenant_foreign_key("campaign_id", "campaigns_campaigns", ondelete="CASCADE"),
        Index("ix_campaigns_attempts_campaign", "tenant_id", "campaign_id", "decided_at"),
        Index("ix_campaigns_attempts_contact", "tenant_id", "contact_id", "decided_at"),
        Index("ix_campaigns_attempts_call", "tenant_id", "call_id"),
        Index("ix_campaigns_attempts_answered", "tenant_id", "campaign_id", "answered_at"),
        Index("ix_campaigns_attempts_agent", "tenant_id", "agent_id", "decided_at"),
        Index(
            "uq_campaigns_attempts_live",
            "tenant_id",
            "campaign_id",
            "contact_id",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``DialCheck.as_record()``: every rule's record."""
    allowed: Mapped[bool] = mapped_column(Boolean)
    rule: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the called party picked up (the start of their greeting)."""
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The agent who took (or, in preview, started) the call."""
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the agent was connected to the answered party."""
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A person answered and no agent was connected within 2 seconds of their greeting."""
    safe_harbour_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When an abandoned call's safe-harbour message started."""
    amd_action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """What was done for an answering machine: ``hangup``, ``message`` or ``agent``."""
    disposition: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    """The disposition's note, or why a previewing agent skipped the contact."""
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disposed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The user who set the disposition."""


class SeatStatus(enum.StrEnum):
    JOINING = "joining"
    """The agent's leg is being placed or rings."""
    READY = "ready"
    """The agent waits in the seat's conference for the next answered call."""
    TALKING = "talking"
    """A called person is connected to the agent (``attempt_id``)."""
    WRAP_UP = "wrap_up"
    """After the call, until ``wrap_up_until`` (or the agent ends it)."""
    LEAVING = "leaving"
    """The agent (or a supervisor, or the campaign's end) asked to leave: the leg is hung up."""
    ENDED = "ended"


LIVE_SEATS = tuple(s.value for s in SeatStatus if s is not SeatStatus.ENDED)
_LIVE_SEAT = text("status <> 'ended'")


class Seat(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """An agent working a progressive or predictive campaign: their leg stays up in the
    seat's conference between calls, so a person who answers is joined to a waiting agent
    in the answer's own webhook turn, well within the 2 seconds the law allows."""

    __tablename__ = "campaigns_seats"
    __table_args__ = (
        tenant_foreign_key("campaign_id", "campaigns_campaigns", ondelete="CASCADE"),
        Index("ix_campaigns_seats_ready", "tenant_id", "campaign_id", "status", "ready_since"),
        Index("ix_campaigns_seats_call", "tenant_id", "call_id"),
        Index(
            "uq_campaigns_seats_live_agent",
            "tenant_id",
            "agent_id",
            unique=True,
            postgresql_where=_LIVE_SEAT,
            sqlite_where=_LIVE_SEAT,
        ),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16), default=SeatStatus.JOINING.value)
    call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The agent's leg."""
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The attempt whose person is (or was last) connected."""
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ready_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wrap_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    calls_taken: Mapped[int] = mapped_column(Integer, default=0)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)


MODELS: list[type] = [Campaign, ListEntry, CampaignSettingsRow, CampaignContact, Attempt, Seat]
