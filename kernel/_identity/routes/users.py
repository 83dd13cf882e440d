"""``/api/v1/users``: the organization's people, for its admins."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select

from kernel._auth import require
from kernel._identity import grants, provisioning, sessions
from kernel._identity.audit import record_audit_event
from kernel._identity.models import User
from kernel._identity.permissions import USERS_READ, USERS_WRITE
from kernel._identity.rbac import PolicyWriter, TenantPolicy, user_subject
from kernel._identity.routes.auth import PASSWORD_MIN
from kernel._identity.tokens import new_opaque
from kernel._models import utcnow
from kernel._pagination import CursorPage, PageParamsDep, paginate
from kernel._passwords import hash_password_off_loop
from kernel._platform import Platform
from kernel._principal import Principal
from kernel._problems import CONFLICT, NOT_FOUND, ProblemError
from kernel.deps import PlatformDep, SessionDep

router = APIRouter(prefix="/users", tags=["users"])
Reader = Annotated[Principal, Depends(require(USERS_READ.resource, USERS_READ.action))]
Writer = Annotated[Principal, Depends(require(USERS_WRITE.resource, USERS_WRITE.action))]
INVITATION_DAYS = 7
RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    is_active: bool
    invitation_pending: bool
    roles: list[str]
    created_at: datetime
    last_login_at: datetime | None


class UserCreated(UserOut):
    invitation_token: str | None = Field(
        default=None,
        description="Shown once when no password was given: hand it to the person, who sets "
        "a password with POST /api/v1/auth/invitations/accept.",
    )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    display_name: str = Field(default="", max_length=200)
    password: str | None = Field(
        default=None,
        min_length=PASSWORD_MIN,
        max_length=1024,
        description="Omit to invite: the answer then carries a one-time invitation token.",
    )
    roles: list[RoleName] = Field(default_factory=lambda: ["agent"], max_length=20)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=PASSWORD_MIN, max_length=1024)


class RolesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[RoleName] = Field(max_length=20)


def _out(user: User, policy: TenantPolicy) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        is_active=user.is_active,
        invitation_pending=user.invitation_hash is not None,
        roles=policy.roles_of(user_subject(user.id)),
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


async def _get_user(session: SessionDep, user_id: uuid.UUID) -> User:
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise ProblemError(NOT_FOUND, "no such user")
    return user


@router.get("", response_model=CursorPage[UserOut], summary="List users")
async def list_users(
    principal: Reader,
    platform: PlatformDep,
    session: SessionDep,
    page: PageParamsDep,
    email: Annotated[str | None, Query(max_length=320, description="Exact e-mail.")] = None,
    active: Annotated[bool | None, Query(description="Only active or inactive users.")] = None,
) -> CursorPage[UserOut]:
    statement = select(User)
    if email is not None:
        statement = statement.where(User.email == email.strip().lower())
    if active is not None:
        statement = statement.where(User.is_active.is_(active))
    rows, cursor = await paginate(
        session, statement, order_by=[User.created_at, User.id], params=page
    )
    policy = await grants.caller_policy(platform, session, principal)
    return CursorPage(items=[_out(user, policy) for user in rows], next_cursor=cursor)


@router.post("", response_model=UserCreated, status_code=201, summary="Create or invite a user")
async def create_user(
    body: UserCreate,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> UserCreated:
    roles = sorted(set(body.roles))
    await grants.check_roles_exist(session, roles)
    policy = await grants.caller_policy(platform, session, principal)
    grants.check_can_hand_out(platform, policy, principal, roles)
    try:
        user = await provisioning.create_user(
            session,
            email=str(body.email),
            password=body.password,
            roles=roles,
            display_name=body.display_name,
        )
    except provisioning.UserExistsError:
        raise ProblemError(CONFLICT, "a user with this e-mail already exists") from None
    invitation = None
    if body.password is None:
        invitation = new_opaque("kiv", user.tenant_id)
        user.invitation_hash = invitation.hash
        user.invitation_expires_at = utcnow() + timedelta(days=INVITATION_DAYS)
    record_audit_event(
        session,
        principal,
        "user.invited" if invitation else "user.created",
        request=request,
        target_type="user",
        target_id=user.id,
        details={"email": user.email, "roles": roles},
    )
    await session.commit()
    policy = await grants.caller_policy(platform, session, principal)
    return UserCreated(
        **_out(user, policy).model_dump(),
        invitation_token=invitation.value if invitation else None,
    )


@router.get("/{user_id}", response_model=UserOut, summary="Get a user")
async def get_user(
    user_id: uuid.UUID, principal: Reader, platform: PlatformDep, session: SessionDep
) -> UserOut:
    user = await _get_user(session, user_id)
    return _out(user, await grants.caller_policy(platform, session, principal))


@router.patch("/{user_id}", response_model=UserOut, summary="Update a user's name or password")
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> UserOut:
    user = await _get_user(session, user_id)
    changed = sorted(body.model_fields_set)
    if body.display_name is not None:
        user.display_name = body.display_name
    if body.password is not None:
        # Resetting someone's password is an owner-level act if they hold more than you.
        policy = await grants.caller_policy(platform, session, principal)
        grants.check_can_hand_out(
            platform, policy, principal, policy.roles_of(user_subject(user.id))
        )
        user.password_hash = await hash_password_off_loop(body.password)
        user.invitation_hash = None
        await sessions.revoke_all_for(session, user.id, "password_reset")
    record_audit_event(
        session,
        principal,
        "user.updated",
        request=request,
        target_type="user",
        target_id=user.id,
        details={"fields": changed},
    )
    await session.commit()
    return _out(user, await grants.caller_policy(platform, session, principal))


async def _set_active(
    user_id: uuid.UUID,
    active: bool,
    request: Request,
    principal: Principal,
    platform: Platform,
    session: SessionDep,
) -> UserOut:
    user = await _get_user(session, user_id)
    policy = await grants.caller_policy(platform, session, principal)
    if user.is_active != active:
        grants.check_can_hand_out(
            platform, policy, principal, policy.roles_of(user_subject(user.id))
        )
        if not active:
            await grants.check_owner_remains(session, user.tenant_id, losing=user.id)
            await sessions.revoke_all_for(session, user.id, "deactivated")
        user.is_active = active
        record_audit_event(
            session,
            principal,
            "user.reactivated" if active else "user.deactivated",
            request=request,
            target_type="user",
            target_id=user.id,
        )
        await session.commit()
    return _out(user, policy)


@router.post(
    "/{user_id}/deactivate",
    response_model=UserOut,
    summary="Deactivate a user (their sessions end at once)",
)
async def deactivate_user(
    user_id: uuid.UUID,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> UserOut:
    return await _set_active(user_id, False, request, principal, platform, session)


@router.post("/{user_id}/reactivate", response_model=UserOut, summary="Reactivate a user")
async def reactivate_user(
    user_id: uuid.UUID,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> UserOut:
    return await _set_active(user_id, True, request, principal, platform, session)


@router.put("/{user_id}/roles", response_model=UserOut, summary="Set a user's roles")
async def set_user_roles(
    user_id: uuid.UUID,
    body: RolesUpdate,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> UserOut:
    user = await _get_user(session, user_id)
    wanted = set(body.roles)
    await grants.check_roles_exist(session, wanted)
    policy = await grants.caller_policy(platform, session, principal)
    subject = user_subject(user.id)
    current = set(policy.roles_of(subject))
    added, removed = sorted(wanted - current), sorted(current - wanted)
    grants.check_can_hand_out(platform, policy, principal, added + removed)
    if "owner" in removed:
        await grants.check_owner_remains(session, user.tenant_id, losing=user.id)
    writer = PolicyWriter(session, user.tenant_id)
    for role in added:
        await writer.assign(subject, role)
    for role in removed:
        await writer.unassign(subject, role)
    await writer.finish()
    if added or removed:
        record_audit_event(
            session,
            principal,
            "user.roles_changed",
            request=request,
            target_type="user",
            target_id=user.id,
            details={"added": added, "removed": removed},
        )
    await session.commit()
    return _out(user, await grants.caller_policy(platform, session, principal))
