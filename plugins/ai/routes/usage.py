"""``/api/v1/ai/usage``: tokens and estimated cost over a range, grouped, with the budget."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from kernel import PlatformDep, Principal, ProblemError, SessionDep, problem_responses, require
from plugins.ai import metering
from plugins.ai.models import AiUsageRow
from plugins.ai.permissions import AI_USAGE_READ
from plugins.ai.problems import USAGE_RANGE_INVALID
from plugins.ai.settings import tenant_settings

router = APIRouter(tags=["ai"])

Reader = Annotated[Principal, Depends(require(AI_USAGE_READ.resource, AI_USAGE_READ.action))]
GroupBy = Literal["plugin", "task", "model", "provider", "day"]


class AiUsageFigures(BaseModel):
    requests: int
    input_tokens: int
    output_tokens: int
    cost: Decimal
    """Estimated, US dollars."""
    unpriced_requests: int
    """Requests to models without a list price (counted at zero cost)."""


class AiUsageGroup(AiUsageFigures):
    key: str
    """The plugin, task, model (``provider/model``), provider or day (ISO date)."""


class AiBudgetStatus(BaseModel):
    month: str
    monthly_budget: Decimal | None
    currency: str = "USD"
    spent: Decimal
    percent: float | None
    warning_percent: int
    status: Literal["none", "ok", "warning", "exhausted"]
    """``exhausted``: every task is answered offline until the month ends."""


class AiUsageOut(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    group_by: GroupBy
    items: list[AiUsageGroup]
    totals: AiUsageFigures
    budget: AiBudgetStatus


def _figures(row: Any) -> dict[str, Any]:
    return {
        "requests": int(row.requests or 0),
        "input_tokens": int(row.input_tokens or 0),
        "output_tokens": int(row.output_tokens or 0),
        "cost": metering.dollars(int(row.cost or 0)),
        "unpriced_requests": int(row.unpriced or 0),
    }


@router.get(
    "/usage",
    response_model=AiUsageOut,
    summary="AI usage and estimated cost, grouped; the month's budget",
    responses=problem_responses(USAGE_RANGE_INVALID),
)
async def get_usage(
    principal: Reader,
    session: SessionDep,
    platform: PlatformDep,
    from_: Annotated[
        date | None, Query(alias="from", description="First UTC day (default: the month's first).")
    ] = None,
    to: Annotated[
        date | None, Query(description="Last UTC day, included (default: today).")
    ] = None,
    group_by: Annotated[GroupBy, Query()] = "day",
) -> AiUsageOut:
    """The offline provider's usage is written every few seconds: this worker's is written
    before answering, another worker's may lag by up to 5 s."""
    assert principal.tenant_id is not None
    today = metering.today()
    start = from_ or today.replace(day=1)
    end = to or today
    if start > end or end - start > timedelta(days=366):
        raise ProblemError(USAGE_RANGE_INVALID)
    await metering.flush(platform, principal.tenant_id)
    key: Any = {
        "plugin": AiUsageRow.plugin,
        "task": AiUsageRow.task,
        "provider": AiUsageRow.provider,
        "model": AiUsageRow.provider + "/" + AiUsageRow.model,
        "day": AiUsageRow.day,
    }[group_by]
    sums = (
        func.sum(AiUsageRow.requests).label("requests"),
        func.sum(AiUsageRow.input_tokens).label("input_tokens"),
        func.sum(AiUsageRow.output_tokens).label("output_tokens"),
        func.sum(AiUsageRow.cost_nanos).label("cost"),
        func.sum(AiUsageRow.unpriced).label("unpriced"),
    )
    in_range = (AiUsageRow.day >= start, AiUsageRow.day <= end)
    rows = (
        await session.execute(
            select(key.label("key"), *sums).where(*in_range).group_by(key).order_by(key)
        )
    ).all()
    totals = (await session.execute(select(*sums).where(*in_range))).one()
    settings = await tenant_settings(platform, principal.tenant_id)
    spent = await metering.month_spend(platform, principal.tenant_id)
    percent = metering.percent_of(settings, spent)
    status: Literal["none", "ok", "warning", "exhausted"] = "none"
    if percent is not None:
        status = (
            "exhausted"
            if metering.exhausted(settings, spent)
            else "warning"
            if percent >= settings.budget_warning_percent
            else "ok"
        )
    return AiUsageOut(
        from_=start,
        to=end,
        group_by=group_by,
        items=[AiUsageGroup(key=str(row.key), **_figures(row)) for row in rows],
        totals=AiUsageFigures(**_figures(totals)),
        budget=AiBudgetStatus(
            month=metering.month_of(today),
            monthly_budget=settings.monthly_budget,
            spent=metering.dollars(spent),
            percent=round(percent, 2) if percent is not None else None,
            warning_percent=settings.budget_warning_percent,
            status=status,
        ),
    )
