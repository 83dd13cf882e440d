"""``/api/v1/supervisor/alerts/rules``: the organization's alert rules (read with
``dashboard:read``, changed with ``alerts:write``; changes are audited)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    SessionDep,
    paginate,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.supervisor.alerts import rules
from plugins.supervisor.alerts.evaluate import clear_rule, wake
from plugins.supervisor.alerts.schemas import AlertRuleCreate, AlertRuleOut, AlertRulePatch
from plugins.supervisor.models import AlertRule
from plugins.supervisor.permissions import ALERTS_WRITE, DASHBOARD_READ
from plugins.supervisor.problems import RULE_CHANGED, RULE_INVALID, RULE_NOT_FOUND

router = APIRouter(prefix="/alerts/rules", tags=["supervisor"])

Reader = Annotated[Principal, Depends(require(DASHBOARD_READ.resource, DASHBOARD_READ.action))]
Writer = Annotated[Principal, Depends(require(ALERTS_WRITE.resource, ALERTS_WRITE.action))]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The rule's version (`ETag`) the change is based on; 412 if it moved on.",
    ),
]


def _tagged(response: Response, rule: AlertRule) -> AlertRuleOut:
    response.headers["ETag"] = f'"{rule.version}"'
    return AlertRuleOut.of(rule)


@router.get("", response_model=CursorPage[AlertRuleOut], summary="List alert rules")
async def list_alert_rules(
    _: Reader, session: SessionDep, page: PageParamsDep
) -> CursorPage[AlertRuleOut]:
    """By name."""
    rows, cursor = await paginate(
        session,
        select(AlertRule),
        order_by=[AlertRule.name, AlertRule.id],
        params=page,
        descending=False,
    )
    return CursorPage(items=[AlertRuleOut.of(r) for r in rows], next_cursor=cursor)


@router.get(
    "/{rule_id}",
    response_model=AlertRuleOut,
    summary="An alert rule",
    responses=problem_responses(RULE_NOT_FOUND),
)
async def get_alert_rule(
    rule_id: uuid.UUID, _: Reader, session: SessionDep, response: Response
) -> AlertRuleOut:
    return _tagged(response, await rules.get_rule(session, rule_id))


@router.post(
    "",
    response_model=AlertRuleOut,
    status_code=status.HTTP_201_CREATED,
    summary="Define an alert rule",
    responses=problem_responses(RULE_INVALID),
)
async def create_alert_rule(
    body: AlertRuleCreate,
    principal: Writer,
    session: SessionDep,
    platform: PlatformDep,
    request: Request,
    response: Response,
) -> AlertRuleOut:
    """Evaluated at once, then continuously; every value the kind cannot take is listed in
    one 422 (`loc`, `message`)."""
    rule = await rules.create_rule(platform, session, values=body.model_dump(mode="python"))
    record_audit_event(
        session,
        principal,
        "supervisor.alert_rule_created",
        request=request,
        target_type="alert_rule",
        target_id=rule.id,
        details={"kind": rule.kind, "threshold": rule.threshold},
    )
    await wake(platform, session)
    await session.commit()
    response.headers["Location"] = f"/api/v1/supervisor/alerts/rules/{rule.id}"
    return _tagged(response, rule)


@router.patch(
    "/{rule_id}",
    response_model=AlertRuleOut,
    summary="Change an alert rule",
    responses=problem_responses(RULE_NOT_FOUND, RULE_INVALID, RULE_CHANGED),
)
async def update_alert_rule(
    rule_id: uuid.UUID,
    body: AlertRulePatch,
    principal: Writer,
    session: SessionDep,
    platform: PlatformDep,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> AlertRuleOut:
    """Only the fields sent change. Disabling a rule clears its alerts at once; any other
    change is evaluated at once. Send `If-Match` with the `ETag` you read (412 if it changed
    meanwhile)."""
    values = body.model_dump(mode="python", include=body.model_fields_set)
    rule, changed = await rules.update_rule(
        platform, session, rule_id=rule_id, values=values, if_match=if_match
    )
    if changed:
        if not rule.enabled:
            await clear_rule(platform, session, rule.id)
        record_audit_event(
            session,
            principal,
            "supervisor.alert_rule_updated",
            request=request,
            target_type="alert_rule",
            target_id=rule.id,
            details={"fields": changed},
        )
        await wake(platform, session)
    await session.commit()
    return _tagged(response, rule)


@router.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an alert rule",
    responses=problem_responses(RULE_NOT_FOUND, RULE_CHANGED),
)
async def delete_alert_rule(
    rule_id: uuid.UUID,
    principal: Writer,
    session: SessionDep,
    platform: PlatformDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Its raised alerts are cleared (`supervisor.alert.cleared`), then the rule and its
    alerts' history are deleted."""
    rule = await rules.lock_for_delete(session, rule_id=rule_id, if_match=if_match)
    await clear_rule(platform, session, rule.id)
    await session.delete(rule)
    record_audit_event(
        session,
        principal,
        "supervisor.alert_rule_deleted",
        request=request,
        target_type="alert_rule",
        target_id=rule_id,
        details={"kind": rule.kind},
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
