"""``/api/v1/auth``: log in, rotate, log out, who am I, accept an invitation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from kernel._auth import public, require
from kernel._identity import sessions
from kernel._identity.audit import record_audit_event, source_address
from kernel._identity.authn import TENANT_SUSPENDED
from kernel._identity.grants import caller_policy
from kernel._identity.logins import TokenPair, issue_token_pair, open_login_session
from kernel._identity.models import User
from kernel._identity.permissions import PROFILE_READ
from kernel._identity.rbac import api_key_subject, user_subject
from kernel._identity.tokens import (
    REFRESH_PREFIX,
    InvalidToken,
    OpaqueToken,
    digest,
    parse_opaque,
)
from kernel._models import utcnow
from kernel._operators import PlatformOperator
from kernel._passwords import hash_password, hash_password_off_loop, verify_password_off_loop
from kernel._platform import Platform
from kernel._principal import Principal
from kernel._problems import (
    RATE_LIMITED,
    UNAUTHENTICATED,
    ProblemError,
    define_problem,
    problem_responses,
)
from kernel._tenancy import Tenant, TenantStatus, tenant_scope
from kernel.deps import PlatformDep, SessionDep

router = APIRouter(prefix="/auth", tags=["auth"])

INVALID_CREDENTIALS = define_problem(
    "invalid-credentials",
    "Invalid credentials",
    401,
    "The organization, e-mail or password is wrong, or the account is inactive. The answer "
    "does not say which, so that accounts cannot be discovered.",
)
# Verified against when no account matches, so a miss costs as much time as a hit.
_DUMMY_HASH = hash_password("kraliki-timing-equalizer")
PASSWORD_MIN = 12


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(
        default=None, max_length=63, description="Organization slug; omit for operators."
    )
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class AcceptInvitation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=PASSWORD_MIN, max_length=1024)


class Me(BaseModel):
    subject: str
    kind: Literal["operator", "user", "api_key"]
    label: str
    tenant: dict[str, Any] | None
    roles: list[str]
    permissions: list[str]


async def _login_throttled(platform: Platform, account: str, address: str | None) -> None:
    identity = platform.identity
    waits = [await identity.account_failures.retry_after(account)]
    if address:
        waits.append(await identity.address_failures.retry_after(address))
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise ProblemError(
            RATE_LIMITED,
            "too many failed logins; wait before trying again",
            headers={"Retry-After": str(wait)},
        )


async def _login_failed(platform: Platform, account: str, address: str | None) -> ProblemError:
    await platform.identity.account_failures.fail(account)
    if address:
        await platform.identity.address_failures.fail(address)
    return ProblemError(INVALID_CREDENTIALS)


@router.post(
    "/login",
    response_model=TokenPair,
    dependencies=[Depends(public("exchanges credentials for tokens"))],
    summary="Log in with e-mail and password (omit `tenant` to log in as an operator)",
    responses=problem_responses(INVALID_CREDENTIALS, TENANT_SUSPENDED, RATE_LIMITED),
)
async def login(
    body: LoginRequest, request: Request, platform: PlatformDep, session: SessionDep
) -> TokenPair:
    email = body.email.strip().lower()
    address = source_address(request)
    tenant_slug = body.tenant.strip().lower() if body.tenant is not None else None
    account = f"{tenant_slug or '@platform'}/{email}"  # one allowance however it is spelt
    await _login_throttled(platform, account, address)
    if tenant_slug is None:
        return await _operator_login(platform, session, request, email, body.password, account)
    tenant = await session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
    if tenant is None:
        await session.rollback()
        await verify_password_off_loop(_DUMMY_HASH, body.password)
        raise await _login_failed(platform, account, address)
    tenant_id, tenant_active = tenant.id, tenant.status == TenantStatus.ACTIVE.value
    await session.rollback()  # the next transaction runs in the tenant's scope
    with tenant_scope(tenant_id):
        user = await session.scalar(select(User).where(User.email == email))
        stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
        valid = await _verify_outside_transaction(session, stored, body.password)
        if valid and user is not None:
            # Read again in the transaction that records the login: the account may have
            # been deactivated or its password changed while the hash was being checked.
            await session.refresh(user, ["password_hash", "is_active"])
            valid = user.password_hash == stored
        if user is None or not valid or not user.is_active or user.password_hash is None:
            reason = "unknown_user" if user is None else "bad_password" if not valid else "inactive"
            record_audit_event(
                session,
                None,
                "auth.login_failed",
                request=request,
                outcome="failure",
                tenant_id=tenant_id,
                actor_label=email,
                target_type="user",
                target_id=user.id if user else None,
                details={"reason": reason},
            )
            await session.commit()
            raise await _login_failed(platform, account, address)
        if not tenant_active:
            raise ProblemError(TENANT_SUSPENDED)
        user.last_login_at = utcnow()
        record_audit_event(
            session,
            None,
            "auth.login",
            request=request,
            tenant_id=tenant_id,
            actor_label=email,
            target_type="user",
            target_id=user.id,
        )
        return await _open_session(platform, session, request, account, user.id, tenant_id)


async def _verify_outside_transaction(session: SessionDep, stored: str, password: str) -> bool:
    """Check ``password`` against ``stored`` with the session's transaction ended first: the
    hash costs tens to hundreds of milliseconds of CPU, during which a connection held open
    would sit idle in transaction, out of the pool (a burst of logins right after start-up
    then starved every other request of connections). The hash runs off the event loop."""
    await session.commit()  # only reads so far; the loaded rows stay usable (no expiry)
    return await verify_password_off_loop(stored, password)


async def _operator_login(
    platform: Platform,
    session: SessionDep,
    request: Request,
    email: str,
    password: str,
    account: str,
) -> TokenPair:
    address = source_address(request)
    operator = await session.scalar(select(PlatformOperator).where(PlatformOperator.email == email))
    stored = operator.password_hash if operator else _DUMMY_HASH
    valid = await _verify_outside_transaction(session, stored, password)
    if valid and operator is not None:
        await session.refresh(operator, ["password_hash", "is_active"])  # as for users
        valid = operator.password_hash == stored
    if operator is None or not valid or not operator.is_active:
        principal = (
            Principal(subject=str(operator.id), kind="operator", label=email) if operator else None
        )
        if principal is not None:
            record_audit_event(
                session, principal, "auth.login_failed", request=request, outcome="failure"
            )
            await session.commit()
        raise await _login_failed(platform, account, address)
    operator.last_login_at = utcnow()
    principal = Principal(subject=str(operator.id), kind="operator", label=email)
    record_audit_event(session, principal, "auth.login", request=request)
    return await _open_session(platform, session, request, account, operator.id, None)


async def _open_session(
    platform: Platform,
    session: SessionDep,
    request: Request,
    account: str,
    owner_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
) -> TokenPair:
    """A successful login: start its session, commit (with the audit record the caller
    added), clear the account's failure count and hand out the first token pair."""
    pair = await open_login_session(
        platform, session, user_id=owner_id, tenant_id=tenant_id, request=request
    )
    await platform.identity.account_failures.reset(account)
    return pair


