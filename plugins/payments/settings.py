"""The tenant's payment settings: processor, default currency, refund approval threshold."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, if_match_allows
from plugins.payments.currencies import normalize
from plugins.payments.models import PaymentSettings
from plugins.payments.problems import CURRENCY_INVALID, PROCESSOR_UNKNOWN, SETTINGS_CONFLICT
from plugins.payments.registry import processor_specs
from plugins.payments.schemas import PaymentSettingsIn


async def current(session: AsyncSession, *, for_update: bool = False) -> PaymentSettings:
    """The tenant's row, or the defaults (not added to the session) when it has none."""
    query = select(PaymentSettings)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        return PaymentSettings(default_currency="usd", version=0)
    return row


async def update(
    platform: Platform, session: AsyncSession, *, body: PaymentSettingsIn, if_match: str | None
) -> PaymentSettings:
    available = processor_specs(platform)
    if body.processor is not None and body.processor not in available:
        raise ProblemError(
            PROCESSOR_UNKNOWN, f"no processor {body.processor!r}", available=sorted(available)
        )
    currency = normalize(body.default_currency)
    if currency is None:
        raise ProblemError(CURRENCY_INVALID, f"{body.default_currency!r} is not ISO 4217")
    row = await current(session, for_update=True)
    if not if_match_allows(if_match, row.version or 0):
        raise ProblemError(SETTINGS_CONFLICT, f"the settings are at version {row.version or 0}")
    if row.version == 0:
        session.add(row)
    row.processor = body.processor
    row.default_currency = currency
    row.refund_approval_threshold = body.refund_approval_threshold
    row.version = (row.version or 0) + 1
    if row.processor is not None:
        await platform.jobs.wake(session, "payments.reconcile")  # the daily runs start
    await session.commit()
    return row
