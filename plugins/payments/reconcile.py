"""Reconciliation: the ledger compared with the processor over a period, every difference
reported (a row and an event), the ledger brought forward where the processor knows an
outcome it missed (a lost webhook), never backwards.

A run is asked for through the API or made daily for the day before (UTC, at 01:00, while
the organization has a processor) and done by the ``payments.reconcile`` job, one run at a
time per organization. Payments are compared by the processor's id, or by the ledger id the
processor keeps in its metadata (a payment whose answer was lost has no processor id yet).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    DependencyError,
    Platform,
    RejectedError,
    SecretUnavailableError,
    utcnow,
)
from plugins.payments import events, service
from plugins.payments import settings as payment_settings
from plugins.payments.models import (
    DifferenceKind,
    Payment,
    PaymentStatus,
    Reconciliation,
    ReconciliationDifference,
    ReconciliationStatus,
)
from plugins.payments.processor import PaymentProcessor, ProcessorPayment, ProcessorStatus
from plugins.payments.registry import build_processor

logger = logging.getLogger(__name__)
T = TypeVar("T")

TOPIC = "payments.reconcile"
MARGIN = timedelta(minutes=15)
"""The processor's list is read this much wider than the period: its ``created`` is a few
seconds after the ledger's, so a payment at the period's edge is still found."""
MAX_PERIOD = timedelta(days=31)
RUNS_PER_PASS = 5
ABANDONED_AFTER = timedelta(hours=1)
"""A run still ``running`` this long after it started died with its worker: it is queued
again."""
SCHEDULE_HOUR = 1
"""The daily run for the day before starts at 01:00 UTC (late webhooks have landed)."""

AS_PROCESSOR = {
    PaymentStatus.PROCESSING: ProcessorStatus.PROCESSING,
    PaymentStatus.SUCCEEDED: ProcessorStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED: ProcessorStatus.SUCCEEDED,
    PaymentStatus.REFUNDED: ProcessorStatus.SUCCEEDED,
    PaymentStatus.FAILED: ProcessorStatus.FAILED,
    PaymentStatus.CANCELLED: ProcessorStatus.CANCELLED,
}
"""The ledger's status in the processor's vocabulary (``pending``: never sent)."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: DifferenceKind
    note: str


def compare(payment: Payment, found: ProcessorPayment) -> list[Finding]:
    """What the ledger and the processor disagree on about one payment."""
    findings: list[Finding] = []
    if (payment.amount, payment.currency) != (found.amount, found.currency.lower()):
        findings.append(
            Finding(
                DifferenceKind.AMOUNT,
                f"the ledger has {payment.amount} {payment.currency}, the processor "
                f"{found.amount} {found.currency.lower()}",
            )
        )
    ours = AS_PROCESSOR.get(PaymentStatus(payment.status))
    if ours != found.status:
        findings.append(
            Finding(
                DifferenceKind.STATUS,
                f"the ledger says {payment.status}, the processor {found.status.value}",
            )
        )
    elif ours == ProcessorStatus.SUCCEEDED and payment.refunded_amount != found.amount_refunded:
        pending = (
            f"; {payment.reserved_amount} is in refunds still pending in the ledger"
            if payment.reserved_amount
            else ""
        )
        findings.append(
            Finding(
                DifferenceKind.REFUNDED,
                f"the ledger has {payment.refunded_amount} refunded, the processor "
                f"{found.amount_refunded}{pending}",
            )
        )
    return findings


def scheduled_period(now: datetime) -> tuple[datetime, datetime] | None:
    """The period the daily run reconciles at ``now``: the UTC day before, ``[start,
    end)``; None before 01:00 UTC (its late notifications may still come)."""
    if now.astimezone(UTC).hour < SCHEDULE_HOUR:
        return None
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=1), end