def _parse_refresh(value: str) -> OpaqueToken:
    try:
        return parse_opaque(value, REFRESH_PREFIX)
    except InvalidToken:
        raise ProblemError(UNAUTHENTICATED, "the refresh token is invalid") from None


@router.post(
    "/refresh",
    response_model=TokenPair,
    dependencies=[Depends(public("verified by the refresh token it carries"))],
    summary="Exchange a refresh token for a new pair (the old one stops working)",
)
async def refresh(
    body: RefreshRequest, request: Request, platform: PlatformDep, session: SessionDep
) -> TokenPair:
    presented = _parse_refresh(body.refresh_token)
    with tenant_scope(presented.tenant_id):
        rotation = await sessions.rotate(session, presented)
        if rotation.failure == sessions.REUSE:
            record_audit_event(
                session,
                _actor(presented.tenant_id, rotation.owner_id),
                "auth.refresh_token_reused",
                request=request,
                outcome="failure",
                target_type="session",
                target_id=rotation.session_id,
                details={"effect": "session revoked"},
            )
            await session.commit()
        if rotation.failure is not None or rotation.new_token is None:
            raise ProblemError(UNAUTHENTICATED, "the refresh token is invalid or was revoked")
        assert rotation.owner_id is not None
        assert rotation.session_id is not None
        await _check_owner_active(session, presented.tenant_id, rotation.owner_id)
        await session.commit()
        return await issue_token_pair(
            platform,
            subject=rotation.owner_id,
            tenant_id=presented.tenant_id,
            session_id=rotation.session_id,
            refresh_token=rotation.new_token.value,
        )


