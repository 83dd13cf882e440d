"""Taking payments and refunding them through the tenant's processor. No HTTP here.

The ledger is written before the processor is called and committed, so a crash or a lost
answer leaves a row saying what was attempted (``processing``); the processor's own
idempotency key is derived from the ledger row, so every retry of one operation is the same
request to it and never charges (or refunds) twice."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    DependencyError,
    Platform,
    Principal,
    ProblemError,
    RejectedError,
    SecretUnavailableError,
    utcnow,
)
from plugins.payments import ledger
from plugins.payments import settings as payment_settings
from plugins.payments.currencies import normalize
from plugins.payments.models import (
    CapturePath,
    LedgerEntry,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from plugins.payments.problems import (
    CURRENCY_INVALID,
    NOT_REFUNDABLE,
    PAYMENT_NOT_FOUND,
    PROCESSOR_NOT_CONFIGURED,
    REFUND_EXCEEDS_REMAINDER,
    REFUND_NOT_AWAITING_APPROVAL,
    REFUND_NOT_FOUND,
    SELF_APPROVAL,
)
from plugins.payments.processor import (
    ChargeRequest,
    PaymentProcessor,
    ProcessorPayment,
    ProcessorRefund,
    ProcessorRefundStatus,
    ProcessorStatus,
    RefundRequest,
)
from plugins.payments.registry import build_processor

logger = logging.getLogger(__name__)

STATUS_OF = {
    ProcessorStatus.PROCESSING: PaymentStatus.PROCESSING,
    ProcessorStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ProcessorStatus.FAILED: PaymentStatus.FAILED,
    ProcessorStatus.CANCELLED: PaymentStatus.CANCELLED,
}
REFUND_STATUS_OF = {
    ProcessorRefundStatus.PENDING: RefundStatus.PENDING,
    ProcessorRefundStatus.SUCCEEDED: RefundStatus.SUCCEEDED,
    ProcessorRefundStatus.FAILED: RefundStatus.FAILED,
}


def charge_key(payment_id: uuid.UUID) -> str:
    return f"kraliki-payment-{payment_id}"


def refund_key(refund_id: uuid.UUID) -> str:
    return f"kraliki-refund-{refund_id}"


def user_id_of(principal: Principal) -> uuid.UUID | None:
    """The user behind ``principal`` (who took a payment); None for API keys."""
    if principal.kind != "user":
        return None
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


async def _processor(
    platform: Platform, session: AsyncSession, principal: Principal
) -> PaymentProcessor:
    chosen = (await payment_settings.current(session)).processor
    tenant_id = principal.tenant_id
    assert tenant_id is not None
    processor = (
        None
        if chosen is None
        else build_processor(platform, chosen, tenant_id, principal=principal)
    )
    if processor is None:
        raise ProblemError(PROCESSOR_NOT_CONFIGURED, "choose a processor in the payment settings")
    return processor


async def get_payment(
    session: AsyncSession, payment_id: uuid.UUID, *, for_update: bool = False
) -> Payment:
    query = select(Payment).where(Payment.id == payment_id)
    if for_update:  # locked, and as it is now (not as this session last saw it)
        query = query.with_for_update().execution_options(populate_existing=True)
    payment = await session.scalar(query)
    if payment is None:
        raise ProblemError(PAYMENT_NOT_FOUND, f"no payment {payment_id}")
    return payment


async def details(
    session: AsyncSession, payment_id: uuid.UUID
) -> tuple[Payment, list[Refund], list[LedgerEntry]]:
    payment = await get_payment(session, payment_id)
    refunds = (
        await session.scalars(
            select(Refund)
            .where(Refund.payment_id == payment_id)
            .order_by(Refund.created_at, Refund.id)
        )
    ).all()
    entries = (
        await session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.payment_id == payment_id)
            .order_by(LedgerEntry.sequence)
        )
    ).all()
    return payment, list(refunds), list(entries)


async def create_payment(
    platform: Platform,
    session: AsyncSession,
    *,
    principal: Principal,
    amount: int,
    currency: str | None,
    payment_method: str,
    description: str = "",
    call_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    metadata: Mapping[str, str] | None = None,
    capture_path: CapturePath = CapturePath.API,
) -> Payment:
    """Record the payment, charge the token through the tenant's processor, record the
    outcome. A decline is a ``failed`` payment (not an error); a processor that cannot be
    reached leaves it ``failed`` with ``processor_unavailable`` (a later webhook saying it
    succeeded still counts)."""
    chosen = await payment_settings.current(session)
    code = normalize(currency or chosen.default_currency)
    if code is None:
        raise ProblemError(CURRENCY_INVALID, f"{currency!r} is not an ISO 4217 currency")
    processor = await _processor(platform, session, principal)
    payment = Payment(
        amount=amount,
        currency=code,
        status=PaymentStatus.PENDING.value,
        refunded_amount=0,
        reserved_amount=0,
        processor=processor.name,
        payment_method=payment_method,
        call_id=call_id,
        contact_id=contact_id,
        agent_id=user_id_of(principal),
        capture_path=capture_path.value,
        description=description,
        payment_metadata=dict(metadata or {}),
        created_by=principal.label or principal.subject,
    )
    session.add(payment)
    await ledger.record_created(platform, session, payment)
    await ledger.move_payment(platform, session, payment, PaymentStatus.PROCESSING, source="api")
    await session.commit()

    request = ChargeRequest(
        payment_id=payment.id,
        amount=amount,
        currency=code,
        payment_method=payment_method,
        description=description,
        idempotency_key=charge_key(payment.id),
        metadata=_metadata(payment),
    )

    async def attempt() -> ProcessorPayment:
        return await processor.create_payment(request)

    answer: ProcessorPayment | None = None
    failure: tuple[str, str] | None = None
    try:
        answer = await platform.resilience.call(
            processor.name, attempt, classify=processor.classify
        )
    except RejectedError as exc:
        failure = ("processor_rejected", f"the processor refused the request (HTTP {exc.status})")
    except SecretUnavailableError:
        failure = ("processor_not_configured", "the organization's processor keys are missing")
    except DependencyError as exc:
        logger.warning("payment %s: processor %s unavailable: %s", payment.id, exc.dependency, exc)
        failure = (
            ledger.UNAVAILABLE,
            "the processor did not answer; if it took the payment after all, its "
            "notification marks it succeeded",
        )
    # Its webhook may have come first: the row as it is now, locked, decides.
    await session.refresh(payment, with_for_update=True)
    if answer is not None:
        await apply_payment(platform, session, payment, answer, source="processor")
    elif failure is not None:
        await ledger.move_payment(
            platform,
            session,
            payment,
            PaymentStatus.FAILED,
            source="processor",
            failure_code=failure[0],
            failure_reason=failure[1],
        )
    await session.commit()
    return payment


CAPTURED = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
    "cancelled": PaymentStatus.CANCELLED,
}


async def record_capture(
    platform: Platform,
    session: AsyncSession,
    *,
    call_id: uuid.UUID,
    amount: int,
    currency: str,
    description: str,
    status: str,
    provider_result: str,
    confirmation: str | None,
    error: str | None,
    metadata: Mapping[str, str],
    capture_path: CapturePath = CapturePath.IVR,
) -> tuple[Payment, bool]:
    """Record a payment the telephony provider's secure capture took (its connector charged
    the card at the organization's processor) or failed to take, in the caller's
    transaction; the payment and whether it is new (a redelivered result finds the first).
    The ledger gets the usual entries and events; the processor's own notification and
    reconciliation find it by ``confirmation``."""
    if confirmation:
        existing = await session.scalar(
            select(Payment).where(
                Payment.call_id == call_id, Payment.processor_payment_id == confirmation
            )
        )
        if existing is not None:
            return existing, False
    chosen = await payment_settings.current(session)
    payment = Payment(
        amount=amount,
        currency=currency,
        status=PaymentStatus.PENDING.value,
        refunded_amount=0,
        reserved_amount=0,
        processor=chosen.processor or "connector",
        processor_payment_id=confirmation,
        call_id=call_id,
        capture_path=capture_path.value,
        description=description,
        payment_metadata=dict(metadata),
        created_by=capture_path.value,
    )
    session.add(payment)
    await ledger.record_created(platform, session, payment, source="provider")
    await ledger.move_payment(
        platform, session, payment, PaymentStatus.PROCESSING, source="provider"
    )
    target = CAPTURED.get(status, PaymentStatus.FAILED)
    failed = target != PaymentStatus.SUCCEEDED
    await ledger.move_payment(
        platform,
        session,
        payment,
        target,
        source="provider",
        failure_code=provider_result[:64] if failed else None,
        failure_reason=(error or provider_result)[:500] if failed else None,
    )
    return payment, True


def _metadata(payment: Payment) -> dict[str, str]:
    found = {"kraliki_tenant_id": str(payment.tenant_id), "kraliki_payment_id": str(payment.id)}
    if payment.call_id:
        found["kraliki_call_id"] = str(payment.call_id)
    if payment.contact_id:
        found["kraliki_contact_id"] = str(payment.contact_id)
    return found


async def apply_payment(
    platform: Platform,
    session: AsyncSession,
    payment: Payment,
    answer: ProcessorPayment,
    *,
    source: str,
    processor_event_id: str | None = None,
) -> bool:
    """Bring the ledger up to what the processor says (never backwards); whether it
    changed anything."""
    if payment.processor_payment_id is None:
        payment.processor_payment_id = answer.id
    return await ledger.move_payment(
        platform,
        session,
        payment,
        STATUS_OF[answer.status],
        source=source,
        processor_event_id=processor_event_id,
        failure_code=answer.failure_code,
        failure_reason=answer.failure_reason,
    )


async def request_refund(
    platform: Platform,
    session: AsyncSession,
    *,
    principal: Principal,
    payment_id: uuid.UUID,
    amount: int | None,
    reason: str | None,
) -> Refund:
    """Reserve the amount under the payment's row lock (two refunds racing for the same
    remainder: the second sees the first's reservation), then send it, or leave it waiting
    for approval above the tenant's threshold."""
    threshold = (await payment_settings.current(session)).refund_approval_threshold
    payment = await get_payment(session, payment_id, for_update=True)
    if payment.status not in ledger.REFUNDABLE:
        raise ProblemError(
            NOT_REFUNDABLE, f"the payment is {payment.status}", payment_status=payment.status
        )
    remaining = payment.refundable
    wanted = remaining if amount is None else amount
    if wanted <= 0 or wanted > remaining:
        raise ProblemError(
            REFUND_EXCEEDS_REMAINDER,
            f"{wanted} is more than the {remaining} left to refund",
            remaining=remaining,
        )
    waits = threshold is not None and wanted > threshold
    refund = Refund(
        payment_id=payment.id,
        amount=wanted,
        currency=payment.currency,
        status=(RefundStatus.PENDING_APPROVAL if waits else RefundStatus.PENDING).value,
        reason=reason,
        requested_by=f"{principal.kind}:{principal.subject}",
        requested_by_label=principal.label or principal.subject,
    )
    session.add(refund)
    payment.reserved_amount += wanted
    await ledger.record_refund_created(platform, session, payment, refund)
    await session.commit()
    if not waits:
        await send_refund(platform, session, principal=principal, refund=refund)
    return refund


