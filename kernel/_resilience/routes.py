"""``/api/v1/resilience``: a tenant's circuit breakers for its admins, everyone's for operators.

Breakers live in each worker's memory: these routes show and change the breakers of the
worker that answers (docs/adr/0012-circuit-breaker-state-per-worker.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from kernel._auth import require
from kernel._identity.audit import record_audit_event
from kernel._identity.permissions import (
    BREAKERS_MANAGE,
    BREAKERS_READ,
    PLATFORM_BREAKERS_MANAGE,
    PLATFORM_BREAKERS_READ,
)
from kernel._principal import Principal
from kernel._problems import ProblemError, define_problem
from kernel._resilience.breakers import BreakerKey, BreakerSnapshot, BreakerState, Override
from kernel._types import Permission
from kernel.deps import PlatformDep, SessionDep

router = APIRouter(prefix="/resilience", tags=["resilience"])

BREAKER_NOT_FOUND = define_problem(
    "breaker-not-found",
    "Circuit breaker not found",
    404,
    "No circuit breaker for this dependency: none was called yet (by this worker), or it is "
    "not visible to you.",
)
PLATFORM_SCOPE = "platform"
"""Stands for "no tenant" in operator paths: the platform's own outbound calls."""

Action = Literal["reset", "open", "close"]
_AUDIT_ACTIONS: dict[Action, str] = {
    "reset": "resilience.breaker_reset",
    "open": "resilience.breaker_forced_open",
    "close": "resilience.breaker_forced_closed",
}


def _permission(permission: Permission) -> Any:
    return Depends(require(permission.resource, permission.action))


TenantReads = Annotated[Principal, _permission(BREAKERS_READ)]
TenantManages = Annotated[Principal, _permission(BREAKERS_MANAGE)]
OperatorReads = Annotated[Principal, _permission(PLATFORM_BREAKERS_READ)]
OperatorManages = Annotated[Principal, _permission(PLATFORM_BREAKERS_MANAGE)]


class BreakerOut(BaseModel):
    tenant_id: uuid.UUID | None
    """None for the platform's own calls."""
    dependency: str
    state: BreakerState
    failure_count: int
    """Consecutive transient failures recorded (reset by a success)."""
    threshold: int
    reset_seconds: float
    opened_at: datetime | None
    half_open_at: datetime | None
    """When an open breaker lets a trial call through."""
    forced_by: str | None
    forced_at: datetime | None


class BreakerList(BaseModel):
    items: list[BreakerOut]


def _out(snapshot: BreakerSnapshot, *, viewer: Principal) -> BreakerOut:
    forcing = snapshot.forcing
    forced_by = None
    if forcing is not None:
        # A tenant sees that an operator acted, not which one.
        hidden = forcing.actor_kind == "operator" and viewer.kind != "operator"
        forced_by = "platform operator" if hidden else forcing.actor
    return BreakerOut(
        tenant_id=snapshot.tenant_id,
        dependency=snapshot.dependency,
        state=snapshot.state,
        failure_count=snapshot.failure_count,
        threshold=snapshot.threshold,
        reset_seconds=snapshot.reset_seconds,
        opened_at=snapshot.opened_at,
        half_open_at=snapshot.half_open_at,
        forced_by=forced_by,
        forced_at=forcing.at if forcing is not None else None,
    )


async def _list(platform: PlatformDep, keys: list[BreakerKey], viewer: Principal) -> BreakerList:
    breakers = platform.resilience.breakers
    return BreakerList(items=[_out(await breakers.snapshot(k), viewer=viewer) for k in keys])


async def _act(
    platform: PlatformDep,
    session: SessionDep,
    request: Request,
    principal: Principal,
    key: BreakerKey,
    action: Action,
) -> BreakerOut:
    breakers = platform.resilience.breakers
    if not await breakers.known(key):
        raise ProblemError(BREAKER_NOT_FOUND, f"no circuit breaker for {key[1]!r}")
    previous = (await breakers.snapshot(key)).state
    actor = principal.label or principal.subject
    if action == "reset":
        await breakers.reset(key)
    else:
        state: Override = "forced_open" if action == "open" else "forced_closed"
        await breakers.force(key, state, actor=actor, actor_kind=principal.kind)
    record_audit_event(
        session,
        principal,
        _AUDIT_ACTIONS[action],
        request=request,
        target_type="circuit_breaker",
        target_id=key[1],
        tenant_id=key[0] if principal.kind == "operator" else None,
        details={"dependency": key[1], "previous_state": previous},
    )
    await session.commit()
    return _out(await breakers.snapshot(key), viewer=principal)


# --- the tenant's own breakers ---------------------------------------------------------------


@router.get("/breakers", response_model=BreakerList, summary="The organization's circuit breakers")
async def list_breakers(principal: TenantReads, platform: PlatformDep) -> BreakerList:
    keys = await platform.resilience.breakers.keys(principal.tenant_id)
    return await _list(platform, keys, principal)


@router.post(
    "/breakers/{dependency}/{action}",
    response_model=BreakerOut,
    summary="Act on a breaker: `reset` (closed, failures cleared, forcing ended), `open` "
    "(fail fast until reset or force-closed), `close` (calls go through until reset)",
)
async def act_on_breaker(
    dependency: str,
    action: Action,
    principal: TenantManages,
    platform: PlatformDep,
    session: SessionDep,
    request: Request,
) -> BreakerOut:
    key = (principal.tenant_id, dependency)
    return await _act(platform, session, request, principal, key, action)


# --- every breaker, for platform operators ---------------------------------------------------


def _scope_key(scope: str, dependency: str) -> BreakerKey:
    """``platform`` or a tenant id in the path; anything else names no breaker."""
    if scope == PLATFORM_SCOPE:
        return (None, dependency)
    try:
        return (uuid.UUID(scope), dependency)
    except ValueError:
        raise ProblemError(BREAKER_NOT_FOUND, f"no circuit breaker for {dependency!r}") from None


@router.get(
    "/platform/breakers",
    response_model=BreakerList,
    summary="Every circuit breaker of every tenant and of the platform (operators only)",
)
async def list_all_breakers(
    principal: OperatorReads,
    platform: PlatformDep,
    tenant_id: Annotated[uuid.UUID | None, Query(description="One tenant's breakers.")] = None,
) -> BreakerList:
    keys = await platform.resilience.breakers.keys("all" if tenant_id is None else tenant_id)
    return await _list(platform, keys, principal)


@router.post(
    "/platform/breakers/{scope}/{dependency}/{action}",
    response_model=BreakerOut,
    summary="Act on any breaker (`scope`: a tenant id, or `platform`; `action`: reset, open, "
    "close)",
)
async def act_on_any_breaker(
    scope: str,
    dependency: str,
    action: Action,
    principal: OperatorManages,
    platform: PlatformDep,
    session: SessionDep,
    request: Request,
) -> BreakerOut:
    return await _act(platform, session, request, principal, _scope_key(scope, dependency), action)
