"""The processor contract: what a payment processor plugin (Stripe, yours) contributes
through ``kraliki_payment_processors`` and what the payments plugin asks of it.

A processor never sees card data from the platform: it charges a *token* (a payment method
id its own secure capture produced) and answers in the ledger's vocabulary. Amounts are
integers in the currency's minor unit; currencies are lower-case ISO 4217 codes.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from kernel import Classification, Platform, Principal


class ProcessorStatus(enum.StrEnum):
    """A payment's state at the processor, mapped onto the ledger's."""

    PROCESSING = "processing"
    """Accepted, not settled yet (the processor's webhook tells the outcome)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Declined or otherwise refused (``failure_code``, ``failure_reason``)."""
    CANCELLED = "cancelled"


class ProcessorRefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """Charge ``amount`` (minor units) of ``currency`` to ``payment_method`` (a token)."""

    payment_id: uuid.UUID
    amount: int
    currency: str
    payment_method: str
    description: str
    idempotency_key: str
    """The same for every attempt of this ledger operation: a retried request never charges
    twice. Send it as the processor's own idempotency key."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    """Tenant, payment, call and contact ids (never card data); echoed in the processor's
    webhooks so they find the ledger row."""


@dataclass(frozen=True, slots=True)
class RefundRequest:
    refund_id: uuid.UUID
    payment_id: uuid.UUID
    processor_payment_id: str
    amount: int
    currency: str
    idempotency_key: str
    reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProcessorPayment:
    """A payment as the processor knows it."""

    id: str
    status: ProcessorStatus
    amount: int
    currency: str
    amount_refunded: int = 0
    failure_code: str | None = None
    failure_reason: str | None = None
    """The processor's reason, safe to show (a decline message, never card data)."""
    created_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProcessorRefund:
    id: str
    status: ProcessorRefundStatus
    amount: int
    currency: str
    payment_id: str
    failure_reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProcessorContext:
    """What a processor is built with, per tenant and per use (never kept between uses)."""

    platform: Platform
    tenant_id: uuid.UUID
    principal: Principal | None = None
    """Who acts (a request), or None in background work (then ``job`` names it)."""
    job: str | None = None


@runtime_checkable
class PaymentProcessor(Protocol):
    """One processor for one tenant. Each method makes one attempt: the payments plugin
    wraps it in the kernel's resilience helper (timeout, retries of what :meth:`classify`
    calls transient, the tenant's breaker named after the processor). A decline is an
    answer (``ProcessorPayment`` with status ``failed``), not an exception."""

    name: str

    async def create_payment(self, request: ChargeRequest) -> ProcessorPayment:
        """Create and confirm a payment for the token."""
        ...

    async def refund(self, request: RefundRequest) -> ProcessorRefund:
        """Refund ``amount`` of a succeeded payment (full or partial)."""
        ...

    async def retrieve_payment(self, processor_payment_id: str) -> ProcessorPayment: ...

    async def list_payments(self, *, start: datetime, end: datetime) -> Sequence[ProcessorPayment]:
        """Every payment created in ``[start, end)`` (for reconciliation)."""
        ...

    def classify(self, exc: Exception) -> Classification | None:
        """``transient`` (retry), ``rejected`` (do not), ``other`` or None (the defaults)."""
        ...


@dataclass(frozen=True, slots=True)
class ProcessorSpec:
    """A processor a plugin contributes: its name (the plugin's own), a factory building it
    per tenant and use, and the vault secrets it needs (checked before a tenant selects it)."""

    name: str
    factory: Callable[[ProcessorContext], PaymentProcessor]
    description: str
    secrets: tuple[str, ...] = ()
    currencies: frozenset[str] | None = None
    """The currencies it takes (None: any ISO 4217 currency)."""
