"""The status machine and the append-only ledger: every change of a payment or a refund
goes through here, writes its entry and publishes its event, in the caller's transaction.

Payments move forward only: ``pending`` -> ``processing`` -> ``succeeded`` | ``failed`` |
``cancelled``, then ``succeeded`` -> ``partially_refunded`` -> ``refunded``. A late or
repeated processor event naming an earlier state changes nothing. One exception follows the
money: a payment marked ``failed`` because the processor could not be reached
(``processor_unavailable``) may still turn out ``succeeded`` (the charge went through before
the answer was lost)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Event, Platform, utcnow
from plugins.payments import events
from plugins.payments.models import (
    EntryKind,
    LedgerEntry,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)

UNAVAILABLE = "processor_unavailable"
"""The failure code of a payment whose processor never answered (its outcome unknown)."""

RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.PROCESSING: 1,
    PaymentStatus.SUCCEEDED: 2,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CANCELLED: 2,
    PaymentStatus.PARTIALLY_REFUNDED: 3,
    PaymentStatus.REFUNDED: 4,
}
SETTLED = {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED}
REFUNDABLE = {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED}
REFUND_RANK = {
    RefundStatus.PENDING_APPROVAL: 0,
    RefundStatus.PENDING: 1,
    RefundStatus.SUCCEEDED: 2,
    RefundStatus.FAILED: 2,
    RefundStatus.REJECTED: 2,
}
RELEASED = {RefundStatus.FAILED, RefundStatus.REJECTED}
"""A refund that ends so gives its reservation back."""


def may_move(payment: Payment, to: PaymentStatus) -> bool:
    """Whether ``payment`` may go to ``to`` (never backwards, never between outcomes)."""
    current = PaymentStatus(payment.status)
    if current == to:
        return False
    if (
        current == PaymentStatus.FAILED
        and payment.failure_code == UNAVAILABLE
        and to == PaymentStatus.SUCCEEDED
    ):
        return True
    if current in SETTLED and to in SETTLED:
        return False
    return RANK[to] > RANK[current]


async def _append(
    session: AsyncSession,
    payment: Payment,
    *,
    kind: EntryKind,
    source: str,
    from_status: str | None = None,
    to_status: str | None = None,
    amount: int = 0,
    refund: Refund | None = None,
    processor_event_id: str | None = None,
    note: str | None = None,
) -> None:
    await session.flush()
    last = await session.scalar(
        select(func.max(LedgerEntry.sequence)).where(LedgerEntry.payment_id == payment.id)
    )
    session.add(
        LedgerEntry(
            payment_id=payment.id,
            refund_id=refund.id if refund is not None else None,
            sequence=(last or 0) + 1,
            kind=kind.value,
            from_status=from_status,
            to_status=to_status,
            amount=amount,
            currency=payment.currency,
            source=source,
            processor_event_id=processor_event_id,
            note=note,
            created_at=utcnow(),
        )
    )


def payment_fields(payment: Payment) -> dict[str, object]:
    return {
        "payment_id": payment.id,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": payment.status,
        "refunded_amount": payment.refunded_amount,
        "processor": payment.processor,
        "processor_payment_id": payment.processor_payment_id,
        "capture_path": payment.capture_path,
        "call_id": payment.call_id,
        "contact_id": payment.contact_id,
        "agent_id": payment.agent_id,
    }


def refund_fields(refund: Refund, payment: Payment) -> dict[str, object]:
    return {
        "refund_id": refund.id,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "agent_id": payment.agent_id,
    }


async def record_created(
    platform: Platform, session: AsyncSession, payment: Payment, *, source: str = "api"
) -> None:
    await _append(
        session,
        payment,
        kind=EntryKind.PAYMENT_STATUS,
        source=source,
        to_status=payment.status,
        note=f"{payment.capture_path} payment of {payment.amount} {payment.currency}",
    )
    await platform.events.publish(session, events.PaymentCreated(**payment_fields(payment)))


async def move_payment(
    platform: Platform,
    session: AsyncSession,
    payment: Payment,
    to: PaymentStatus,
    *,
    source: str,
    processor_event_id: str | None = None,
    failure_code: str | None = None,
    failure_reason: str | None = None,
) -> bool:
    """Move ``payment`` to ``to`` if the machine allows it (entry, money, event); False when
    it would go backwards (nothing written)."""
    if not may_move(payment, to):
        return False
    before = payment.status
    payment.status = to.value
    if to == PaymentStatus.FAILED:
        payment.failure_code = failure_code
        payment.failure_reason = failure_reason
    elif to == PaymentStatus.SUCCEEDED:
        payment.failure_code = payment.failure_reason = None
    if to in SETTLED:
        payment.settled_at = utcnow()
    await _append(
        session,
        payment,
        kind=EntryKind.PAYMENT_STATUS,
        source=source,
        from_status=before,
        to_status=to.value,
        processor_event_id=processor_event_id,
        note=failure_reason[:500] if failure_reason else None,
    )
    event: Event | None = None
    fields = payment_fields(payment)
    if to == PaymentStatus.SUCCEEDED:
        await _append(
            session,
            payment,
            kind=EntryKind.CHARGE,
            source=source,
            amount=payment.amount,
            processor_event_id=processor_event_id,
        )
        event = events.PaymentSucceeded(**fields)
    elif to == PaymentStatus.FAILED:
        event = events.PaymentFailed(
            **fields,
            failure_code=failure_code,
            failure_reason=failure_reason,
        )
    elif to == PaymentStatus.CANCELLED:
        event = events.PaymentCancelled(**fields)
    if event is not None:
        await platform.events.publish(session, event)
    return True


async def record_refund_created(
    platform: Platform, session: AsyncSession, payment: Payment, refund: Refund
) -> None:
    await _append(
        session,
        payment,
        kind=EntryKind.REFUND_STATUS,
        source="api",
        to_status=refund.status,
        refund=refund,
        note=f"refund of {refund.amount} {refund.currency} asked",
    )
    await platform.events.publish(session, events.RefundCreated(**refund_fields(refund, payment)))


async def move_refund(
    platform: Platform,
    session: AsyncSession,
    payment: Payment,
    refund: Refund,
    to: RefundStatus,
    *,
    source: str,
    processor_event_id: str | None = None,
    failure_reason: str | None = None,
) -> bool:
    """Move ``refund`` forward; a refund that succeeds moves its amount from reserved to
    refunded (and the payment to ``partially_refunded``/``refunded``); one that fails
    releases its reservation, as does one rejected while waiting for approval. False
    (nothing written) when it would go backwards."""
    current = RefundStatus(refund.status)
    if current == to or REFUND_RANK[to] <= REFUND_RANK[current]:
        return False
    before = refund.status
    refund.status = to.value
    if to == RefundStatus.SUCCEEDED or to in RELEASED:
        refund.settled_at = utcnow()
        payment.reserved_amount = max(0, payment.reserved_amount - refund.amount)
    if to in RELEASED:
        refund.failure_reason = failure_reason
    await _append(
        session,
        payment,
        kind=EntryKind.REFUND_STATUS,
        source=source,
        from_status=before,
        to_status=to.value,
        refund=refund,
        processor_event_id=processor_event_id,
        note=failure_reason[:500] if failure_reason else None,
    )
    if to == RefundStatus.SUCCEEDED:
        payment.refunded_amount += refund.amount
        await _append(
            session,
            payment,
            kind=EntryKind.REFUND,
            source=source,
            amount=-refund.amount,
            refund=refund,
            processor_event_id=processor_event_id,
        )
        status = (
            PaymentStatus.REFUNDED
            if payment.refunded_amount >= payment.amount
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        if payment.status != status.value:
            await _append(
                session,
                payment,
                kind=EntryKind.PAYMENT_STATUS,
                source=source,
                from_status=payment.status,
                to_status=status.value,
                refund=refund,
                processor_event_id=processor_event_id,
            )
            payment.status = status.value
        await platform.events.publish(
            session, events.RefundSucceeded(**refund_fields(refund, payment))
        )
        await platform.events.publish(
            session,
            events.PaymentRefunded(**payment_fields(payment), refund_id=refund.id),
        )
    elif to == RefundStatus.FAILED:
        await platform.events.publish(
            session,
            events.RefundFailed(**refund_fields(refund, payment), failure_reason=failure_reason),
        )
    elif to == RefundStatus.REJECTED:
        await platform.events.publish(
            session,
            events.RefundRejected(**refund_fields(refund, payment), reason=failure_reason),
        )
    return True
