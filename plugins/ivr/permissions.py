"""Permissions of the IVR plugin (tenant-scoped)."""

from __future__ import annotations

from kernel import Permission

_STAFF = ("admin", "supervisor")

FLOWS_READ = Permission(
    "ivr.flows",
    "read",
    "See call flows, their versions, tests and results.",
    (*_STAFF, "integrator"),
)
FLOWS_WRITE = Permission(
    "ivr.flows",
    "write",
    "Create, edit and delete call flows and their tests; simulate and run tests.",
    ("admin", "integrator"),
)
FLOWS_PUBLISH = Permission(
    "ivr.flows", "publish", "Publish a flow's draft and roll back to earlier versions.", ("admin",)
)
SETTINGS_READ = Permission("ivr.settings", "read", "See the IVR settings.", _STAFF)
SETTINGS_WRITE = Permission(
    "ivr.settings", "write", "Change the IVR settings (tests required to publish).", ("admin",)
)

PERMISSIONS = (FLOWS_READ, FLOWS_WRITE, FLOWS_PUBLISH, SETTINGS_READ, SETTINGS_WRITE)
