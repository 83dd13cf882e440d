"""A secure capture's progress from a provider's webhook: noted on the call's timeline (a
count of digits, never the digits) and handed to the plugins that keep payments
(``kraliki_call_payment_progress``) under a savepoint, so a plugin that fails loses its own
writes, not the webhook."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.calls import service
from plugins.calls.models import Call
from plugins.calls.provider import PaymentProgress

logger = logging.getLogger(__name__)

HOOK = "kraliki_call_payment_progress"


async def apply_payment_progress(
    platform: Platform, session: AsyncSession, call: Call, progress: PaymentProgress
) -> None:
    outcome = progress.capture
    service.note(
        session,
        call,
        "payment-progress",
        source="provider",
        occurred_at=progress.occurred_at,
        field=progress.field.value if progress.field else None,
        digits=progress.digits or None,
        partial=progress.partial or None,
        error=progress.error,
        result=outcome.result if outcome else None,
    )
    try:
        async with session.begin_nested():
            await platform.hooks.collect(
                HOOK, platform=platform, session=session, call=call, progress=progress
            )
    except Exception:
        logger.exception("call %s: a plugin failed to take a payment's progress", call.id)
        service.note(session, call, "handler-failed", source="payments", turn="payment")
