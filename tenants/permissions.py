"""Permissions of the tenant lifecycle: platform-scoped for operators, tenant-scoped for
the organization's own admins."""

from __future__ import annotations

from kernel import Permission

TENANTS_READ = Permission("tenants", "read", "List and view tenants.", scope="platform")
TENANTS_CREATE = Permission(
    "tenants", "create", "Create tenants with their owner.", scope="platform"
)
TENANTS_UPDATE = Permission("tenants", "update", "Suspend and resume tenants.", scope="platform")
TENANTS_DELETE = Permission(
    "tenants", "delete", "Delete a tenant and purge all its data.", scope="platform"
)
TENANT_READ = Permission(
    "tenant",
    "read",
    "See the organization's profile and settings.",
    ("admin", "supervisor", "agent", "integrator"),
)
TENANT_UPDATE = Permission("tenant", "update", "Change the organization's settings.", ("admin",))
PLUGINS_READ = Permission(
    "tenant.plugins", "read", "See which features are enabled.", ("admin", "supervisor")
)
PLUGINS_UPDATE = Permission(
    "tenant.plugins", "update", "Enable and disable features for the organization.", ("admin",)
)

PERMISSIONS = (
    TENANTS_READ,
    TENANTS_CREATE,
    TENANTS_UPDATE,
    TENANTS_DELETE,
    TENANT_READ,
    TENANT_UPDATE,
    PLUGINS_READ,
    PLUGINS_UPDATE,
)
