"""Events the payments plugin publishes (catalogue in ``docs/events.md``).

Ids, amounts (minor units), currency and status: never card data (the ledger holds none)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from kernel import Event


class PaymentEvent(Event):
    permission = "payments:read"
    aggregate = "payment_id"
    audience = "agent_id"
    audience_permission = "payments:all"

    payment_id: uuid.UUID
    amount: int
    currency: str
    status: str
    refunded_amount: int = 0
    processor: str
    processor_payment_id: str | None = None
    capture_path: str
    call_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None


class PaymentCreated(PaymentEvent):
    name = "payments.payment.created"
    description = "A payment was recorded (`pending`) and is being sent to the processor."


class PaymentSucceeded(PaymentEvent):
    name = "payments.payment.succeeded"
    description = "The processor took the payment: the money is in."


class PaymentFailed(PaymentEvent):
    name = "payments.payment.failed"
    description = (
        "The payment failed: `failure_code` (the processor's, such as `card_declined`, or "
        "`processor_unavailable` when it could not be reached) and `failure_reason`."
    )

    failure_code: str | None = None
    failure_reason: str | None = None


class PaymentCancelled(PaymentEvent):
    name = "payments.payment.cancelled"
    description = "The payment was cancelled before it was taken."


class PaymentRefunded(PaymentEvent):
    name = "payments.payment.refunded"
    description = (
        "A refund of the payment succeeded: `refunded_amount` in all so far, `status` "
        "`partially_refunded` or `refunded`."
    )

    refund_id: uuid.UUID


class RefundEvent(Event):
    permission = "payments:read"
    aggregate = "payment_id"
    audience = "agent_id"
    audience_permission = "payments:all"

    refund_id: uuid.UUID
    payment_id: uuid.UUID
    amount: int
    currency: str
    status: str
    agent_id: uuid.UUID | None = None
    """Who took the payment (agents receive only their own payments' events)."""


class RefundCreated(RefundEvent):
    name = "payments.refund.created"
    description = (
        "A refund was asked for: `pending` (sent to the processor) or `pending_approval` "
        "(above the threshold, waiting for a second person)."
    )


class RefundSucceeded(RefundEvent):
    name = "payments.refund.succeeded"
    description = "The processor refunded the amount."


class RefundFailed(RefundEvent):
    name = "payments.refund.failed"
    description = (
        "The processor refused or failed the refund (`failure_reason`); the amount is "
        "refundable again."
    )

    failure_reason: str | None = None


class RefundRejected(RefundEvent):
    name = "payments.refund.rejected"
    description = (
        "A refund waiting for approval was turned down (`reason`): never sent to the "
        "processor; the amount is refundable again."
    )

    reason: str | None = None


class ReconciliationCompleted(Event):
    name = "payments.reconciliation.completed"
    description = (
        "A reconciliation of the ledger with the processor finished: `status` `completed` "
        "(with its counts) or `failed` (the processor could not be asked: `error`)."
    )
    permission = "payments:all"
    aggregate = "reconciliation_id"

    reconciliation_id: uuid.UUID
    processor: str
    period_start: datetime
    period_end: datetime
    status: str
    ledger_payments: int
    processor_payments: int
    matched: int
    differences: int
    corrected: int
    error: str | None = None


class ReconciliationDifferenceFound(Event):
    name = "payments.reconciliation.difference"
    description = (
        "A reconciliation found the ledger and the processor disagreeing about one payment: "
        "`kind` (`missing_at_processor`, `missing_in_ledger`, `status`, `amount`, "
        "`refunded`), both sides' figures, and whether the ledger was brought forward "
        "(`corrected`)."
    )
    permission = "payments:all"
    aggregate = "reconciliation_id"

    reconciliation_id: uuid.UUID
    kind: str
    payment_id: uuid.UUID | None = None
    processor_payment_id: str | None = None
    currency: str | None = None
    ledger_status: str | None = None
    processor_status: str | None = None
    ledger_amount: int | None = None
    processor_amount: int | None = None
    ledger_refunded: int | None = None
    processor_refunded: int | None = None
    corrected: bool = False
    note: str = ""


class CaptureEvent(Event):
    """An agent-assisted capture (or an IVR ``<Pay>``'s, without ``capture_id``) as it is
    now: which fields were keyed, how many digits, masked; never the digits."""

    permission = "payments:read"
    aggregate = "call_id"
    audience = "agent_id"
    audience_permission = "payments:all"

    call_id: uuid.UUID
    capture_id: uuid.UUID | None = None
    payment_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    """The agent driving the capture (only they, and holders of payments:all, receive it)."""
    status: str
    field: str | None = None
    fields: dict[str, dict[str, object]] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)


class CaptureStarted(CaptureEvent):
    name = "payments.capture.started"
    description = "An agent opened a secure card capture on a live call (`capturing`)."


class CaptureProgressed(CaptureEvent):
    name = "payments.capture.progress"
    description = (
        "The caller is keying card details: the agent asked for `field`, or the provider "
        "reported digits keyed (`fields`: per field `digits`, `masked` such as "
        "`xxxxxxxxxxxx4242`, `complete`, `error` such as `invalid-card-number`), and the "
        "fields still `required`. From an IVR payment too (no `capture_id`, no agent)."
    )


class CaptureEnded(CaptureEvent):
    name = "payments.capture.ended"
    description = (
        "The capture ended: `status` succeeded, failed or cancelled, with the provider's "
        "`result`; the payment's own events follow the ledger."
    )

    result: str | None = None


EVENT_TYPES: list[type[Event]] = [
    PaymentCreated,
    PaymentSucceeded,
    PaymentFailed,
    PaymentCancelled,
    PaymentRefunded,
    RefundCreated,
    RefundSucceeded,
    RefundFailed,
    RefundRejected,
    ReconciliationCompleted,
    ReconciliationDifferenceFound,
    CaptureStarted,
    CaptureProgressed,
    CaptureEnded,
]