async def approve_refund(
    platform: Platform,
    session: AsyncSession,
    *,
    principal: Principal,
    payment_id: uuid.UUID,
    refund_id: uuid.UUID,
) -> Refund:
    payment = await get_payment(session, payment_id, for_update=True)
    refund = await _waiting_refund(session, payment, refund_id)
    if refund.requested_by == f"{principal.kind}:{principal.subject}":
        raise ProblemError(SELF_APPROVAL, "you asked for this refund")
    refund.approved_by = principal.label or principal.subject
    refund.approved_at = utcnow()
    await ledger.move_refund(
        platform, session, payment, refund, RefundStatus.PENDING, source="approval"
    )
    await session.commit()
    await send_refund(platform, session, principal=principal, refund=refund)
    return refund


async def reject_refund(
    platform: Platform,
    session: AsyncSession,
    *,
    principal: Principal,
    payment_id: uuid.UUID,
    refund_id: uuid.UUID,
    reason: str | None,
) -> Refund:
    """Turn down a refund waiting for approval (an approver, or its requester withdrawing
    it): never sent, its reservation released."""
    payment = await get_payment(session, payment_id, for_update=True)
    refund = await _waiting_refund(session, payment, refund_id)
    refund.approved_by = principal.label or principal.subject
    refund.approved_at = utcnow()
    await ledger.move_refund(
        platform,
        session,
        payment,
        refund,
        RefundStatus.REJECTED,
        source="approval",
        failure_reason=reason or f"rejected by {refund.approved_by}",
    )
    await session.commit()
    return refund


