"""Problem types of the payments plugin (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

PAYMENT_NOT_FOUND = define_problem(
    "payments-not-found",
    "Payment not found",
    404,
    "No payment of your organization has this id.",
)
REFUND_NOT_FOUND = define_problem(
    "payments-refund-not-found",
    "Refund not found",
    404,
    "No refund of this payment has this id.",
)
CURRENCY_INVALID = define_problem(
    "payments-currency-invalid",
    "Not an ISO 4217 currency",
    422,
    "`currency` must be an ISO 4217 code (`eur`, `USD`); the processor may take fewer.",
)
PROCESSOR_NOT_CONFIGURED = define_problem(
    "payments-processor-not-configured",
    "No payment processor",
    409,
    "The organization has not chosen a payment processor (PUT /api/v1/payments/settings) "
    "or not stored its keys in the vault.",
)
PROCESSOR_UNKNOWN = define_problem(
    "payments-processor-unknown",
    "Unknown payment processor",
    422,
    "No installed plugin offers a payment processor of this name (`available` lists them).",
)
NOT_REFUNDABLE = define_problem(
    "payments-not-refundable",
    "Payment cannot be refunded",
    409,
    "Only a payment that succeeded (or was refunded in part) can be refunded (`payment_status`).",
)
REFUND_EXCEEDS_REMAINDER = define_problem(
    "payments-refund-exceeds-remainder",
    "Refund larger than what is left",
    422,
    "A payment is never refunded more than it took: `remaining` is what is left to refund "
    "(after refunds that succeeded and those still pending or waiting for approval).",
)
REFUND_NOT_AWAITING_APPROVAL = define_problem(
    "payments-refund-not-awaiting-approval",
    "Refund is not waiting for approval",
    409,
    "Only a refund in `pending_approval` can be approved (`refund_status`).",
)
SELF_APPROVAL = define_problem(
    "payments-refund-self-approval",
    "A refund needs another person's approval",
    403,
    "The person who asked for a refund cannot approve it: another person with "
    "`payments:approve` must.",
)
SETTINGS_CONFLICT = define_problem(
    "payments-settings-conflict",
    "Settings changed meanwhile",
    412,
    "The settings changed since you read them (`If-Match`): read them again.",
)
RECONCILIATION_NOT_FOUND = define_problem(
    "payments-reconciliation-not-found",
    "Reconciliation not found",
    404,
    "No reconciliation of your organization has this id.",
)
RECONCILIATION_PERIOD_INVALID = define_problem(
    "payments-reconciliation-period-invalid",
    "Reconciliation period not valid",
    422,
    "`start` must be before `end`, `end` not in the future, and the period at most 31 days.",
)
CAPTURE_NOT_FOUND = define_problem(
    "payments-capture-not-found",
    "Capture not found",
    404,
    "No agent-assisted capture of yours has this id.",
)
CAPTURE_IN_PROGRESS = define_problem(
    "payments-capture-in-progress",
    "A capture is already open on this call",
    409,
    "Complete or cancel the call's open capture (`capture_id`) before starting another.",
)
CAPTURE_NOT_OPEN = define_problem(
    "payments-capture-not-open",
    "Capture no longer open",
    409,
    "The capture was completed, cancelled or has ended (`capture_status`): start a new one.",
)
CAPTURE_INCOMPLETE = define_problem(
    "payments-capture-incomplete",
    "Card details incomplete",
    409,
    "The provider still needs these fields (`required`): ask the caller for them first.",
)
