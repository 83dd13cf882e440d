"""The public API of the ``payments`` plugin: the processor contract (what a processor
plugin implements and returns from ``kraliki_payment_processors``), the ledger's and the
reconciliations' tables and statuses, the permissions, and :func:`apply_processor_event`
for a processor's verified webhooks. Everything else in ``plugins.payments`` is private. See
``docs/plugins/payments.md``."""

from __future__ import annotations

from plugins.payments.inbound import apply_event as apply_processor_event
from plugins.payments.inbound import seen as processor_event_seen
from plugins.payments.models import (
    AgentCapture,
    AgentCaptureStatus,
    CapturePath,
    LedgerEntry,
    Payment,
    PaymentSettings,
    PaymentStatus,
    ProcessorEvent,
    Reconciliation,
    ReconciliationDifference,
    Refund,
    RefundStatus,
)
from plugins.payments.permissions import (
    PAYMENTS_APPROVE,
    PAYMENTS_CREATE,
    PAYMENTS_READ,
    PAYMENTS_REFUND,
    PERMISSIONS,
)
from plugins.payments.processor import (
    ChargeRequest,
    PaymentProcessor,
    ProcessorContext,
    ProcessorPayment,
    ProcessorRefund,
    ProcessorRefundStatus,
    ProcessorSpec,
    ProcessorStatus,
    RefundRequest,
)

__all__ = [
    "PAYMENTS_APPROVE",
    "PAYMENTS_CREATE",
    "PAYMENTS_READ",
    "PAYMENTS_REFUND",
    "PERMISSIONS",
    "AgentCapture",
    "AgentCaptureStatus",
    "CapturePath",
    "ChargeRequest",
    "LedgerEntry",
    "Payment",
    "PaymentProcessor",
    "PaymentSettings",
    "PaymentStatus",
    "ProcessorContext",
    "ProcessorEvent",
    "ProcessorPayment",
    "ProcessorRefund",
    "ProcessorRefundStatus",
    "ProcessorSpec",
    "ProcessorStatus",
    "Reconciliation",
    "ReconciliationDifference",
    "Refund",
    "RefundRequest",
    "RefundStatus",
    "apply_processor_event",
    "processor_event_seen",
]
