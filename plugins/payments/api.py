"""``/api/v1/payments``: the ledger (listTransactions, CSV export, a payment with its
refunds and entries), taking a payment (createPayment), refunds (processRefund, approval)
and the organization's payment settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import ColumnElement, Select, false, select, true

from kernel import (
    CursorPage,
    IdempotencyKeyHeader,
    PageParamsDep,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    paginate,
    problem_responses,
    require,
)
from plugins.payments import export, service
from plugins.payments import settings as payment_settings
from plugins.payments.models import Payment, PaymentStatus
from plugins.payments.permissions import (
    PAYMENTS_ALL,
    PAYMENTS_APPROVE,
    PAYMENTS_CREATE,
    PAYMENTS_READ,
    PAYMENTS_REFUND,
)
from plugins.payments.problems import (
    CURRENCY_INVALID,
    NOT_REFUNDABLE,
    PAYMENT_NOT_FOUND,
    PROCESSOR_NOT_CONFIGURED,
    PROCESSOR_UNKNOWN,
    REFUND_EXCEEDS_REMAINDER,
    REFUND_NOT_AWAITING_APPROVAL,
    REFUND_NOT_FOUND,
    SELF_APPROVAL,
    SETTINGS_CONFLICT,
)
from plugins.payments.registry import processor_specs
from plugins.payments.schemas import (
    LedgerEntryOut,
    PaymentDetailOut,
    PaymentIn,
    PaymentOut,
    PaymentSettingsIn,
    PaymentSettingsOut,
    RefundIn,
    RefundOut,
    RefundRejectIn,
)

router = APIRouter(tags=["payments"])

Reader = Annotated[Principal, Depends(require(PAYMENTS_READ.resource, PAYMENTS_READ.action))]
Creator = Annotated[Principal, Depends(require(PAYMENTS_CREATE.resource, PAYMENTS_CREATE.action))]
Refunder = Annotated[Principal, Depends(require(PAYMENTS_REFUND.resource, PAYMENTS_REFUND.action))]
Approver = Annotated[
    Principal, Depends(require(PAYMENTS_APPROVE.resource, PAYMENTS_APPROVE.action))
]
Statuses = Annotated[list[PaymentStatus] | None, Query(description="One or more statuses.")]
CallId = Annotated[uuid.UUID | None, Query(description="Payments taken during this call.")]
ContactId = Annotated[uuid.UUID | None, Query(description="Payments of this contact.")]
Since = Annotated[datetime | None, Query(description="Created at or after (UTC).")]
Until = Annotated[datetime | None, Query(description="Created before (UTC).")]


def sees_all(principal: Principal) -> bool:
    return principal.can(PAYMENTS_ALL.resource, PAYMENTS_ALL.action)


def _own(principal: Principal) -> ColumnElement[bool]:
    """The payments ``principal`` reaches: all with ``payments:all``, else those they took."""
    if sees_all(principal):
        return true()
    user_id = service.user_id_of(principal)
    return Payment.agent_id == user_id if user_id is not None else false()


def _filtered(
    principal: Principal,
    status: list[PaymentStatus] | None,
    call_id: uuid.UUID | None,
    contact_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    query = select(Payment).where(_own(principal))
    if status:
        query = query.where(Payment.status.in_([s.value for s in status]))
    if call_id:
        query = query.where(Payment.call_id == call_id)
    if contact_id:
        query = query.where(Payment.contact_id == contact_id)
    if since:
        query = query.where(Payment.created_at >= since)
    if until:
        query = query.where(Payment.created_at < until)
    return query


@router.get("/settings", response_model=PaymentSettingsOut, summary="The payment settings")
async def get_payment_settings(
    _: Reader, session: SessionDep, platform: PlatformDep, response: Response
) -> PaymentSettingsOut:
    row = await payment_settings.current(session)
    response.headers["ETag"] = f'"{row.version or 0}"'
    return PaymentSettingsOut.of(row, sorted(processor_specs(platform)))


@router.put(
    "/settings",
    response_model=PaymentSettingsOut,
    summary="Change the payment settings",
    responses=problem_responses(PROCESSOR_UNKNOWN, CURRENCY_INVALID, SETTINGS_CONFLICT),
)
async def put_payment_settings(
    body: PaymentSettingsIn,
    _: Approver,
    session: SessionDep,
    platform: PlatformDep,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=200)] = None,
) -> PaymentSettingsOut:
    """The processor (its keys go to the vault: `PUT /api/v1/vault/secrets/stripe.secret_key`),
    the default currency and the refund approval threshold. `If-Match` with the `ETag` of
    your read refuses to overwrite someone else's change (412)."""
    row = await payment_settings.update(platform, session, body=body, if_match=if_match)
    response.headers["ETag"] = f'"{row.version}"'
    return PaymentSettingsOut.of(row, sorted(processor_specs(platform)))


@router.post(
    "",
    response_model=PaymentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Take a payment (createPayment)",
    responses=problem_responses(CURRENCY_INVALID, PROCESSOR_NOT_CONFIGURED),
)
async def create_payment(
    body: PaymentIn,
    principal: Creator,
    session: SessionDep,
    platform: PlatformDep,
    idempotency_key: IdempotencyKeyHeader,
) -> Response:
    """Charges the payment method token through the organization's processor and answers
    the payment as the ledger has it: `succeeded`, `failed` (a decline: `failure_code`,
    `failure_reason`), or `processing` (the processor's notification settles it). Send an
    `Idempotency-Key`: a retry with it never charges twice."""
    async with platform.idempotency.claim(
        idempotency_key,
        scope="payments.create",
        request=body.model_dump(mode="json"),
        principal=principal,
    ) as claim:
        if claim.replay is not None:
            return claim.replay
        payment = await service.create_payment(
            platform,
            session,
            principal=principal,
            amount=body.amount,
            currency=body.currency,
            payment_method=body.payment_method,
            description=body.description,
            call_id=body.call_id,
            contact_id=body.contact_id,
            metadata=body.metadata,
        )
        return await claim.complete(
            session,
            201,
            PaymentOut.of(payment),
            headers={"Location": f"/api/v1/payments/{payment.id}"},
        )


