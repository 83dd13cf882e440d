"""The audit logs: one per tenant (tenant-owned, RLS) and one for platform operators."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from kernel._identity.models import AuditEvent, OperatorAuditEvent
from kernel._principal import Principal

Outcome = Literal["success", "failure"]


def source_address(request: Request | None) -> str | None:
    """The caller's address as the ASGI server saw it (behind a proxy, run uvicorn with
    ``--proxy-headers`` and ``--forwarded-allow-ips`` so this is the client, not the proxy)."""
    if request is None or request.client is None:
        return None
    return request.client.host


def record_audit_event(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    *,
    request: Request | None = None,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    outcome: Outcome = "success",
    details: dict[str, Any] | None = None,
    tenant_id: uuid.UUID | None = None,
    actor_label: str | None = None,
) -> None:
    """Add an audit record to ``session`` (it is written when the caller commits, so the
    record and the action it describes stand or fall together).

    Operators' actions go to the operator log; everything else to the log of the tenant in
    scope (``tenant_id`` overrides it, e.g. for a failed login before anyone is known).
    ``details`` must never hold secrets.
    """
    target = str(target_id) if target_id is not None else None
    address = source_address(request)
    if principal is not None and principal.kind == "operator":
        session.add(
            OperatorAuditEvent(
                operator_id=principal.subject,
                operator_label=principal.label or None,
                action=action,
                outcome=outcome,
                target_type=target_type,
                target_id=target,
                tenant_id=tenant_id,
                source_address=address,
                details=details or {},
            )
        )
        return
    event = AuditEvent(
        actor_kind=principal.kind if principal is not None else "anonymous",
        actor_id=principal.subject if principal is not None else None,
        actor_label=actor_label or (principal.label if principal is not None else None),
        action=action,
        outcome=outcome,
        target_type=target_type,
        target_id=target,
        source_address=address,
        details=details or {},
    )
    if tenant_id is not None:
        event.tenant_id = tenant_id  # must match the scope the session flushes in
    session.add(event)
