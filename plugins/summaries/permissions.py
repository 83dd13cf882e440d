"""Permissions of the summaries plugin (tenant-scoped).

Reading a summary is reading what was said on a call, so it goes to those who read calls'
details; asking for one anew costs a model call (metered), so supervisors and admins do it."""

from __future__ import annotations

from kernel import Permission

SUMMARIES_READ = Permission(
    "summaries",
    "read",
    "See call summaries (summary, reason, outcome, suggested disposition, follow-ups) and "
    "their status.",
    ("admin", "supervisor", "agent", "integrator"),
)
SUMMARIES_WRITE = Permission(
    "summaries",
    "write",
    "Ask for a call's summary now (analyzeCall): summarise it anew with the tenant's model.",
    ("admin", "supervisor"),
)
PERMISSIONS = [SUMMARIES_READ, SUMMARIES_WRITE]
