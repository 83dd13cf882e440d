"""Permissions the kernel itself declares (registered before any plugin's)."""

from __future__ import annotations

from kernel._realtime.permissions import REALTIME_PERMISSIONS
from kernel._types import Permission
from kernel._vault.permissions import VAULT_PERMISSIONS

EVERY_ROLE = ("admin", "supervisor", "agent", "integrator")
MANAGERS = ("admin",)

PROFILE_READ = Permission(
    "profile", "read", "See your own account, roles and permissions.", EVERY_ROLE
)
USERS_READ = Permission(
    "users", "read", "List and view the organization's users.", ("admin", "supervisor")
)
USERS_WRITE = Permission(
    "users", "write", "Invite, create, update and deactivate users, and set their roles.", MANAGERS
)
ROLES_READ = Permission("roles", "read", "List roles, their permissions and members.", MANAGERS)
ROLES_WRITE = Permission(
    "roles", "write", "Create and delete custom roles, grant and revoke permissions.", MANAGERS
)
API_KEYS_READ = Permission("api_keys", "read", "List the organization's API keys.", MANAGERS)
API_KEYS_WRITE = Permission("api_keys", "write", "Create and revoke API keys.", MANAGERS)
AUDIT_READ = Permission("audit", "read", "Read the organization's security audit log.", MANAGERS)
OWNERSHIP = Permission(
    "tenant.ownership",
    "manage",
    "Make users owners (only owners hold it, so admins cannot promote themselves).",
)
OPERATOR_AUDIT_READ = Permission(
    "platform.audit", "read", "Read the platform operators' audit log.", scope="platform"
)
BREAKERS_READ = Permission(
    "resilience.breakers",
    "read",
    "See the organization's circuit breakers for outside services.",
    MANAGERS,
)
BREAKERS_MANAGE = Permission(
    "resilience.breakers",
    "manage",
    "Reset, force open and force close the organization's circuit breakers.",
    MANAGERS,
)
PLATFORM_BREAKERS_READ = Permission(
    "platform.resilience.breakers",
    "read",
    "See every tenant's circuit breakers and the platform's own.",
    scope="platform",
)
PLATFORM_BREAKERS_MANAGE = Permission(
    "platform.resilience.breakers",
    "manage",
    "Reset, force open and force close any circuit breaker.",
    scope="platform",
)
METRICS_READ = Permission(
    "platform.metrics", "read", "Scrape the Prometheus metrics at /metrics.", scope="platform"
)

KERNEL_PERMISSIONS: tuple[Permission, ...] = (
    PROFILE_READ,
    USERS_READ,
    USERS_WRITE,
    ROLES_READ,
    ROLES_WRITE,
    API_KEYS_READ,
    API_KEYS_WRITE,
    AUDIT_READ,
    OWNERSHIP,
    OPERATOR_AUDIT_READ,
    BREAKERS_READ,
    BREAKERS_MANAGE,
    PLATFORM_BREAKERS_READ,
    PLATFORM_BREAKERS_MANAGE,
    *VAULT_PERMISSIONS,
    *REALTIME_PERMISSIONS,
    METRICS_READ,
)