def _actor(tenant_id: uuid.UUID | None, owner_id: uuid.UUID | None) -> Principal | None:
    if owner_id is None:
        return None
    return Principal(
        subject=str(owner_id), kind="operator" if tenant_id is None else "user", tenant_id=tenant_id
    )


async def _check_owner_active(
    session: SessionDep, tenant_id: uuid.UUID | None, owner_id: uuid.UUID
) -> None:
    if tenant_id is None:
        active = await session.scalar(
            select(PlatformOperator.is_active).where(PlatformOperator.id == owner_id)
        )
        if not active:
            raise ProblemError(UNAUTHENTICATED, "the account is no longer active")
        return
    row = (
        await session.execute(
            select(User.is_active, Tenant.status)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(User.id == owner_id)
        )
    ).one_or_none()
    if row is None or not row.is_active:
        raise ProblemError(UNAUTHENTICATED, "the account is no longer active")
    if row.status != TenantStatus.ACTIVE.value:
        raise ProblemError(TENANT_SUSPENDED)


@router.post(
    "/logout",
    status_code=204,
    dependencies=[Depends(public("verified by the refresh token it carries"))],
    summary="End the session a refresh token belongs to (its access tokens stop at once)",
)
async def logout(body: RefreshRequest, request: Request, session: SessionDep) -> Response:
    presented = _parse_refresh(body.refresh_token)
    with tenant_scope(presented.tenant_id):
        login = await sessions.find_session(session, presented)
        if login is not None and login.revoked_at is None:
            await sessions.revoke(session, presented.tenant_id, login.id, "logout")
            owner = getattr(login, sessions.tables_for(presented.tenant_id).owner_column)
            record_audit_event(
                session,
                _actor(presented.tenant_id, owner),
                "auth.logout",
                request=request,
                target_type="session",
                target_id=login.id,
            )
            await session.commit()
    # Unknown or already-ended sessions answer the same: logging out is idempotent.
    return Response(status_code=204)


@router.get(
    "/me", response_model=Me, summary="The caller: account, organization, roles, permissions"
)
async def me(
    principal: Annotated[Principal, Depends(require(PROFILE_READ.resource, PROFILE_READ.action))],
    platform: PlatformDep,
    session: SessionDep,
) -> Me:
    if principal.tenant_id is None:
        return Me(
            subject=principal.subject,
            kind=principal.kind,
            label=principal.label,
            tenant=None,
            roles=[],
            permissions=sorted(principal.permissions),
        )
    tenant = await session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    policy = await caller_policy(platform, session, principal)
    subject = (user_subject if principal.kind == "user" else api_key_subject)(principal.subject)
    return Me(
        subject=principal.subject,
        kind=principal.kind,
        label=principal.label,
        tenant={"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name},
        roles=policy.roles_of(subject),
        permissions=sorted(policy.permissions_of(subject)),
    )


@router.post(
    "/invitations/accept",
    status_code=204,
    dependencies=[Depends(public("verified by the invitation token it carries"))],
    summary="Set the password of an invited user (the invitation works once)",
)
async def accept_invitation(
    body: AcceptInvitation, request: Request, session: SessionDep
) -> Response:
    try:
        presented = parse_opaque(body.token, "kiv")
    except InvalidToken:
        raise ProblemError(UNAUTHENTICATED, "the invitation is invalid") from None
    if presented.tenant_id is None:
        raise ProblemError(UNAUTHENTICATED, "the invitation is invalid")
    with tenant_scope(presented.tenant_id):
        user = await session.scalar(select(User).where(User.invitation_hash == digest(body.token)))
        expires = user.invitation_expires_at if user else None
        if user is None or expires is None or expires <= utcnow() or not user.is_active:
            raise ProblemError(UNAUTHENTICATED, "the invitation is invalid or has expired")
        user.password_hash = await hash_password_off_loop(body.password)
        user.invitation_hash = None
        user.invitation_expires_at = None
        record_audit_event(
            session,
            None,
            "user.invitation_accepted",
            request=request,
            tenant_id=presented.tenant_id,
            actor_label=user.email,
            target_type="user",
            target_id=user.id,
        )
        await session.commit()
    return Response(status_code=204)