async def _waiting_refund(session: AsyncSession, payment: Payment, refund_id: uuid.UUID) -> Refund:
    refund = await session.scalar(
        select(Refund).where(Refund.id == refund_id, Refund.payment_id == payment.id)
    )
    if refund is None:
        raise ProblemError(REFUND_NOT_FOUND, f"no refund {refund_id}")
    if refund.status != RefundStatus.PENDING_APPROVAL:
        raise ProblemError(
            REFUND_NOT_AWAITING_APPROVAL,
            f"the refund is {refund.status}",
            refund_status=refund.status,
        )
    return refund


async def send_refund(
    platform: Platform, session: AsyncSession, *, principal: Principal, refund: Refund
) -> None:
    payment = await get_payment(session, refund.payment_id)
    processor = build_processor(platform, payment.processor, payment.tenant_id, principal=principal)
    if processor is None or payment.processor_payment_id is None:
        # Nothing to send it to: the refund fails and its reservation is released.
        payment = await get_payment(session, refund.payment_id, for_update=True)
        await ledger.move_refund(
            platform,
            session,
            payment,
            refund,
            RefundStatus.FAILED,
            source="processor",
            failure_reason=f"the processor {payment.processor} is not installed",
        )
        await session.commit()
        return
    request = RefundRequest(
        refund_id=refund.id,
        payment_id=payment.id,
        processor_payment_id=payment.processor_payment_id,
        amount=refund.amount,
        currency=refund.currency,
        idempotency_key=refund_key(refund.id),
        reason=refund.reason,
        metadata=_metadata(payment) | {"kraliki_refund_id": str(refund.id)},
    )
    await session.commit()  # no transaction held while the processor answers

    async def attempt() -> ProcessorRefund:
        return await processor.refund(request)

    outcome: ProcessorRefund | None = None
    failure: str | None = None
    try:
        outcome = await platform.resilience.call(
            processor.name, attempt, classify=processor.classify
        )
    except RejectedError as exc:
        failure = f"the processor refused the refund (HTTP {exc.status})"
    except DependencyError as exc:
        # Its outcome is unknown: the amount stays reserved until the processor's webhook
        # (or reconciliation) says what became of it.
        logger.warning("refund %s: processor %s unavailable: %s", refund.id, exc.dependency, exc)
    payment = await get_payment(session, refund.payment_id, for_update=True)
    await session.refresh(refund)
    if outcome is not None:
        await apply_refund(platform, session, payment, refund, outcome, source="processor")
    elif failure is not None:
        await ledger.move_refund(
            platform,
            session,
            payment,
            refund,
            RefundStatus.FAILED,
            source="processor",
            failure_reason=failure,
        )
    await session.commit()


async def apply_refund(
    platform: Platform,
    session: AsyncSession,
    payment: Payment,
    refund: Refund,
    answer: ProcessorRefund,
    *,
    source: str,
    processor_event_id: str | None = None,
) -> bool:
    if refund.processor_refund_id is None:
        refund.processor_refund_id = answer.id
    return await ledger.move_refund(
        platform,
        session,
        payment,
        refund,
        REFUND_STATUS_OF[answer.status],
        source=source,
        processor_event_id=processor_event_id,
        failure_reason=answer.failure_reason,
    )
