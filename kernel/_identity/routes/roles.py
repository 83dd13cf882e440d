"""``/api/v1/roles`` and ``/api/v1/permissions``: built-in and custom roles."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from kernel._auth import require
from kernel._identity import grants
from kernel._identity.audit import record_audit_event
from kernel._identity.models import ApiKey, Role, User
from kernel._identity.permissions import ROLES_READ, ROLES_WRITE
from kernel._identity.rbac import PolicyWriter, TenantPolicy, api_key_subject, user_subject
from kernel._identity.routes.users import RoleName
from kernel._platform import Platform
from kernel._principal import Principal
from kernel._problems import CONFLICT, NOT_FOUND, ProblemError, define_problem
from kernel._types import BUILTIN_ROLES
from kernel.deps import PlatformDep, SessionDep

router = APIRouter(tags=["roles"])
Reader = Annotated[Principal, Depends(require(ROLES_READ.resource, ROLES_READ.action))]
Writer = Annotated[Principal, Depends(require(ROLES_WRITE.resource, ROLES_WRITE.action))]
RolePath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
PermissionKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,62}:[a-z][a-z0-9_.-]{0,62}$")]

UNKNOWN_PERMISSION = define_problem(
    "unknown-permission",
    "Unknown permission",
    422,
    "A permission named in the request is not declared by the kernel or any loaded plugin, "
    "or it is a platform permission that tenant roles cannot hold.",
)
BUILTIN_ROLE = define_problem(
    "builtin-role",
    "Built-in roles cannot change",
    409,
    "Built-in roles follow what plugins declare; create a custom role instead.",
)


class PermissionOut(BaseModel):
    key: str
    resource: str
    action: str
    description: str
    plugin: str
    default_roles: list[str]


class RoleOut(BaseModel):
    name: str
    description: str
    builtin: bool
    permissions: list[str]
    members: list[str] = Field(description="`user:<id>` and `key:<id>` subjects.")


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName
    description: str = Field(default="", max_length=500)
    permissions: list[PermissionKey] = Field(default_factory=list, max_length=500)


class Grant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    permission: PermissionKey


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Member:
        if (self.user_id is None) == (self.api_key_id is None):
            raise ValueError("give exactly one of user_id and api_key_id")
        return self


def _tenant_permissions(platform: Platform) -> set[str]:
    return {key for key, _, p in platform.permissions.items() if p.scope == "tenant"}


def _check_declared(platform: Platform, keys: list[str]) -> None:
    unknown = sorted(set(keys) - _tenant_permissions(platform))
    if unknown:
        raise ProblemError(
            UNKNOWN_PERMISSION, f"unknown permission: {', '.join(unknown)}", permissions=unknown
        )


async def _role_out(
    platform: Platform, policy: TenantPolicy, name: str, description: str
) -> RoleOut:
    return RoleOut(
        name=name,
        description=description,
        builtin=name in BUILTIN_ROLES,
        permissions=sorted(grants.role_permissions(platform, policy, name)),
        members=policy.members_of(name),
    )


BUILTIN_DESCRIPTIONS = {
    "owner": "Everything in the organization, including making other owners.",
    "admin": "Manages users, roles, API keys, settings and every feature.",
    "supervisor": "Oversees agents and queues.",
    "agent": "Handles calls and contacts.",
    "integrator": "Connects other systems through the API.",
}


async def _change_policy(
    session: SessionDep,
    principal: Principal,
    request: Request,
    action: str,
    role: str,
    change: Callable[[PolicyWriter], Awaitable[None]],
    **details: str | list[str],
) -> None:
    """Apply one change to the tenant's stored policy, audit it and commit both together."""
    assert principal.tenant_id is not None
    writer = PolicyWriter(session, principal.tenant_id)
    await change(writer)
    await writer.finish()
    record_audit_event(
        session,
        principal,
        action,
        request=request,
        target_type="role",
        target_id=role,
        details=details,
    )
    await session.commit()


