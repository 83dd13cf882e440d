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
PREVIEW_WORK = Permission(
    "campaigns.preview",
    "work",
    "Work preview campaigns as an agent: take the next contact, call it, skip it or schedule "
    "a callback.",
    ("admin", "supervisor", "agent"),
)
PERMISSIONS = [CAMPAIGNS_READ, CAMPAIGNS_WRITE, CAMPAIGNS_ACTIVATE, PREVIEW_WORK]
