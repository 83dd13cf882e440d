"""Usage metering and the monthly budget.

Every answer is added to the tenant's ``ai_usage`` row of the UTC day, plugin, task, provider
and model (an upsert that increments; one statement on SQLite and PostgreSQL). Answers of
the offline provider cost nothing and may come hundreds a second (live sentiment), so they
are summed in this worker's memory and written at most every :data:`FLUSH_SECONDS` (and
before usage is read). The month's spend is cached for :data:`SPEND_SECONDS` and kept up to
date by this worker's own metering.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, StateKey, tenant_scope
from plugins.ai.events import BudgetExhausted, BudgetWarning
from plugins.ai.models import AiSettingsRow, AiUsageRow
from plugins.ai.provider import ModelPrice, Usage
from plugins.ai.settings import TenantSettings

logger = logging.getLogger("kraliki.ai")

FLUSH_SECONDS = 5.0
SPEND_SECONDS = 10.0
NANOS = Decimal(1_000_000_000)

UsageKey = tuple[uuid.UUID, date, str, str, str, str]
"""tenant, day, plugin, task, provider, model."""


def nanos_of(cost: Decimal) -> int:
    return int((cost * NANOS).to_integral_value(rounding=ROUND_HALF_UP))


def dollars(nanos: int) -> Decimal:
    return (Decimal(nanos) / NANOS).quantize(Decimal("0.000001"))


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def today() -> date:
    return datetime.now(UTC).date()


@dataclass
class Meter:
    spend: dict[uuid.UUID, tuple[float, str, int]] = field(default_factory=dict)
    """tenant -> (fresh until, month, nano-dollars spent)."""
    pending: dict[UsageKey, list[int]] = field(default_factory=dict)
    """Offline usage not written yet: requests, input, output, cost, unpriced."""
    last_flush: float = field(default_factory=time.monotonic)


METER = StateKey[Meter]("ai.meter")


def meter_of(platform: Platform) -> Meter:
    if not METER.is_set(platform):
        return METER.set(platform, Meter())
    return METER.get(platform)


def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    table = AiUsageRow.__table__
    insert: Any = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    statement = insert(table).values(rows)
    counted = ("requests", "input_tokens", "output_tokens", "cost_nanos", "unpriced")
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", "day", "plugin", "task", "provider", "model"],
        set_={name: table.c[name] + statement.excluded[name] for name in counted},
    )


def _row(key: UsageKey, counts: list[int]) -> dict[str, Any]:
    tenant, day, plugin, task, provider, model = key
    return {
        "tenant_id": tenant,
        "day": day,
        "plugin": plugin,
        "task": task,
        "provider": provider,
        "model": model,
        "requests": counts[0],
        "input_tokens": counts[1],
        "output_tokens": counts[2],
        "cost_nanos": counts[3],
        "unpriced": counts[4],
    }


async def flush(platform: Platform, tenant_id: uuid.UUID | None = None) -> None:
    """Write the buffered offline usage (of one tenant, or all)."""
    meter = meter_of(platform)
    meter.last_flush = time.monotonic()
    keys = [key for key in meter.pending if tenant_id is None or key[0] == tenant_id]
    by_tenant: dict[uuid.UUID, list[UsageKey]] = {}
    for key in keys:
        by_tenant.setdefault(key[0], []).append(key)
    for tenant, tenant_keys in by_tenant.items():
        rows = [_row(key, meter.pending.pop(key)) for key in tenant_keys]
        try:
            with tenant_scope(tenant):
                async with platform.database.session() as session:
                    await session.execute(_insert(session, rows))
                    await session.commit()
        except Exception:
            logger.exception("ai usage of tenant %s not written; kept for the next flush", tenant)
            for row in rows:
                key = (
                    tenant,
                    row["day"],
                    row["plugin"],
                    row["task"],
                    row["provider"],
                    row["model"],
                )
                counts = meter.pending.setdefault(key, [0, 0, 0, 0, 0])
                for index, name in enumerate(
                    ("requests", "input_tokens", "output_tokens", "cost_nanos", "unpriced")
                ):
                    counts[index] += row[name]


async def record(
    platform: Platform,
    settings: TenantSettings,
    *,
    tenant_id: uuid.UUID,
    plugin: str,
    task: str,
    provider: str,
    model: str,
    usage: Usage,
    price: ModelPrice | None,
    buffered: bool,
) -> None:
    """Meter one answer; never raises (a meter failing must not lose the answer)."""
    cost = nanos_of(price.cost(usage)) if price is not None else 0
    key: UsageKey = (tenant_id, today(), plugin, task, provider, model)
    counts = [1, usage.input_tokens, usage.output_tokens, cost, 0 if price is not None else 1]
    meter = meter_of(platform)
    if buffered:
        pending = meter.pending.setdefault(key, [0, 0, 0, 0, 0])
        for index, value in enumerate(counts):
            pending[index] += value
        if time.monotonic() - meter.last_flush >= FLUSH_SECONDS:
            await flush(platform)
        return
    try:
        async with platform.database.session() as session:
            await session.execute(_insert(session, [_row(key, counts)]))
            spent = await _add_spend(platform, session, tenant_id, cost)
            await _check_budget(platform, session, settings, tenant_id, spent)
            await session.commit()
    except Exception:
        logger.exception("ai usage of tenant %s not metered", tenant_id)


async def _month_spend(session: AsyncSession, month_start: date) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(AiUsageRow.cost_nanos), 0)).where(
            AiUsageRow.day >= month_start
        )
    )
    return int(total or 0)


async def _add_spend(
    platform: Platform, session: AsyncSession, tenant_id: uuid.UUID, cost: int
) -> int:
    """The month's spend after this answer (read again when the cache is stale)."""
    meter = meter_of(platform)
    day = today()
    month = month_of(day)
    cached = meter.spend.get(tenant_id)
    now = time.monotonic()
    if cached is not None and cached[0] > now and cached[1] == month:
        spent = cached[2] + cost
        meter.spend[tenant_id] = (cached[0], month, spent)
        return spent
    spent = await _month_spend(session, day.replace(day=1))  # the upsert above is included
    meter.spend[tenant_id] = (now + SPEND_SECONDS, month, spent)
    return spent


