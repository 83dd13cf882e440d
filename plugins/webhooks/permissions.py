"""Permissions of the webhooks plugin (tenant-scoped)."""

from __future__ import annotations

from kernel import Permission

ENDPOINTS_READ = Permission(
    "webhooks.endpoints",
    "read",
    "See the organization's webhook endpoints (never their secrets).",
    ("admin", "integrator"),
)
ENDPOINTS_WRITE = Permission(
    "webhooks.endpoints",
    "write",
    "Create, change, delete, test and re-enable webhook endpoints; rotate their secrets.",
    ("admin", "integrator"),
)
DELIVERIES_READ = Permission(
    "webhooks.deliveries",
    "read",
    "See webhook deliveries and their attempts.",
    ("admin", "integrator"),
)
DELIVERIES_REPLAY = Permission(
    "webhooks.deliveries",
    "replay",
    "Send webhook deliveries again (one, or in bulk).",
    ("admin", "integrator"),
)

PERMISSIONS = (ENDPOINTS_READ, ENDPOINTS_WRITE, DELIVERIES_READ, DELIVERIES_REPLAY)