async def _find_role(session: SessionDep, name: str) -> Role | None:
    return await session.scalar(select(Role).where(Role.name == name))


@router.get(
    "/permissions",
    response_model=list[PermissionOut],
    summary="Permissions that roles can hold (declared by the kernel and the plugins)",
)
async def list_permissions(_principal: Reader, platform: PlatformDep) -> list[PermissionOut]:
    return [
        PermissionOut(
            key=key,
            resource=permission.resource,
            action=permission.action,
            description=permission.description,
            plugin=plugin,
            default_roles=sorted({"owner", *permission.default_roles}),
        )
        for key, plugin, permission in platform.permissions.items()
        if permission.scope == "tenant"
    ]


@router.get("/roles", response_model=list[RoleOut], summary="List roles")
async def list_roles(
    principal: Reader, platform: PlatformDep, session: SessionDep
) -> list[RoleOut]:
    policy = await grants.caller_policy(platform, session, principal)
    out = [
        await _role_out(platform, policy, name, BUILTIN_DESCRIPTIONS[name])
        for name in BUILTIN_ROLES
    ]
    for role in await session.scalars(select(Role).order_by(Role.name)):
        out.append(await _role_out(platform, policy, role.name, role.description))
    return out


@router.post("/roles", response_model=RoleOut, status_code=201, summary="Create a custom role")
async def create_role(
    body: RoleCreate,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> RoleOut:
    assert principal.tenant_id is not None
    if body.name in BUILTIN_ROLES:
        raise ProblemError(CONFLICT, f"{body.name!r} is a built-in role")
    keys = sorted(set(body.permissions))
    _check_declared(platform, keys)
    grants.check_can_grant(principal, keys)
    session.add(Role(name=body.name, description=body.description))
    try:
        await session.flush()
    except IntegrityError:
        raise ProblemError(CONFLICT, f"a role named {body.name!r} already exists") from None
    writer = PolicyWriter(session, principal.tenant_id)
    await writer.grant(body.name, keys)
    await writer.finish()
    record_audit_event(
        session,
        principal,
        "role.created",
        request=request,
        target_type="role",
        target_id=body.name,
        details={"permissions": keys},
    )
    await session.commit()
    return await _role_out(
        platform,
        await grants.caller_policy(platform, session, principal),
        body.name,
        body.description,
    )


async def _existing(session: SessionDep, name: str) -> str:
    """The role's description; 404 when the tenant has no such role."""
    if name in BUILTIN_ROLES:
        return BUILTIN_DESCRIPTIONS[name]
    role = await _find_role(session, name)
    if role is None:
        raise ProblemError(NOT_FOUND, f"no role named {name!r}")
    return role.description


@router.get("/roles/{name}", response_model=RoleOut, summary="Get a role")
async def get_role(
    name: RolePath, principal: Reader, platform: PlatformDep, session: SessionDep
) -> RoleOut:
    description = await _existing(session, name)
    return await _role_out(
        platform, await grants.caller_policy(platform, session, principal), name, description
    )


@router.delete("/roles/{name}", status_code=204, summary="Delete a custom role")
async def delete_role(
    name: RolePath,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> Response:
    assert principal.tenant_id is not None
    if name in BUILTIN_ROLES:
        raise ProblemError(BUILTIN_ROLE)
    await _existing(session, name)
    policy = await grants.caller_policy(platform, session, principal)
    grants.check_can_hand_out(platform, policy, principal, [name])
    await session.execute(delete(Role).where(Role.name == name))
    await _change_policy(
        session, principal, request, "role.deleted", name, lambda w: w.delete_role(name)
    )
    return Response(status_code=204)


@router.post(
    "/roles/{name}/permissions",
    response_model=RoleOut,
    summary="Grant a permission to a custom role (only one you hold)",
)
async def grant_permission(
    name: RolePath,
    body: Grant,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> RoleOut:
    assert principal.tenant_id is not None
    if name in BUILTIN_ROLES:
        raise ProblemError(BUILTIN_ROLE)
    description = await _existing(session, name)
    _check_declared(platform, [body.permission])
    grants.check_can_grant(principal, [body.permission])
    policy = await grants.caller_policy(platform, session, principal)
    if body.permission not in policy.role_permissions(name):
        await _change_policy(
            session,
            principal,
            request,
            "role.permission_granted",
            name,
            lambda writer: writer.grant(name, [body.permission]),
            permission=body.permission,
        )
    return await _role_out(
        platform, await grants.caller_policy(platform, session, principal), name, description
    )


@router.delete(
    "/roles/{name}/permissions/{permission}",
    response_model=RoleOut,
    summary="Revoke a permission from a custom role",
)
async def revoke_permission(
    name: RolePath,
    permission: Annotated[str, Path(max_length=130)],
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> RoleOut:
    assert principal.tenant_id is not None
    if name in BUILTIN_ROLES:
        raise ProblemError(BUILTIN_ROLE)
    description = await _existing(session, name)
    policy = await grants.caller_policy(platform, session, principal)
    grants.check_can_hand_out(platform, policy, principal, [name])
    if permission in policy.role_permissions(name):
        await _change_policy(
            session,
            principal,
            request,
            "role.permission_revoked",
            name,
            lambda writer: writer.revoke(name, permission),
            permission=permission,
        )
    return await _role_out(
        platform, await grants.caller_policy(platform, session, principal), name, description
    )


async def _member_subject(session: SessionDep, member: Member) -> str:
    if member.user_id is not None:
        found = await session.scalar(select(User.id).where(User.id == member.user_id))
        if found is None:
            raise ProblemError(NOT_FOUND, "no such user")
        return user_subject(found)
    found = await session.scalar(
        select(ApiKey.id).where(ApiKey.id == member.api_key_id, ApiKey.revoked_at.is_(None))
    )
    if found is None:
        raise ProblemError(NOT_FOUND, "no such API key")
    return api_key_subject(found)


@router.post(
    "/roles/{name}/members",
    response_model=RoleOut,
    summary="Assign the role to a user or an API key",
)
async def assign_role(
    name: RolePath,
    body: Member,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> RoleOut:
    assert principal.tenant_id is not None
    description = await _existing(session, name)
    subject = await _member_subject(session, body)
    policy = await grants.caller_policy(platform, session, principal)
    grants.check_can_hand_out(platform, policy, principal, [name])
    if subject not in policy.members_of(name):
        await _change_policy(
            session,
            principal,
            request,
            "role.assigned",
            name,
            lambda writer: writer.assign(subject, name),
            member=subject,
        )
    return await _role_out(
        platform, await grants.caller_policy(platform, session, principal), name, description
    )


@router.delete(
    "/roles/{name}/members/{member_id}",
    response_model=RoleOut,
    summary="Take the role away from a user or an API key",
)
async def unassign_role(
    name: RolePath,
    member_id: uuid.UUID,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> RoleOut:
    assert principal.tenant_id is not None
    description = await _existing(session, name)
    policy = await grants.caller_policy(platform, session, principal)
    members = policy.members_of(name)
    subject = next(
        (s for s in (user_subject(member_id), api_key_subject(member_id)) if s in members), None
    )
    if subject is None:
        raise ProblemError(NOT_FOUND, f"that user or key does not have the role {name!r}")
    grants.check_can_hand_out(platform, policy, principal, [name])
    if name == "owner" and subject.startswith("user:"):
        await grants.check_owner_remains(session, principal.tenant_id, losing=member_id)
    await _change_policy(
        session,
        principal,
        request,
        "role.unassigned",
        name,
        lambda writer: writer.unassign(subject, name),
        member=subject,
    )
    return await _role_out(
        platform, await grants.caller_policy(platform, session, principal), name, description
    )
