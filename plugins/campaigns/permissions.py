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
CAMPAIGNS_REPORTS_READ = Permission(
    "campaigns.reports",
    "read",
    "See a campaign's figures per hour and day and its compliance report (every dial with "
    "the rules' decisions and the numbers dialled, every abandoned call).",
    ("admin", "supervisor"),
)
CAMPAIGNS_DISPOSITIONS_WRITE = Permission(
    "campaigns.dispositions",
    "write",
    "Record what a campaign's answered call came to (its disposition): your own calls.",
    ("admin", "supervisor", "agent"),
)
CAMPAIGNS_DISPOSITIONS_ALL = Permission(
    "campaigns.dispositions",
    "all",
    "Record or correct the disposition of any of a campaign's calls, not only your own.",
    ("admin", "supervisor"),
)
PERMISSIONS = [
    CAMPAIGNS_READ,
    CAMPAIGNS_WRITE,
    CAMPAIGNS_ACTIVATE,
    CAMPAIGNS_WORK,
    CAMPAIGNS_REPORTS_READ,
    CAMPAIGNS_DISPOSITIONS_WRITE,
    CAMPAIGNS_DISPOSITIONS_ALL,
]
