"""``/api/v1/audit``: the tenant's security log, and the operators' log beside it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, select

from kernel._auth import require
from kernel._identity.models import AuditEvent, OperatorAuditEvent
from kernel._identity.permissions import AUDIT_READ, OPERATOR_AUDIT_READ
from kernel._pagination import CursorPage, PageParamsDep, paginate
from kernel.deps import SessionDep

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    id: uuid.UUID
    occurred_at: datetime
    actor_kind: str
    actor_id: str | None
    actor_label: str | None
    action: str
    outcome: str
    target_type: str | None
    target_id: str | None
    source_address: str | None
    details: dict[str, Any]


class OperatorAuditEventOut(BaseModel):
    id: uuid.UUID
    occurred_at: datetime
    operator_id: str | None
    operator_label: str | None
    action: str
    outcome: str
    target_type: str | None
    target_id: str | None
    tenant_id: uuid.UUID | None
    source_address: str | None
    details: dict[str, Any]


class AuditFilters(BaseModel):
    action: str | None = None
    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: Literal["success", "failure"] | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_filters(
    action: Annotated[
        str | None, Query(max_length=80, description="Exact action, or a prefix ending in `.`")
    ] = None,
    actor_id: Annotated[str | None, Query(max_length=80)] = None,
    target_type: Annotated[str | None, Query(max_length=40)] = None,
    target_id: Annotated[str | None, Query(max_length=80)] = None,
    outcome: Literal["success", "failure"] | None = None,
    since: Annotated[datetime | None, Query(description="Inclusive, ISO 8601 with offset.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive, ISO 8601 with offset.")] = None,
) -> AuditFilters:
    return AuditFilters(
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        since=since,
        until=until,
    )


FiltersDep = Annotated[AuditFilters, Depends(audit_filters)]


def _filtered(model: Any, statement: Select[Any], filters: AuditFilters, actor: Any) -> Select[Any]:
    if filters.action:
        if filters.action.endswith("."):
            statement = statement.where(model.action.startswith(filters.action, autoescape=True))
        else:
            statement = statement.where(model.action == filters.action)
    if filters.actor_id:
        statement = statement.where(actor == filters.actor_id)
    for name in ("target_type", "target_id", "outcome"):
        value = getattr(filters, name)
        if value:
            statement = statement.where(getattr(model, name) == value)
    if filters.since:
        statement = statement.where(model.occurred_at >= filters.since)
    if filters.until:
        statement = statement.where(model.occurred_at < filters.until)
    return statement


@router.get(
    "",
    response_model=CursorPage[AuditEventOut],
    summary="The organization's audit log, newest first",
    dependencies=[Depends(require(AUDIT_READ.resource, AUDIT_READ.action))],
)
async def list_audit_events(
    session: SessionDep, page: PageParamsDep, filters: FiltersDep
) -> CursorPage[AuditEventOut]:
    statement = _filtered(AuditEvent, select(AuditEvent), filters, AuditEvent.actor_id)
    rows, cursor = await paginate(
        session, statement, order_by=[AuditEvent.occurred_at, AuditEvent.id], params=page
    )
    return CursorPage(
        items=[AuditEventOut.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=cursor,
    )


@router.get(
    "/platform",
    response_model=CursorPage[OperatorAuditEventOut],
    summary="The platform operators' audit log, newest first (operators only)",
    dependencies=[Depends(require(OPERATOR_AUDIT_READ.resource, OPERATOR_AUDIT_READ.action))],
)
async def list_operator_audit_events(
    session: SessionDep,
    page: PageParamsDep,
    filters: FiltersDep,
    tenant_id: Annotated[uuid.UUID | None, Query(description="Actions on one tenant.")] = None,
) -> CursorPage[OperatorAuditEventOut]:
    statement = _filtered(
        OperatorAuditEvent, select(OperatorAuditEvent), filters, OperatorAuditEvent.operator_id
    )
    if tenant_id is not None:
        statement = statement.where(OperatorAuditEvent.tenant_id == tenant_id)
    rows, cursor = await paginate(
        session,
        statement,
        order_by=[OperatorAuditEvent.occurred_at, OperatorAuditEvent.id],
        params=page,
    )
    return CursorPage(
        items=[OperatorAuditEventOut.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=cursor,
    )
