"""Routes: ``/api/v1/tenants`` (platform operators) and ``/api/v1/tenant`` (the tenant's admins)."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlalchemy import select

from kernel import (
    PASSWORD_MIN_LENGTH,
    CursorPage,
    PageParamsDep,
    Permission,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    Tenant,
    TenantStatus,
    define_problem,
    paginate,
    record_audit_event,
    require,
)
from tenants import permissions as perms
from tenants import service
from tenants.enablement import PluginState, plugin_states, set_plugin_enabled
from tenants.models import TenantSettings

operator_router = APIRouter(prefix="/tenants")
tenant_router = APIRouter(prefix="/tenant")

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
TENANT_NOT_FOUND = define_problem(
    "tenant-not-found", "Tenant not found", 404, "No tenant has this id."
)
SLUG_TAKEN = define_problem(
    "slug-taken", "Slug taken", 409, "Another tenant already uses this slug."
)
CONFIRMATION_REQUIRED = define_problem(
    "confirmation-required",
    "Confirmation required",
    409,
    "Deleting a tenant purges all its data: repeat its slug in the `confirm` parameter.",
)


def _permission(permission: Permission) -> Any:
    return Depends(require(permission.resource, permission.action))


OperatorReads = Annotated[Principal, _permission(perms.TENANTS_READ)]
OperatorCreates = Annotated[Principal, _permission(perms.TENANTS_CREATE)]
OperatorUpdates = Annotated[Principal, _permission(perms.TENANTS_UPDATE)]
OperatorDeletes = Annotated[Principal, _permission(perms.TENANTS_DELETE)]
TenantReads = Annotated[Principal, _permission(perms.TENANT_READ)]
TenantUpdates = Annotated[Principal, _permission(perms.TENANT_UPDATE)]
PluginsRead = Annotated[Principal, _permission(perms.PLUGINS_READ)]
PluginsUpdate = Annotated[Principal, _permission(perms.PLUGINS_UPDATE)]


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    status: str
    disabled_plugins: list[str]
    created_at: datetime


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=SLUG_PATTERN)
    owner_email: EmailStr
    owner_password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=1024)


class TenantCreated(TenantOut):
    owner_user_id: uuid.UUID


def _out(tenant: Tenant) -> TenantOut:
    return TenantOut(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        status=tenant.status,
        disabled_plugins=list(tenant.disabled_plugins or []),
        created_at=tenant.created_at,
    )


@operator_router.get("", response_model=CursorPage[TenantOut], summary="List tenants")
async def list_tenants(
    _operator: OperatorReads,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[Literal["active", "suspended"] | None, Query()] = None,
) -> CursorPage[TenantOut]:
    statement = select(Tenant)
    if status is not None:
        statement = statement.where(Tenant.status == status)
    rows, cursor = await paginate(
        session, statement, order_by=[Tenant.created_at, Tenant.id], params=page
    )
    return CursorPage(items=[_out(t) for t in rows], next_cursor=cursor)


@operator_router.post(
    "", response_model=TenantCreated, status_code=201, summary="Create a tenant and its owner"
)
async def create_tenant(
    body: TenantCreate, request: Request, operator: OperatorCreates, platform: PlatformDep
) -> TenantCreated:
    try:
        created = await service.create_tenant(
            platform,
            operator,
            name=body.name,
            slug=body.slug,
            owner_email=str(body.owner_email),
            owner_password=body.owner_password,
            request=request,
        )
    except service.SlugTakenError:
        raise ProblemError(SLUG_TAKEN, f"the slug {body.slug!r} is taken") from None
    return TenantCreated(**_out(created.tenant).model_dump(), owner_user_id=created.owner_user_id)


async def _tenant(platform: PlatformDep, tenant_id: uuid.UUID) -> Tenant:
    try:
        return await service.get_tenant(platform, str(tenant_id))
    except service.TenantNotFoundError:
        raise ProblemError(TENANT_NOT_FOUND) from None


@operator_router.get("/{tenant_id}", response_model=TenantOut, summary="Get a tenant")
async def get_tenant(
    tenant_id: uuid.UUID, _operator: OperatorReads, platform: PlatformDep
) -> TenantOut:
    return _out(await _tenant(platform, tenant_id))


@operator_router.post(
    "/{tenant_id}/suspend",
    response_model=TenantOut,
    summary="Suspend a tenant (its tokens and API keys are refused at once)",
)
async def suspend_tenant(
    tenant_id: uuid.UUID, request: Request, operator: OperatorUpdates, platform: PlatformDep
) -> TenantOut:
    await _tenant(platform, tenant_id)
    tenant = await service.set_status(
        platform, operator, tenant_id, TenantStatus.SUSPENDED, request=request
    )
    return _out(tenant)


@operator_router.post("/{tenant_id}/resume", response_model=TenantOut, summary="Resume a tenant")
async def resume_tenant(
    tenant_id: uuid.UUID, request: Request, operator: OperatorUpdates, platform: PlatformDep
) -> TenantOut:
    await _tenant(platform, tenant_id)
    tenant = await service.set_status(
        platform, operator, tenant_id, TenantStatus.ACTIVE, request=request
    )
    return _out(tenant)


@operator_router.delete(
    "/{tenant_id}",
    status_code=204,
    summary="Delete a tenant and purge every row it owns (repeat its slug in `confirm`)",
)
async def delete_tenant(
    tenant_id: uuid.UUID,
    request: Request,
    operator: OperatorDeletes,
    platform: PlatformDep,
    confirm: Annotated[str | None, Query(max_length=63, description="The tenant's slug.")] = None,
) -> Response:
    tenant = await _tenant(platform, tenant_id)
    if confirm != tenant.slug:
        raise ProblemError(CONFIRMATION_REQUIRED)
    await service.delete_tenant(platform, operator, tenant.id, request=request)
    return Response(status_code=204)


# --- the tenant's own admins -------------------------------------------------------------


class TenantProfile(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    status: str
    timezone: str
    locale: str
    default_country: str


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone.")
    locale: str | None = Field(
        default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 tag."
    )
    default_country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in zoneinfo.available_timezones():
            raise ValueError("unknown IANA time zone")
        return value


async def _settings(session: SessionDep) -> TenantSettings:
    settings = await session.scalar(select(TenantSettings))
    if settings is None:  # tenants created before the settings table existed
        settings = TenantSettings()
        session.add(settings)
        await session.flush()
    return settings


def _profile(tenant: Tenant, settings: TenantSettings) -> TenantProfile:
    return TenantProfile(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        status=tenant.status,
        timezone=settings.timezone,
        locale=settings.locale,
        default_country=settings.default_country,
    )


async def _own_tenant(session: SessionDep, principal: Principal) -> Tenant:
    tenant = await session.get(Tenant, principal.tenant_id)
    assert tenant is not None  # the credential check just read it
    return tenant


@tenant_router.get("", response_model=TenantProfile, summary="Your organization and its settings")
async def get_own_tenant(principal: TenantReads, session: SessionDep) -> TenantProfile:
    tenant = await _own_tenant(session, principal)
    return _profile(tenant, await _settings(session))


@tenant_router.patch(
    "", response_model=TenantProfile, summary="Change your organization's settings"
)
async def update_own_tenant(
    body: TenantUpdate, request: Request, principal: TenantUpdates, session: SessionDep
) -> TenantProfile:
    tenant = await _own_tenant(session, principal)
    settings = await _settings(session)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes:
        tenant.name = changes.pop("name")
    for field, value in changes.items():
        setattr(settings, field, value)
    record_audit_event(
        session,
        principal,
        "tenant.settings_changed",
        request=request,
        target_type="tenant",
        target_id=tenant.id,
        details={"fields": sorted(body.model_dump(exclude_unset=True, exclude_none=True))},
    )
    await session.commit()
    return _profile(tenant, settings)


@tenant_router.get(
    "/plugins", response_model=list[PluginState], summary="Features and whether they are enabled"
)
async def list_plugins(
    principal: PluginsRead, session: SessionDep, platform: PlatformDep
) -> list[PluginState]:
    tenant = await _own_tenant(session, principal)
    return plugin_states(platform, set(tenant.disabled_plugins or []))


class PluginToggle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


@tenant_router.put(
    "/plugins/{name}",
    response_model=PluginState,
    summary="Enable or disable a feature for your organization",
)
async def toggle_plugin(
    name: Annotated[str, Path(max_length=63)],
    body: PluginToggle,
    request: Request,
    principal: PluginsUpdate,
    session: SessionDep,
    platform: PlatformDep,
) -> PluginState:
    tenant = await _own_tenant(session, principal)
    state = set_plugin_enabled(platform, tenant, name, body.enabled)
    record_audit_event(
        session,
        principal,
        "tenant.plugin_enabled" if body.enabled else "tenant.plugin_disabled",
        request=request,
        target_type="plugin",
        target_id=name,
    )
    await session.commit()
    return state
