"""``/api/v1/api-keys``: credentials for integrations, bound to roles."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from kernel._auth import require
from kernel._identity import grants
from kernel._identity.audit import record_audit_event
from kernel._identity.models import ApiKey
from kernel._identity.permissions import API_KEYS_READ, API_KEYS_WRITE
from kernel._identity.rbac import PolicyWriter, TenantPolicy, api_key_subject
from kernel._identity.routes.users import RoleName
from kernel._identity.tokens import API_KEY_PREFIX, new_opaque
from kernel._models import utcnow
from kernel._pagination import CursorPage, PageParamsDep, paginate
from kernel._principal import Principal
from kernel._problems import NOT_FOUND, ProblemError
from kernel.deps import PlatformDep, SessionDep

router = APIRouter(prefix="/api-keys", tags=["api-keys"])
Reader = Annotated[Principal, Depends(require(API_KEYS_READ.resource, API_KEYS_READ.action))]
Writer = Annotated[Principal, Depends(require(API_KEYS_WRITE.resource, API_KEYS_WRITE.action))]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    roles: list[RoleName] = Field(
        default_factory=lambda: ["integrator"], min_length=1, max_length=20
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    roles: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="The key itself. Shown only in this answer: store it now.")


def _out(key: ApiKey, policy: TenantPolicy) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        roles=policy.roles_of(api_key_subject(key.id)),
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


async def _get_key(session: SessionDep, key_id: uuid.UUID) -> ApiKey:
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if key is None:
        raise ProblemError(NOT_FOUND, "no such API key")
    return key


@router.post("", response_model=ApiKeyCreated, status_code=201, summary="Create an API key")
async def create_api_key(
    body: ApiKeyCreate,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> ApiKeyCreated:
    assert principal.tenant_id is not None
    roles = sorted(set(body.roles))
    await grants.check_roles_exist(session, roles)
    policy = await grants.caller_policy(platform, session, principal)
    grants.check_can_hand_out(platform, policy, principal, roles)
    secret = new_opaque(API_KEY_PREFIX, principal.tenant_id)
    key = ApiKey(
        id=uuid.uuid4(),
        name=body.name,
        # The key's own first characters (not the tenant part, which all its keys share).
        prefix=f"{API_KEY_PREFIX}_{secret.value.split('_', 2)[2][:8]}",
        secret_hash=secret.hash,
        created_by=f"{principal.kind}:{principal.subject}",
        created_at=utcnow(),
        expires_at=(
            utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
        ),
    )
    session.add(key)
    await session.flush()
    writer = PolicyWriter(session, principal.tenant_id)
    for role in roles:
        await writer.assign(api_key_subject(key.id), role)
    await writer.finish()
    record_audit_event(
        session,
        principal,
        "api_key.created",
        request=request,
        target_type="api_key",
        target_id=key.id,
        details={"name": key.name, "roles": roles},
    )
    await session.commit()
    policy = await grants.caller_policy(platform, session, principal)
    return ApiKeyCreated(**_out(key, policy).model_dump(), secret=secret.value)


@router.get("", response_model=CursorPage[ApiKeyOut], summary="List API keys (never secrets)")
async def list_api_keys(
    principal: Reader, platform: PlatformDep, session: SessionDep, page: PageParamsDep
) -> CursorPage[ApiKeyOut]:
    assert principal.tenant_id is not None
    rows, cursor = await paginate(
        session, select(ApiKey), order_by=[ApiKey.created_at, ApiKey.id], params=page
    )
    policy = await grants.caller_policy(platform, session, principal)
    return CursorPage(items=[_out(key, policy) for key in rows], next_cursor=cursor)


@router.get("/{key_id}", response_model=ApiKeyOut, summary="Get an API key")
async def get_api_key(
    key_id: uuid.UUID, principal: Reader, platform: PlatformDep, session: SessionDep
) -> ApiKeyOut:
    assert principal.tenant_id is not None
    key = await _get_key(session, key_id)
    return _out(key, await grants.caller_policy(platform, session, principal))


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key (it stops working at once)")
async def revoke_api_key(
    key_id: uuid.UUID,
    request: Request,
    principal: Writer,
    platform: PlatformDep,
    session: SessionDep,
) -> Response:
    assert principal.tenant_id is not None
    key = await _get_key(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        writer = PolicyWriter(session, principal.tenant_id)
        await writer.forget_subject(api_key_subject(key.id))
        await writer.finish()
        record_audit_event(
            session,
            principal,
            "api_key.revoked",
            request=request,
            target_type="api_key",
            target_id=key.id,
            details={"name": key.name},
        )
        await session.commit()
    return Response(status_code=204)
