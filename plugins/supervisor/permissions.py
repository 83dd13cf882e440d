"""Permissions of the supervisor plugin (tenant-scoped).

Supervising a call is split by what the supervisor can do to it: listening is the least
intrusive, whispering reaches the agent, barging reaches the customer. A supervisor may
supervise only agents of teams they lead (``agents:all``: everyone)."""

from __future__ import annotations

from kernel import Permission

SUPERVISOR_MONITOR = Permission(
    "supervisor",
    "monitor",
    "Listen to an agent's live call (nobody hears you), see supervision sessions, and end "
    "them: agents of the teams you lead, everyone's with agents:all.",
    ("admin", "supervisor"),
)
SUPERVISOR_WHISPER = Permission(
    "supervisor",
    "whisper",
    "Coach an agent during a live call: only the agent hears you.",
    ("admin", "supervisor"),
)
SUPERVISOR_BARGE = Permission(
    "supervisor",
    "barge",
    "Join an agent's live call: the agent and the customer hear you; end the call.",
    ("admin", "supervisor"),
)
SUPERVISOR_SETTINGS_WRITE = Permission(
    "supervisor.settings",
    "write",
    "Change how supervision works in the organization (whether the agent is told).",
    ("admin",),
)
DASHBOARD_READ = Permission(
    "dashboard",
    "read",
    "See the dashboard (the day's and a range's figures, recent activity), the wallboard, "
    "alerts and their history.",
    ("admin", "supervisor"),
)
ALERTS_WRITE = Permission(
    "alerts",
    "write",
    "Define, change and delete alert rules on live figures.",
    ("admin", "supervisor"),
)
PERMISSIONS = [
    SUPERVISOR_MONITOR,
    SUPERVISOR_WHISPER,
    SUPERVISOR_BARGE,
    SUPERVISOR_SETTINGS_WRITE,
    DASHBOARD_READ,
    ALERTS_WRITE,
]