def next_schedule(now: datetime) -> datetime:
    today = now.astimezone(UTC).replace(hour=SCHEDULE_HOUR, minute=0, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


async def request(
    platform: Platform,
    session: AsyncSession,
    *,
    processor: str,
    start: datetime,
    end: datetime,
    trigger: str,
    requested_by: str | None,
) -> Reconciliation:
    """Queue a run (the caller commits) and wake the job."""
    run = Reconciliation(
        processor=processor,
        period_start=start,
        period_end=end,
        status=ReconciliationStatus.QUEUED.value,
        trigger=trigger,
        requested_by=requested_by,
        ledger_payments=0,
        processor_payments=0,
        matched=0,
        differences=0,
        corrected=0,
    )
    session.add(run)
    await session.flush()
    await platform.jobs.wake(session, TOPIC)
    return run


async def reconcile_job(platform: Platform, tenant_id: uuid.UUID) -> datetime | None:
    """Job ``payments.reconcile``: the scheduled run for the day before when it is due, then
    the queued runs, oldest first. Next due: at once while runs wait, else tomorrow's
    schedule while the organization has a processor."""
    now = utcnow()
    async with platform.database.session() as session:
        # A run still marked running long after it started was cut short by a crash: again.
        await session.execute(
            update(Reconciliation)
            .where(
                Reconciliation.status == ReconciliationStatus.RUNNING.value,
                Reconciliation.started_at < now - ABANDONED_AFTER,
            )
            .values(status=ReconciliationStatus.QUEUED.value)
            .execution_options(synchronize_session=False)
        )
        processor = (await payment_settings.current(session)).processor
        if processor is not None:
            await _schedule(platform, session, processor, now)
        queued = list(
            await session.scalars(
                select(Reconciliation.id)
                .where(Reconciliation.status == ReconciliationStatus.QUEUED.value)
                .order_by(Reconciliation.created_at, Reconciliation.id)
                .limit(RUNS_PER_PASS + 1)
            )
        )
        await session.commit()
    for run_id in queued[:RUNS_PER_PASS]:
        await run(platform, tenant_id, run_id)
    if len(queued) > RUNS_PER_PASS:
        return utcnow()
    return next_schedule(now) if processor is not None else None


async def _schedule(
    platform: Platform, session: AsyncSession, processor: str, now: datetime
) -> None:
    """Queue the day before's daily run unless it was queued already."""
    period = scheduled_period(now)
    if period is None:
        return
    start, end = period
    exists = await session.scalar(
        select(Reconciliation.id).where(
            Reconciliation.trigger == "schedule",
            Reconciliation.period_start == start,
            Reconciliation.period_end == end,
        )
    )
    if exists is None:
        await request(
            platform,
            session,
            processor=processor,
            start=start,
            end=end,
            trigger="schedule",
            requested_by=None,
        )


async def run(platform: Platform, tenant_id: uuid.UUID, run_id: uuid.UUID) -> None:
    """Do one queued run and record its outcome (``completed`` or ``failed``)."""
    async with platform.database.session() as session:
        found = await _load(session, run_id)
        if found is None or found.status != ReconciliationStatus.QUEUED.value:
            return
        found.status = ReconciliationStatus.RUNNING.value
        found.started_at = utcnow()
        await session.commit()
        processor = build_processor(platform, found.processor, tenant_id, job=TOPIC)
        try:
            if processor is None:
                raise _Unreachable(f"the processor {found.processor} is not installed")
            await _reconcile(platform, session, found, processor)
            found.status = ReconciliationStatus.COMPLETED.value
        except Exception as exc:
            if not isinstance(exc, _Unreachable):
                logger.exception("reconciliation %s failed", run_id)
            await session.rollback()
            found = await _load(session, run_id)
            assert found is not None
            found.status = ReconciliationStatus.FAILED.value
            found.error = (
                str(exc) if isinstance(exc, _Unreachable) else "an internal error (logged)"
            )[:500]
        found.finished_at = utcnow()
        await platform.events.publish(
            session,
            events.ReconciliationCompleted(
                reconciliation_id=found.id,
                processor=found.processor,
                period_start=found.period_start,
                period_end=found.period_end,
                status=found.status,
                ledger_payments=found.ledger_payments,
                processor_payments=found.processor_payments,
                matched=found.matched,
                differences=found.differences,
                corrected=found.corrected,
                error=found.error,
            ),
        )
        await session.commit()


async def _load(session: AsyncSession, run_id: uuid.UUID) -> Reconciliation | None:
    """The run as the database has it now."""
    return await session.scalar(
        select(Reconciliation)
        .where(Reconciliation.id == run_id)
        .execution_options(populate_existing=True)
    )


class _Unreachable(Exception):
    """The processor could not be asked: the run fails, saying why."""


class _Missing(Exception):
    """The processor does not know what was asked for (404)."""


async def _ask(
    platform: Platform, processor: PaymentProcessor, attempt: Callable[[], Awaitable[T]], what: str
) -> T:
    """One request to the processor through the resilience helper (timeout, retries, the
    organization's breaker); what makes the run fail raises :class:`_Unreachable`."""
    try:
        return await platform.resilience.call(processor.name, attempt, classify=processor.classify)
    except RejectedError as exc:
        if exc.status == 404:
            raise _Missing(what) from exc
        raise _Unreachable(f"the processor refused {what} (HTTP {exc.status})") from exc
    except SecretUnavailableError as exc:
        raise _Unreachable("the organization's processor keys are missing") from exc
    except DependencyError as exc:
        raise _Unreachable(f"the processor did not answer: {exc}") from exc


async def _list(
    platform: Platform, processor: PaymentProcessor, start: datetime, end: datetime
) -> Sequence[ProcessorPayment]:
    async def attempt() -> Sequence[ProcessorPayment]:
        return await processor.list_payments(start=start, end=end)

    try:
        return await _ask(platform, processor, attempt, "the list")
    except _Missing as exc:
        raise _Unreachable("the processor has no list of payments (HTTP 404)") from exc


async def _retrieve(
    platform: Platform, processor: PaymentProcessor, processor_payment_id: str
) -> ProcessorPayment | None:
    """The processor's payment, or None when it does not know it (404)."""

    async def attempt() -> ProcessorPayment:
        return await processor.retrieve_payment(processor_payment_id)

    try:
        return await _ask(platform, processor, attempt, "a lookup")
    except _Missing:
        return None


def _ledger_id(found: ProcessorPayment) -> uuid.UUID | None:
    try:
        value = found.metadata.get("kraliki_payment_id")
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _reconcile(
    platform: Platform,
    session: AsyncSession,
    run_row: Reconciliation,
    processor: PaymentProcessor,
) -> None:
    start, end = run_row.period_start, run_row.period_end
    listed = await _list(platform, processor, start - MARGIN, end + MARGIN)
    by_id = {p.id: p for p in listed if p.id}
    by_ledger_id = {own: p for p in listed if (own := _ledger_id(p)) is not None}
    ledger_rows = list(
        await session.scalars(
            select(Payment)
            .where(
                Payment.processor == run_row.processor,
                Payment.created_at >= start,
                Payment.created_at < end,
            )
            .order_by(Payment.created_at, Payment.id)
        )
    )
    await session.commit()  # no transaction held while the processor answers
    claimed: set[str] = set()
    differences: list[ReconciliationDifference] = []
    matched = 0
    for payment in ledger_rows:
        found = by_id.get(payment.processor_payment_id or "") or by_ledger_id.get(payment.id)
        if found is None and payment.processor_payment_id:
            found = await _retrieve(platform, processor, payment.processor_payment_id)
            if found is None:
                differences.append(
                    _difference(
                        run_row,
                        DifferenceKind.MISSING_AT_PROCESSOR,
                        payment,
                        None,
                        "the processor does not know this payment",
                    )
                )
                continue
        if found is None:
            # Never reached the processor (refused, keys missing, or it did not answer and
            # has no payment for it): nothing to compare.
            matched += 1
            continue
        claimed.add(found.id)
        findings = compare(payment, found)
        if not findings:
            matched += 1
            continue
        for finding in findings:
            difference = _difference(run_row, finding.kind, payment, found, finding.note)
            if finding.kind == DifferenceKind.STATUS and await _bring_forward(
                platform, session, payment.id, found
            ):
                difference.corrected = True
                difference.note = (
                    f"{finding.note}; the ledger was brought forward to the processor's outcome"
                )[:500]
            differences.append(difference)
    unclaimed = [
        p
        for p in listed
        if p.id not in claimed and (p.created_at is None or start <= p.created_at < end)
    ]
    differences.extend(await _missing_in_ledger(session, run_row, unclaimed))

    run_row = await _load(session, run_row.id) or run_row
    run_row.ledger_payments = len(ledger_rows)
    run_row.processor_payments = sum(
        1 for p in listed if p.created_at is None or start <= p.created_at < end
    )
    run_row.matched = matched
    run_row.differences = len(differences)
    run_row.corrected = sum(1 for d in differences if d.corrected)
    for difference in differences:
        session.add(difference)
        await platform.events.publish(
            session,
            events.ReconciliationDifferenceFound(
                reconciliation_id=run_row.id,
                kind=difference.kind,
                payment_id=difference.payment_id,
                processor_payment_id=difference.processor_payment_id,
                currency=difference.currency,
                ledger_status=difference.ledger_status,
                processor_status=difference.processor_status,
                ledger_amount=difference.ledger_amount,
                processor_amount=difference.processor_amount,
                ledger_refunded=difference.ledger_refunded,
                processor_refunded=difference.processor_refunded,
                corrected=difference.corrected,
                note=difference.note,
            ),
        )


async def _bring_forward(
    platform: Platform, session: AsyncSession, payment_id: uuid.UUID, found: ProcessorPayment
) -> bool:
    """Move the ledger to the processor's outcome when the ledger may go there (a lost
    webhook); committed at once. Whether it moved."""
    payment = await service.get_payment(session, payment_id, for_update=True)
    moved = await service.apply_payment(platform, session, payment, found, source="reconciliation")
    await session.commit()
    return moved


async def _missing_in_ledger(
    session: AsyncSession, run_row: Reconciliation, unclaimed: Sequence[ProcessorPayment]
) -> list[ReconciliationDifference]:
    """The processor's payments of the period no ledger row of the period took. One the
    ledger has in another period (created across midnight) is that period's business."""
    if not unclaimed:
        return []
    ids = [p.id for p in unclaimed]
    own_ids = [own for p in unclaimed if (own := _ledger_id(p)) is not None]
    known = await session.execute(
        select(Payment.id, Payment.processor_payment_id).where(
            Payment.processor == run_row.processor,
            or_(Payment.processor_payment_id.in_(ids), Payment.id.in_(own_ids)),
        )
    )
    known_ids = set()
    for own, processor_id in known:
        known_ids.add(str(own))
        if processor_id:
            known_ids.add(processor_id)
    await session.commit()
    return [
        _difference(
            run_row,
            DifferenceKind.MISSING_IN_LEDGER,
            None,
            p,
            "the processor has this payment; the ledger has none (made outside the platform?)",
        )
        for p in unclaimed
        if p.id not in known_ids and str(_ledger_id(p)) not in known_ids
    ]


def _difference(
    run_row: Reconciliation,
    kind: DifferenceKind,
    payment: Payment | None,
    found: ProcessorPayment | None,
    note: str,
) -> ReconciliationDifference:
    return ReconciliationDifference(
        reconciliation_id=run_row.id,
        kind=kind.value,
        payment_id=payment.id if payment is not None else None,
        processor_payment_id=(
            found.id if found is not None else payment.processor_payment_id if payment else None
        ),
        currency=payment.currency if payment is not None else found.currency if found else None,
        ledger_status=payment.status if payment is not None else None,
        processor_status=found.status.value if found is not None else None,
        ledger_amount=payment.amount if payment is not None else None,
        processor_amount=found.amount if found is not None else None,
        ledger_refunded=payment.refunded_amount if payment is not None else None,
        processor_refunded=found.amount_refunded if found is not None else None,
        corrected=False,
        note=note[:500],
    )
