"""``/api/v1/supervisor/dashboard``: the summary of a day or a range, recent activity, the
alerts raised now and their history (``dashboard:read``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    SessionDep,
    paginate,
    require,
    utcnow,
)
from plugins.queues import time_zone
from plugins.supervisor.alerts.schemas import SupervisorAlert, SupervisorAlertList
from plugins.supervisor.dashboard.activity import activity
from plugins.supervisor.dashboard.schemas import DashboardActivity, DashboardSummary
from plugins.supervisor.dashboard.span import span_of
from plugins.supervisor.dashboard.summary import summary
from plugins.supervisor.models import Alert, AlertStatus, RuleKind
from plugins.supervisor.permissions import DASHBOARD_READ

router = APIRouter(prefix="/dashboard", tags=["supervisor"])

Reader = Annotated[Principal, Depends(require(DASHBOARD_READ.resource, DASHBOARD_READ.action))]


@router.get("/summary", response_model=DashboardSummary, summary="The day's or a range's figures")
async def get_dashboard_summary(
    _: Reader,
    session: SessionDep,
    platform: PlatformDep,
    from_: Annotated[
        date | None,
        Query(alias="from", description="First day (the organization's time zone); today."),
    ] = None,
    to: Annotated[date | None, Query(description="Last day, inclusive; today.")] = None,
) -> DashboardSummary:
    """Calls, queue figures, handle time over whole days in the organization's time zone
    (`PATCH /api/v1/tenant {"timezone": ...}`), with the agents logged in now and the
    active campaigns' 30-day abandonment. At most 366 days."""
    now = utcnow()
    span = span_of(await time_zone(session), now, from_, to)
    return await summary(platform, session, span, now)


@router.get("/activity", response_model=DashboardActivity, summary="Recent activity")
async def get_dashboard_activity(
    principal: Reader,
    session: SessionDep,
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=200, description="How many events.")] = 50,
) -> DashboardActivity:
    """The organization's last notable events, newest first (calls answered, completed,
    abandoned; agents' state changes; supervision; alerts; campaigns' state changes; webhook
    endpoints disabled), only the types your roles may read."""
    return await activity(platform, session, principal, limit)


@router.get("/alerts", response_model=SupervisorAlertList, summary="Alerts raised now")
async def list_raised_alerts(_: Reader, session: SessionDep) -> SupervisorAlertList:
    """Newest first."""
    rows = await session.scalars(
        select(Alert)
        .where(Alert.status == AlertStatus.RAISED.value)
        .order_by(Alert.raised_at.desc(), Alert.id.desc())
    )
    return SupervisorAlertList(items=[SupervisorAlert.of(a) for a in rows])


@router.get(
    "/alerts/history", response_model=CursorPage[SupervisorAlert], summary="The history of alerts"
)
async def list_alert_history(
    _: Reader,
    session: SessionDep,
    page: PageParamsDep,
    status: Annotated[AlertStatus | None, Query(description="raised or cleared")] = None,
    kind: Annotated[RuleKind | None, Query(description="Only alerts of this kind.")] = None,
    since: Annotated[datetime | None, Query(description="Raised at or after.")] = None,
) -> CursorPage[SupervisorAlert]:
    """Every alert, raised or cleared, newest first."""
    query = select(Alert)
    if status is not None:
        query = query.where(Alert.status == status.value)
    if kind is not None:
        query = query.where(Alert.kind == kind.value)
    if since is not None:
        query = query.where(Alert.raised_at >= since)
    rows, cursor = await paginate(
        session, query, order_by=[Alert.raised_at, Alert.id], params=page, descending=True
    )
    return CursorPage(items=[SupervisorAlert.of(a) for a in rows], next_cursor=cursor)