async def month_spend(platform: Platform, tenant_id: uuid.UUID) -> int:
    """This month's estimated spend of the tenant, nano-dollars (cached briefly)."""
    meter = meter_of(platform)
    day = today()
    month = month_of(day)
    cached = meter.spend.get(tenant_id)
    now = time.monotonic()
    if cached is not None and cached[0] > now and cached[1] == month:
        return cached[2]
    async with platform.database.session() as session:
        spent = await _month_spend(session, day.replace(day=1))
    meter.spend[tenant_id] = (now + SPEND_SECONDS, month, spent)
    return spent


def exhausted(settings: TenantSettings, spent: int) -> bool:
    return settings.monthly_budget is not None and spent >= nanos_of(settings.monthly_budget)


def percent_of(settings: TenantSettings, spent: int) -> float | None:
    if settings.monthly_budget is None:
        return None
    if settings.monthly_budget == 0:
        return 100.0 if spent >= 0 else 0.0
    return float(Decimal(spent) / NANOS / settings.monthly_budget * 100)


async def _once(session: AsyncSession, tenant_id: uuid.UUID, column: Any, month: str) -> bool:
    """Mark ``month`` in ``column`` unless it is there already; whether this call did."""
    result = await session.execute(
        update(AiSettingsRow)
        .where(AiSettingsRow.tenant_id == tenant_id)
        .where(or_(column.is_(None), column != month))
        .values({column.key: month})
    )
    return bool(getattr(result, "rowcount", 0))


async def _check_budget(
    platform: Platform,
    session: AsyncSession,
    settings: TenantSettings,
    tenant_id: uuid.UUID,
    spent: int,
) -> None:
    """Publish the soft warning and the hard stop, each once a month (in ``session``)."""
    budget = settings.monthly_budget
    percent = percent_of(settings, spent)
    if budget is None or percent is None:
        return
    month = month_of(today())
    common = {
        "month": month,
        "spent": str(dollars(spent)),
        "budget": str(budget),
        "percent": round(percent, 2),
    }
    if percent >= settings.budget_warning_percent and await _once(
        session, tenant_id, AiSettingsRow.budget_warned_for, month
    ):
        await platform.events.publish(
            session, BudgetWarning(**common, warning_percent=settings.budget_warning_percent)
        )
    if percent >= 100 and await _once(
        session, tenant_id, AiSettingsRow.budget_exhausted_for, month
    ):
        await platform.events.publish(session, BudgetExhausted(**common))
