"""Permissions of the campaigns plugin (tenant-scoped)."""

from __future__ import annotations

from kernel import Permission

CAMPAIGNS_READ = Permission(
    "campaigns",
    "read",
    "See campaigns, their settings, contacts and figures.",
    ("admin", "supervisor", "agent", "integrator"),
)
CAMPAIGNS_WRITE = Permission(
    "campaigns",
    "write",
    "Create, change and delete campaigns (what they dial, when and on what grounds).",
    ("admin",),
)
CAMPAIGNS_ACTIVATE = Permission(
    "campaigns",
    "activate",
    "Start, pause, resume, complete and archive campaigns.",
    ("admin", "supervisor"),
)
CAMPAIGNS_WORK = Permission(
    "campaigns",
    "work",
    "Work campaigns as an agent: preview contacts and call, skip or schedule them; take and "
    "leave a seat in a progressive or predictive campaign.",
    ("admin", "supervisor", "agent"),
)
PERMISSIONS = [CAMPAIGNS_READ, CAMPAIGNS_WRITE, CAMPAIGNS_ACTIVATE, CAMPAIGNS_WORK]
