"""Turning a bearer credential into a :class:`kernel.Principal` (the per-request hot path).

One query per request checks the credential against the database (a deactivated user, a
revoked session or key, a suspended tenant stop working at once) and reads the tenant's
policy version and disabled plugins; the tenant's enforcer comes from the worker's cache.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial
from typing import Literal

from fastapi import Request
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity.models import ApiKey, AuthSession, OperatorSession, User
from kernel._identity.rbac import TenantPolicy, api_key_subject, user_subject
from kernel._identity.service import Identity
from kernel._identity.tokens import API_KEY_PREFIX, InvalidToken, digest, parse_opaque
from kernel._models import utcnow
from kernel._operators import PlatformOperator
from kernel._platform import get_platform
from kernel._principal import Principal
from kernel._problems import RATE_LIMITED, UNAUTHENTICATED, ProblemError, define_problem
from kernel._tenancy import Tenant, TenantStatus, tenant_scope

TENANT_SUSPENDED = define_problem(
    "tenant-suspended",
    "Organization suspended",
    403,
    "The organization this credential belongs to is suspended; contact the platform operator.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


# Each credential check is one statement, built once (bound parameters): building it anew
# on every request cost more CPU than running it.
_USER_CREDENTIAL = (
    select(
        User.email,
        User.is_active,
        AuthSession.revoked_at,
        AuthSession.expires_at,
        Tenant.status,
        Tenant.policy_version,
        Tenant.disabled_plugins,
    )
    .join(AuthSession, AuthSession.user_id == User.id)
    .join(Tenant, Tenant.id == User.tenant_id)
    .where(User.id == bindparam("user_id"), AuthSession.id == bindparam("session_id"))
)
_API_KEY_CREDENTIAL = (
    select(
        ApiKey.id,
        ApiKey.name,
        ApiKey.revoked_at,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        Tenant.status,
        Tenant.policy_version,
        Tenant.disabled_plugins,
    )
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
    .where(ApiKey.secret_hash == bindparam("digest"))
)
_OPERATOR_CREDENTIAL = (
    select(
        PlatformOperator.email,
        PlatformOperator.is_active,
        OperatorSession.revoked_at,
        OperatorSession.expires_at,
    )
    .join(OperatorSession, OperatorSession.operator_id == PlatformOperator.id)
    .where(
        PlatformOperator.id == bindparam("operator_id"),
        OperatorSession.id == bindparam("session_id"),
    )
)


def _unauthenticated(detail: str) -> ProblemError:
    return ProblemError(UNAUTHENTICATED, detail, headers=_CHALLENGE)


async def authenticate(request: Request, session: AsyncSession) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("send `Authorization: Bearer <access token or API key>`")
    return await authenticate_token(get_platform(request).identity, session, token.strip())


async def authenticate_token(identity: Identity, session: AsyncSession, token: str) -> Principal:
    """The principal of a bearer credential (access token or API key), or a 401 problem;
    for transports without an Authorization header (a WebSocket's first message)."""
    if token.startswith(f"{API_KEY_PREFIX}_"):
        principal = await _api_key_principal(identity, session, token)
    else:
        try:
            claims = (await identity.signer()).verify(token)
        except InvalidToken:
            raise _unauthenticated("the access token is invalid or expired") from None
        if claims.kind == "operator":
            return await _operator_principal(identity, session, claims.subject, claims.session_id)
        assert claims.tenant_id is not None
        principal = await _user_principal(
            identity, session, claims.tenant_id, claims.subject, claims.session_id
        )
    await _check_rate(identity, principal)
    return principal


def _tenant_principal(
    *,
    subject_id: uuid.UUID,
    kind: Literal["user", "api_key"],
    tenant_id: uuid.UUID,
    label: str,
    policy: TenantPolicy,
    disabled: list[str] | None,
    session_id: uuid.UUID | None = None,
) -> Principal:
    casbin_subject = (user_subject if kind == "user" else api_key_subject)(subject_id)
    return Principal(
        subject=str(subject_id),
        kind=kind,
        tenant_id=tenant_id,
        label=label,
        session_id=session_id,
        disabled_plugins=frozenset(disabled or ()),
        authorizer=partial(policy.allows, casbin_subject),
    )


def _check_tenant(status: str) -> None:
    if status != TenantStatus.ACTIVE.value:
        raise ProblemError(TENANT_SUSPENDED)


async def _user_principal(
    identity: Identity,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
) -> Principal:
    with tenant_scope(tenant_id):
        params = {"user_id": user_id, "session_id": session_id}
        row = (await session.execute(_USER_CREDENTIAL, params)).one_or_none()
        if row is None or not row.is_active:
            raise _unauthenticated("the account is no longer active")
        if row.revoked_at is not None or row.expires_at <= utcnow():
            raise _unauthenticated("the session has ended; log in again")
        _check_tenant(row.status)
        policy = await identity.policies.get(session, tenant_id, row.policy_version)
    return _tenant_principal(
        subject_id=user_id,
        kind="user",
        tenant_id=tenant_id,
        label=row.email,
        policy=policy,
        disabled=row.disabled_plugins,
        session_id=session_id,
    )


async def _api_key_principal(identity: Identity, session: AsyncSession, token: str) -> Principal:
    try:
        parsed = parse_opaque(token, API_KEY_PREFIX)
    except InvalidToken:
        raise _unauthenticated("the API key is malformed") from None
    if parsed.tenant_id is None:
        raise _unauthenticated("the API key is malformed")
    with tenant_scope(parsed.tenant_id):
        row = (await session.execute(_API_KEY_CREDENTIAL, {"digest": digest(token)})).one_or_none()
        if row is None or row.revoked_at is not None:
            raise _unauthenticated("the API key is unknown or revoked")
        if row.expires_at is not None and row.expires_at <= utcnow():
            raise _unauthenticated("the API key has expired")
        _check_tenant(row.status)
        policy = await identity.policies.get(session, parsed.tenant_id, row.policy_version)
    if row.last_used_at is None or utcnow() - row.last_used_at > LAST_USED_RESOLUTION:
        identity.note_api_key_use(parsed.tenant_id, row.id)
    return _tenant_principal(
        subject_id=row.id,
        kind="api_key",
        tenant_id=parsed.tenant_id,
        label=row.name,
        policy=policy,
        disabled=row.disabled_plugins,
    )


LAST_USED_RESOLUTION = timedelta(minutes=1)


async def recheck_principal(
    identity: Identity, session: AsyncSession, principal: Principal, token: str
) -> Principal:
    """The current principal behind a long-lived connection's credential, or the 401/403
    problem ``authenticate_token`` would raise.

    A user's account, login session and tenant are checked again, but not the access
    token's expiry: the token was verified when the connection opened, and this check (made
    periodically) is what the token's short lifetime stands in for on requests. An API key
    is checked again as a whole. No rate limit applies. Roles are read afresh, so the
    returned principal reflects the tenant's current policy.
    """
    if principal.kind == "api_key":
        return await _api_key_principal(identity, session, token)
    if principal.kind == "user" and principal.tenant_id and principal.session_id:
        return await _user_principal(
            identity,
            session,
            principal.tenant_id,
            uuid.UUID(principal.subject),
            principal.session_id,
        )
    raise _unauthenticated("this credential cannot hold a long-lived connection")


async def _operator_principal(
    identity: Identity, session: AsyncSession, operator_id: uuid.UUID, session_id: uuid.UUID
) -> Principal:
    params = {"operator_id": operator_id, "session_id": session_id}
    row = (await session.execute(_OPERATOR_CREDENTIAL, params)).one_or_none()
    if row is None or not row.is_active:
        raise _unauthenticated("the operator account is no longer active")
    if row.revoked_at is not None or row.expires_at <= utcnow():
        raise _unauthenticated("the session has ended; log in again")
    return Principal(
        subject=str(operator_id),
        kind="operator",
        label=row.email,
        session_id=session_id,
        permissions=identity.operator_permissions,
    )


async def _check_rate(identity: Identity, principal: Principal) -> None:
    # The key's own limit first, so that a refused request costs its tenant nothing.
    wait = None
    if principal.kind == "api_key":
        wait = await identity.api_key_rate.acquire(principal.subject)
    if wait is None:
        wait = await identity.tenant_rate.acquire(str(principal.tenant_id))
    if wait is not None:
        raise ProblemError(
            RATE_LIMITED,
            "too many requests for this organization or API key; retry later",
            headers={"Retry-After": str(wait)},
        )
