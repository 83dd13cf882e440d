"""The supervisor plugin's tables: supervision sessions, the organization's supervision
settings, alert rules and the alerts they raised.

Tenant-owned. A session is the supervisor's leg on one agent conversation, from the moment
the supervisor's phone is rung to the moment they leave; its row is the record of who
listened to whom, how and for how long (the audit log holds each change as well).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Uuid, text
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


class SupervisionMode(enum.StrEnum):
    """How the supervisor takes part (the provider's supervisor role)."""

    MONITOR = "monitor"
    """Hears everyone; nobody hears them."""
    WHISPER = "whisper"
    """Hears everyone; only the agent hears them (coaching)."""
    BARGE = "barge"
    """Hears and is heard by everyone."""


class SessionStatus(enum.StrEnum):
    CONNECTING = "connecting"
    """The supervisor's phone rings."""
    ACTIVE = "active"
    """The supervisor is in the conversation."""
    ENDED = "ended"


LIVE_SESSIONS = (SessionStatus.CONNECTING.value, SessionStatus.ACTIVE.value)
_LIVE = text("status <> 'ended'")


class SupervisionSession(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A supervisor on an agent's conversation."""

    __tablename__ = "supervisor_sessions"
    __table_args__ = (
        Index("ix_supervisor_sessions_started", "tenant_id", "started_at"),
        Index("ix_supervisor_sessions_call", "tenant_id", "supervisor_call_id"),
        Index("ix_supervisor_sessions_agent", "tenant_id", "agent_id", "status"),
        Index(
            "uq_supervisor_sessions_live_user",
            "tenant_id",
            "supervisor_user_id",
            unique=True,
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    """The agent supervised (no foreign key: the record outlives the agent's profile)."""
    supervisor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """Who supervises (None: an API key)."""
    supervisor: Mapped[str] = mapped_column(String(255))
    """The principal's subject, as the audit log names them."""
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.CONNECTING.value)
    provider: Mapped[str] = mapped_column(String(32))
    conference: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))
    """The plugin whose conversation it is (``queues``, ``campaigns``)."""
    agent_call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    """The agent's leg (the one a whisper reaches)."""
    customer_call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    supervisor_call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    reach: Mapped[str] = mapped_column(String(256))
    """Where the supervisor was rung (number, SIP URI, loopback address)."""
    announced: Mapped[bool] = mapped_column(Boolean, default=False)
    """The agent was told (organization setting)."""
    mode_changes: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SupervisorSettingsRow(TenantOwnedMixin, TimestampMixin, Base):
    """One row per tenant; missing: the defaults."""

    __tablename__ = "supervisor_settings"

    announce_to_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    """Tell the agent (an event and a notice on their page) when a supervisor joins, changes
    mode or leaves."""


class RuleKind(enum.StrEnum):
    """What an alert rule watches; ``threshold`` is in the kind's unit."""

    QUEUE_LONGEST_WAIT = "queue_longest_wait"
    """A queue's longest waiting call, seconds over the threshold."""
    QUEUE_SERVICE_LEVEL = "queue_service_level"
    """A queue's service level today, percent under the threshold."""
    CAMPAIGN_ABANDONMENT = "campaign_abandonment"
    """A campaign's 30-day abandonment rate, percent over the threshold."""
    AGENT_BREAK = "agent_break"
    """An agent away (on a break) longer than the threshold, minutes."""
    PROVIDER_BREAKER_OPEN = "provider_breaker_open"
    """A telephony or LLM provider's circuit breaker is open (no threshold)."""
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled"
    """An outbound webhook endpoint was disabled (no threshold)."""


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertRule(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """A tenant-defined condition on live figures, evaluated continuously."""

    __tablename__ = "supervisor_alert_rules"
    __table_args__ = (Index("ix_supervisor_alert_rules_kind", "tenant_id", "kind"),)

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """One queue, campaign or agent; None: all of them."""
    severity: Mapped[str] = mapped_column(String(16), default=Severity.WARNING.value)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AlertStatus(enum.StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


_RAISED = text("status = 'raised'")


class Alert(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One occurrence of a rule's condition on one subject: raised, later cleared (the
    history of alerts is these rows)."""

    __tablename__ = "supervisor_alerts"
    __table_args__ = (
        tenant_foreign_key("rule_id", "supervisor_alert_rules", ondelete="CASCADE"),
        Index("ix_supervisor_alerts_raised_at", "tenant_id", "raised_at"),
        Index(
            "uq_supervisor_alerts_live",
            "tenant_id",
            "rule_id",
            "subject_key",
            unique=True,
            postgresql_where=_RAISED,
            sqlite_where=_RAISED,
        ),
    )

    rule_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    subject_type: Mapped[str] = mapped_column(String(16))
    """``queue``, ``campaign``, ``agent``, ``provider`` or ``endpoint``."""
    subject_key: Mapped[str] = mapped_column(String(128))
    """The subject's id or name (a provider's name)."""
    subject_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.RAISED.value)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    """The figure when raised (last seen while raised)."""
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


MODELS: list[type] = [SupervisionSession, SupervisorSettingsRow, AlertRule, Alert]
