"""Permissions of the payments plugin (tenant-scoped).

Owners hold every permission. Admins hold all six; supervisors read all payments, take
payments and refund (a refund above the tenant's approval threshold still needs a second
person with ``payments:approve``: admins); agents take payments (the caller pays during
their call) and read only those they took; integrators read all and ask for
reconciliations (reporting, their own finance systems)."""

from __future__ import annotations

from kernel import Permission

PAYMENTS_READ = Permission(
    "payments",
    "read",
    "See payments, their refunds and ledger entries; export them as CSV; read the payment "
    "settings.",
    ("admin", "supervisor", "agent", "integrator"),
)
PAYMENTS_ALL = Permission(
    "payments",
    "all",
    "See every payment of the organization and the reconciliations; without it, only the "
    "payments one took oneself.",
    ("admin", "supervisor", "integrator"),
)
PAYMENTS_CREATE = Permission(
    "payments",
    "create",
    "Take a payment through the organization's processor (with a payment method token).",
    ("admin", "supervisor", "agent"),
)
PAYMENTS_REFUND = Permission(
    "payments",
    "refund",
    "Refund a payment (fully or partly); above the approval threshold the refund waits for "
    "a second person's approval.",
    ("admin", "supervisor"),
)
PAYMENTS_APPROVE = Permission(
    "payments",
    "approve",
    "Approve another person's refund above the approval threshold; change the payment "
    "settings (processor, default currency, threshold).",
    ("admin",),
)
PAYMENTS_RECONCILE = Permission(
    "payments",
    "reconcile",
    "Ask for a reconciliation of the ledger with the processor over a period (the reports "
    "and their differences are read with payments:read).",
    ("admin", "integrator"),
)
PERMISSIONS = [
    PAYMENTS_READ,
    PAYMENTS_ALL,
    PAYMENTS_CREATE,
    PAYMENTS_REFUND,
    PAYMENTS_APPROVE,
    PAYMENTS_RECONCILE,
]
