"""Applying what a processor's webhook says, for processor plugins (through the public API):
de-duplicated on the event id, never moving a payment or a refund backwards. The event is
kept redacted (its type and the ids it names), never its body."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.payments import service
from plugins.payments.models import Payment, ProcessorEvent, Refund
from plugins.payments.processor import ProcessorPayment, ProcessorRefund


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def seen(session: AsyncSession, *, processor: str, event_id: str) -> bool:
    """Whether this event was applied already (a redelivery)."""
    found = await session.scalar(
        select(ProcessorEvent.id).where(
            ProcessorEvent.processor == processor, ProcessorEvent.event_id == event_id
        )
    )
    return found is not None


async def _payment_of(
    session: AsyncSession, processor: str, processor_id: str, metadata: dict[str, str]
) -> Payment | None:
    own = _uuid(metadata.get("kraliki_payment_id"))
    query = select(Payment).where(Payment.processor == processor).with_for_update()
    if own is not None:
        found = await session.scalar(query.where(Payment.id == own))
        if found is not None:
            return found
    return await session.scalar(query.where(Payment.processor_payment_id == processor_id))


async def apply_event(
    platform: Platform,
    session: AsyncSession,
    *,
    processor: str,
    event_id: str,
    event_type: str,
    payment: ProcessorPayment | None = None,
    refund: ProcessorRefund | None = None,
) -> str:
    """Apply one verified processor event in the tenant's scope and commit; the outcome:
    ``duplicate`` (seen before: nothing changed), ``applied``, ``stale`` (older than what
    the ledger knows), ``unknown`` (names nothing of the tenant's) or ``ignored``."""
    if await seen(session, processor=processor, event_id=event_id):
        return "duplicate"
    outcome = "ignored"
    object_id = None
    if payment is not None:
        object_id = payment.id
        row = await _payment_of(session, processor, payment.id, dict(payment.metadata))
        if row is None:
            outcome = "unknown"
        else:
            changed = await service.apply_payment(
                platform, session, row, payment, source="webhook", processor_event_id=event_id
            )
            outcome = "applied" if changed else "stale"
    elif refund is not None:
        object_id = refund.id
        outcome = await _apply_refund(platform, session, processor, event_id, refund)
    session.add(
        ProcessorEvent(
            processor=processor,
            event_id=event_id,
            event_type=event_type[:128],
            object_id=object_id,
            outcome=outcome,
        )
    )
    try:
        await session.commit()
    except IntegrityError:  # the same event, delivered twice at once: the other one applied it
        await session.rollback()
        return "duplicate"
    return outcome


async def _apply_refund(
    platform: Platform,
    session: AsyncSession,
    processor: str,
    event_id: str,
    answer: ProcessorRefund,
) -> str:
    row = await _payment_of(session, processor, answer.payment_id, dict(answer.metadata))
    if row is None:
        return "unknown"
    query = select(Refund).where(Refund.payment_id == row.id)
    own = _uuid(answer.metadata.get("kraliki_refund_id"))
    refund = await session.scalar(
        query.where(Refund.id == own)
        if own
        else query.where(Refund.processor_refund_id == answer.id)
    )
    if refund is None:
        return "unknown"  # made outside the platform: reconciliation reports it
    changed = await service.apply_refund(
        platform, session, row, refund, answer, source="webhook", processor_event_id=event_id
    )
    return "applied" if changed else "stale"
