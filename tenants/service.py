"""Tenant lifecycle operations, shared by the operator API and the CLI.

Each takes the acting operator (a :class:`kernel.Principal` of kind ``operator``; the CLI
acts as ``cli``) so that every operator action lands in the operator audit log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    Platform,
    Principal,
    TenancyError,
    Tenant,
    TenantStatus,
    add_user,
    current_tenant_id,
    pseudonymize_operator_audit,
    record_audit_event,
    tenant_scope,
)
from tenants.models import TenantSettings

SIGNUP_ACTOR = Principal(subject="signup", kind="operator", label="self-service sign-up")
"""Who the operator audit log names for a tenant that signed itself up."""
ANONYMOUS_ACTORS = frozenset({SIGNUP_ACTOR.subject})
"""Operator audit log actors that stand for a tenant's people, not for an operator."""


class SlugTakenError(ValueError):
    """Another tenant already uses this slug."""


class TenantNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class CreatedTenant:
    tenant: Tenant
    owner_user_id: uuid.UUID


def cli_operator(who: str) -> Principal:
    """The actor recorded for commands typed on a server's shell."""
    return Principal(subject="cli", kind="operator", label=f"cli ({who})")


async def provision(
    session: AsyncSession,
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str,
    owner_name: str = "",
) -> tuple[Tenant, uuid.UUID]:
    """Add the tenant, its settings and its owner to ``session`` and flush; the caller adds
    its audit records and commits, so all of it stands or falls together.

    Call it in the new tenant's scope (``tenant_scope(tenant_id)``; the id is the tenant's),
    with a session that has not begun yet: the tenant row is platform data, the owner lives
    in the tenant's scope where row-level security applies, and one transaction holds both.
    Raises :class:`SlugTakenError` (the session must then be rolled back).
    """
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenancyError("provisioning a tenant needs its scope: tenant_scope(new id)")
    tenant = Tenant(id=tenant_id, slug=slug, name=name)
    session.add(tenant)
    try:
        await session.flush()
    except IntegrityError:
        raise SlugTakenError(f"the slug {slug!r} is taken") from None
    session.add(TenantSettings())
    owner = await add_user(
        session,
        email=owner_email,
        password=owner_password,
        roles=["owner"],
        display_name=owner_name,
    )
    return tenant, owner


async def create_tenant(
    platform: Platform,
    operator: Principal,
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str,
    request: Request | None = None,
) -> CreatedTenant:
    """Create the tenant, its settings and its owner in one transaction, then let plugins
    seed their defaults."""
    with tenant_scope(uuid.uuid4()):
        async with platform.database.session() as session:
            tenant, owner = await provision(
                session,
                name=name,
                slug=slug,
                owner_email=owner_email,
                owner_password=owner_password,
            )
            record_audit_event(
                session,
                operator,
                "tenant.created",
                request=request,
                target_type="tenant",
                target_id=tenant.id,
                tenant_id=tenant.id,
                details={"slug": slug, "name": name, "owner_email": owner_email.strip().lower()},
            )
            await session.commit()
    await platform.hooks.tenant_created(platform, tenant.id)
    return CreatedTenant(tenant, owner)


async def get_tenant(platform: Platform, tenant_ref: str) -> Tenant:
    """A tenant by id or slug."""
    async with platform.database.session() as session:
        try:
            condition = Tenant.id == uuid.UUID(tenant_ref)
        except ValueError:
            condition = Tenant.slug == tenant_ref
        tenant = await session.scalar(select(Tenant).where(condition))
    if tenant is None:
        raise TenantNotFoundError(f"no tenant {tenant_ref!r}")
    return tenant


async def set_status(
    platform: Platform,
    operator: Principal,
    tenant_id: uuid.UUID,
    status: TenantStatus,
    *,
    request: Request | None = None,
) -> Tenant:
    """Suspend or resume: takes effect on the tenant's very next request."""
    async with platform.database.session() as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise TenantNotFoundError(str(tenant_id))
        if tenant.status != status.value:
            tenant.status = status.value
            record_audit_event(
                session,
                operator,
                "tenant.suspended" if status is TenantStatus.SUSPENDED else "tenant.resumed",
                request=request,
                target_type="tenant",
                target_id=tenant.id,
                tenant_id=tenant.id,
            )
            await session.commit()
        return tenant


async def delete_tenant(
    platform: Platform,
    operator: Principal,
    tenant_id: uuid.UUID,
    *,
    request: Request | None = None,
) -> None:
    """Purge the tenant: plugins release what they hold outside the database, the operator
    audit log forgets the tenant's people, then the tenant row goes and every tenant-owned
    row with it (foreign keys cascade)."""
    tenant = await get_tenant(platform, str(tenant_id))
    await platform.hooks.tenant_deleted(platform, tenant.id)
    with tenant_scope(tenant.id):
        async with platform.database.session() as session:
            # The operator audit log outlives the tenant: its records about the tenant keep
            # no e-mail, name or address of the tenant's people (docs/security/tenancy.md).
            await pseudonymize_operator_audit(session, anonymous_actors=ANONYMOUS_ACTORS)
            await session.execute(delete(Tenant).where(Tenant.id == tenant.id))
            record_audit_event(
                session,
                operator,
                "tenant.deleted",
                request=request,
                target_type="tenant",
                target_id=tenant.id,
                tenant_id=tenant.id,
                details={"slug": tenant.slug, "name": tenant.name},
            )
            await session.commit()
