"""tenants: the tenant lifecycle (provisioning, settings, plugin enablement, suspension, purge).

A core component, not a feature plugin (design section 1): it is registered in the
``kraliki.core`` entry-point group, so it is always loaded, mounts its routes at ``/api/v1``
(``/tenants`` for operators, ``/tenant`` for the tenant's admins, ``/auth/register`` for
self-service sign-up when it is on) and cannot be disabled. It
uses only the kernel's public API.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from fastapi import APIRouter

from kernel import MigrationSource, Permission, Platform, PluginInfo, __version__, hookimpl


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="tenants",
        version=__version__,
        description="Tenant lifecycle: provisioning, settings, plugin enablement, suspension, "
        "purge.",
    )


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from tenants.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from tenants.models import TenantSettings

    return [TenantSettings]


@hookimpl
def kraliki_migrations() -> MigrationSource:
    """The ``tenants`` branch (its revision ids, ``tenants_NNNN``, are those it always had)."""
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from tenants.signup import configure

    configure(platform)


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from tenants.api import operator_router, tenant_router
    from tenants.signup import router as signup_router

    return [operator_router, tenant_router, signup_router]


@hookimpl
def kraliki_cli(cli: click.Group) -> None:
    from tenants.cli import tenants

    cli.add_command(tenants)
