"""Events the supervisor plugin publishes (catalogue in ``docs/events.md``).

Supervision events reach supervisors (``supervisor:monitor``); when the organization
announces supervision, the agent supervised is told through ``supervisor.session.announced``
(``agents:read``, every agent's page listens to it). Alerts reach whoever sees the dashboard.
"""

from __future__ import annotations

import uuid

from kernel import Event


class SessionEvent(Event):
    permission = "supervisor:monitor"
    aggregate = "session_id"

    session_id: uuid.UUID
    agent_id: uuid.UUID
    supervisor: str
    """Who supervises (the principal's subject)."""
    mode: str
    status: str


class SessionStarted(SessionEvent):
    name = "supervisor.session.started"
    description = (
        "A supervisor started supervising an agent's call in `mode` (monitor, whisper, "
        "barge): their phone rings (`status` connecting)."
    )

    call_id: uuid.UUID | None = None
    """The customer's call."""


class SessionConnected(SessionEvent):
    name = "supervisor.session.connected"
    description = "The supervisor answered and is in the agent's call (`status` active)."


class SessionModeChanged(SessionEvent):
    name = "supervisor.session.mode_changed"
    description = "The supervisor switched from `previous_mode` to `mode` in the same session."

    previous_mode: str


class SessionEnded(SessionEvent):
    name = "supervisor.session.ended"
    description = (
        "The supervision ended: `reason` supervisor (they ended it or hung up), "
        "call_ended (the agent's call is over), not_answered, failed."
    )

    reason: str
    seconds: float | None = None


class SessionAnnounced(Event):
    name = "supervisor.session.announced"
    description = (
        "The agent is told a supervisor joined, changed mode or left (`what`: joined, "
        "mode_changed, left), when the organization announces supervision."
    )
    permission = "agents:read"
    aggregate = "agent_id"

    agent_id: uuid.UUID
    session_id: uuid.UUID
    what: str
    mode: str


class AlertEvent(Event):
    permission = "dashboard:read"
    aggregate = "alert_id"

    alert_id: uuid.UUID
    rule_id: uuid.UUID
    kind: str
    severity: str
    subject_type: str
    subject_key: str
    subject_name: str
    value: float | None = None
    threshold: float | None = None
    message: str


class AlertRaised(AlertEvent):
    name = "supervisor.alert.raised"
    description = "A rule's condition became true for a subject (a queue, campaign, agent...)."


class AlertCleared(AlertEvent):
    name = "supervisor.alert.cleared"
    description = (
        "A raised alert's condition is no longer true (or its rule was disabled or deleted)."
    )


EVENT_TYPES: list[type[Event]] = [
    SessionStarted,
    SessionConnected,
    SessionModeChanged,
    SessionEnded,
    SessionAnnounced,
    AlertRaised,
    AlertCleared,
]
