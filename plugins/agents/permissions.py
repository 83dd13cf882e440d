"""Permissions of the agents plugin (tenant-scoped).

Role gives the verbs; teams give the reach: a supervisor with ``agents:read`` sees the agents
of the teams they lead (and themselves), ``agents:all`` lifts that limit (owners, admins).
"""

from __future__ import annotations

from kernel import Permission

AGENTS_READ = Permission(
    "agents",
    "read",
    "See agent profiles, presence, state history and call history (of the teams you lead, "
    "or of everyone with agents:all).",
    ("admin", "supervisor", "agent", "integrator"),
)
AGENTS_WRITE = Permission(
    "agents",
    "write",
    "Create, change and delete agent profiles (of the teams you lead, or everyone's with "
    "agents:all).",
    ("admin", "supervisor"),
)
AGENTS_ALL = Permission(
    "agents",
    "all",
    "Reach every agent and team of the organization, not only the teams you lead.",
    ("admin", "integrator"),
)
STATE_WRITE = Permission(
    "agents.state",
    "write",
    "Change your own presence (available, away with a reason, offline), accept or decline "
    "an offered call, and finish your wrap-up.",
    ("admin", "supervisor", "agent"),
)
STATE_FORCE = Permission(
    "agents.state",
    "force",
    "Force another agent's presence (audited): agents of the teams you lead, or everyone's "
    "with agents:all.",
    ("admin", "supervisor"),
)
TEAMS_READ = Permission(
    "teams",
    "read",
    "See teams, their members and supervisors.",
    ("admin", "supervisor", "agent", "integrator"),
)
TEAMS_WRITE = Permission(
    "teams",
    "write",
    "Create, change and delete teams; choose their members and supervisors.",
    ("admin",),
)
SETTINGS_WRITE = Permission(
    "agents.settings",
    "write",
    "Define away reason codes and presence defaults (wrap-up time, offer timeout).",
    ("admin",),
)

PERMISSIONS = [
    AGENTS_READ,
    AGENTS_WRITE,
    AGENTS_ALL,
    STATE_WRITE,
    STATE_FORCE,
    TEAMS_READ,
    TEAMS_WRITE,
    SETTINGS_WRITE,
]