@router.get("", response_model=CursorPage[PaymentOut], summary="List payments (listTransactions)")
async def list_transactions(
    principal: Reader,
    session: SessionDep,
    page: PageParamsDep,
    status: Statuses = None,
    call_id: CallId = None,
    contact_id: ContactId = None,
    since: Since = None,
    until: Until = None,
) -> CursorPage[PaymentOut]:
    """Newest first. Without `payments:all` (agents): only the payments you took."""
    rows, cursor = await paginate(
        session,
        _filtered(principal, status, call_id, contact_id, since, until),
        order_by=[Payment.created_at, Payment.id],
        params=page,
    )
    return CursorPage(items=[PaymentOut.of(row) for row in rows], next_cursor=cursor)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    summary="Export payments as CSV",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_transactions(
    principal: Reader,
    platform: PlatformDep,
    status: Statuses = None,
    call_id: CallId = None,
    contact_id: ContactId = None,
    since: Since = None,
    until: Until = None,
) -> StreamingResponse:
    """Every payment the filters select, oldest first, amounts in minor units and in the
    currency's major unit. Streamed."""
    assert principal.tenant_id is not None
    return StreamingResponse(
        export.payments_csv(
            platform,
            tenant_id=principal.tenant_id,
            query=_filtered(principal, status, call_id, contact_id, since, until),
        ),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="payments.csv"'},
    )


@router.get(
    "/{payment_id}",
    response_model=PaymentDetailOut,
    summary="A payment, its refunds and ledger entries",
    responses=problem_responses(PAYMENT_NOT_FOUND),
)
async def get_payment(
    payment_id: uuid.UUID, principal: Reader, session: SessionDep
) -> PaymentDetailOut:
    payment, refunds, entries = await service.details(session, payment_id)
    if not sees_all(principal) and payment.agent_id != service.user_id_of(principal):
        raise ProblemError(PAYMENT_NOT_FOUND, f"no payment {payment_id}")
    return PaymentDetailOut(
        **PaymentOut.of(payment).model_dump(),
        refunds=[RefundOut.of(r) for r in refunds],
        ledger=[LedgerEntryOut.of(e) for e in entries],
    )


@router.post(
    "/{payment_id}/refunds",
    response_model=RefundOut,
    status_code=status.HTTP_201_CREATED,
    summary="Refund a payment (processRefund)",
    responses=problem_responses(PAYMENT_NOT_FOUND, NOT_REFUNDABLE, REFUND_EXCEEDS_REMAINDER),
)
async def process_refund(
    payment_id: uuid.UUID,
    body: RefundIn,
    principal: Refunder,
    session: SessionDep,
    platform: PlatformDep,
    idempotency_key: IdempotencyKeyHeader,
) -> Response:
    """Refunds `amount` (default: all that is left), never more than what is left. Above the
    organization's `refund_approval_threshold` the refund waits in `pending_approval` for
    another person's approval; otherwise it goes to the processor at once (`succeeded`,
    `failed`, or `pending` until its notification)."""
    async with platform.idempotency.claim(
        idempotency_key,
        scope="payments.refund",
        request={"payment_id": str(payment_id), **body.model_dump(mode="json")},
        principal=principal,
    ) as claim:
        if claim.replay is not None:
            return claim.replay
        refund = await service.request_refund(
            platform,
            session,
            principal=principal,
            payment_id=payment_id,
            amount=body.amount,
            reason=body.reason,
        )
        return await claim.complete(session, 201, RefundOut.of(refund))


@router.post(
    "/{payment_id}/refunds/{refund_id}/approve",
    response_model=RefundOut,
    summary="Approve a refund waiting for approval",
    responses=problem_responses(
        PAYMENT_NOT_FOUND, REFUND_NOT_FOUND, REFUND_NOT_AWAITING_APPROVAL, SELF_APPROVAL
    ),
)
async def approve_refund(
    payment_id: uuid.UUID,
    refund_id: uuid.UUID,
    principal: Approver,
    session: SessionDep,
    platform: PlatformDep,
) -> RefundOut:
    """Another person than the one who asked for it sends the refund to the processor."""
    refund = await service.approve_refund(
        platform, session, principal=principal, payment_id=payment_id, refund_id=refund_id
    )
    return RefundOut.of(refund)


@router.post(
    "/{payment_id}/refunds/{refund_id}/reject",
    response_model=RefundOut,
    summary="Turn down a refund waiting for approval",
    responses=problem_responses(PAYMENT_NOT_FOUND, REFUND_NOT_FOUND, REFUND_NOT_AWAITING_APPROVAL),
)
async def reject_refund(
    payment_id: uuid.UUID,
    refund_id: uuid.UUID,
    principal: Approver,
    session: SessionDep,
    platform: PlatformDep,
    body: RefundRejectIn | None = None,
) -> RefundOut:
    """The refund is never sent (`rejected`, with the reason in `failure_reason`) and its
    amount is refundable again."""
    refund = await service.reject_refund(
        platform,
        session,
        principal=principal,
        payment_id=payment_id,
        refund_id=refund_id,
        reason=body.reason if body is not None else None,
    )
    return RefundOut.of(refund)
