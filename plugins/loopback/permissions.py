"""Permissions of the loopback plugin (tenant-scoped)."""

from __future__ import annotations

from kernel import Permission

INBOUND_CREATE = Permission(
    "loopback.inbound",
    "create",
    "Make the loopback carrier call one of the organization's loopback numbers as a scripted "
    "caller (demos and tests: the call runs where the number routes).",
    ("admin", "supervisor", "integrator"),
)

PERMISSIONS = (INBOUND_CREATE,)
