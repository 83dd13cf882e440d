"""The payments ledger: payments, refunds (each its own row), append-only entries recording
every status change and money movement, processor events already applied (de-duplication),
and the tenant's settings. Every table is tenant-owned (``tenant_id`` leads every key)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel import (
    Base,
    TenantOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    UUIDPrimaryKeyMixin,
    tenant_foreign_key,
)


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    """Recorded, not yet sent to the processor."""
    PROCESSING = "processing"
    """Sent; the processor has not settled it (its webhook will)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class RefundStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    """Above the tenant's threshold: waits for a second person with ``payments:approve``."""
    PENDING = "pending"
    """Sent to the processor (or about to be); its amount is reserved."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    """Waited for approval and was turned down: never sent, its amount refundable again."""


class CapturePath(enum.StrEnum):
    API = "api"
    """A payment method token given to ``POST /api/v1/payments``."""
    IVR = "ivr"
    """An IVR flow's ``payments.pay`` node: the provider's secure capture, its connector
    charging the card."""
    AGENT = "agent"
    """Agent-assisted capture on a live call: the agent asks for each card field, the caller
    keys it into the provider's secure capture, its connector charges the card."""


class EntryKind(enum.StrEnum):
    PAYMENT_STATUS = "payment_status"
    """A payment moved from ``from_status`` to ``to_status``."""
    CHARGE = "charge"
    """Money in: the payment succeeded (``amount`` positive)."""
    REFUND_STATUS = "refund_status"
    REFUND = "refund"
    """Money out: a refund succeeded (``amount`` negative)."""


class Payment(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "payments_payments"
    __table_args__ = (
        Index("ix_payments_payments_listing", "tenant_id", "created_at", "id"),
        Index("ix_payments_payments_call_id", "tenant_id", "call_id"),
        Index("ix_payments_payments_contact_id", "tenant_id", "contact_id"),
        Index("ix_payments_payments_processor_payment_id", "tenant_id", "processor_payment_id"),
    )

    amount: Mapped[int] = mapped_column(BigInteger)
    """In the currency's minor unit (cents)."""
    currency: Mapped[str] = mapped_column(String(3))
    """ISO 4217, lower case."""
    status: Mapped[str] = mapped_column(String(24), default=PaymentStatus.PENDING.value)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """What refunds that succeeded gave back."""
    reserved_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """What refunds still pending (or waiting for approval) hold: never refunded twice."""
    processor: Mapped[str] = mapped_column(String(64))
    processor_payment_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    payment_method: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The processor's token (a payment method id), never card data."""
    call_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    """The user who took it (a user principal), if any."""
    capture_path: Mapped[str] = mapped_column(String(16), default=CapturePath.API.value)
    failure_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    payment_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """Who asked (the principal's label)."""
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded_amount - self.reserved_amount


class Refund(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    __tablename__ = "payments_refunds"
    __table_args__ = (
        tenant_foreign_key("payment_id", "payments_payments", ondelete="CASCADE"),
        Index("ix_payments_refunds_payment_id", "tenant_id", "payment_id", "created_at"),
        Index("ix_payments_refunds_processor_refund_id", "tenant_id", "processor_refund_id"),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24), default=RefundStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    processor_refund_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The requester's principal subject (who may not approve it)."""
    requested_by_label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LedgerEntry(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """Append-only: written once, never updated or deleted (but with its payment)."""

    __tablename__ = "payments_ledger_entries"
    __table_args__ = (
        tenant_foreign_key("payment_id", "payments_payments", ondelete="CASCADE"),
        Index("ix_payments_ledger_entries_payment_id", "tenant_id", "payment_id", "sequence"),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    refund_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    """Order of the payment's entries (1, 2, ...)."""
    kind: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    """Money moved: positive in (a charge), negative out (a refund), 0 for a status change."""
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(32))
    """``api``, ``approval``, ``processor`` (its answer) or ``webhook`` (its event)."""
    processor_event_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class ProcessorEvent(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """A processor's webhook event already applied, kept redacted (its type and the ids it
    names, never its body): a redelivery of the same event id changes nothing."""

    __tablename__ = "payments_processor_events"
    __table_args__ = (UniqueConstraint("tenant_id", "processor", "event_id"),)

    processor: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(128))
    object_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    outcome: Mapped[str] = mapped_column(String(32))
    """``applied``, ``stale`` (older than what the ledger knows), ``ignored`` (nothing of
    ours) or ``unknown`` (names no payment of the tenant)."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class PaymentSettings(TenantOwnedMixin, TimestampMixin, Base):
    """One row per tenant; missing: the defaults."""

    __tablename__ = "payments_settings"

    processor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    default_currency: Mapped[str] = mapped_column(String(3), default="usd")
    refund_approval_threshold: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)


class ReconciliationStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    """The processor could not be asked (``error``); a new run may be asked for."""


class DifferenceKind(enum.StrEnum):
    MISSING_AT_PROCESSOR = "missing_at_processor"
    """The ledger names a processor payment the processor does not know."""
    MISSING_IN_LEDGER = "missing_in_ledger"
    """The processor has a payment in the period that no ledger row names."""
    STATUS = "status"
    """The two disagree on the outcome (the ledger is brought forward when it may be)."""
    AMOUNT = "amount"
    """Amount or currency differ."""
    REFUNDED = "refunded"
    """What was refunded differs (a refund made at the processor, or one still pending)."""


class Reconciliation(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """One comparison of the ledger with the processor over ``[period_start, period_end)``
    (payments created then), run by the ``payments.reconcile`` job."""

    __tablename__ = "payments_reconciliations"
    __table_args__ = (
        Index("ix_payments_reconciliations_listing", "tenant_id", "created_at", "id"),
    )

    processor: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=ReconciliationStatus.QUEUED.value)
    trigger: Mapped[str] = mapped_column(String(16))
    """``api`` (someone asked) or ``schedule`` (the daily run for the day before)."""
    requested_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ledger_payments: Mapped[int] = mapped_column(BigInteger, default=0)
    processor_payments: Mapped[int] = mapped_column(BigInteger, default=0)
    matched: Mapped[int] = mapped_column(BigInteger, default=0)
    """Ledger payments the processor agrees with in every respect."""
    differences: Mapped[int] = mapped_column(BigInteger, default=0)
    corrected: Mapped[int] = mapped_column(BigInteger, default=0)
    """Differences settled by bringing the ledger forward to the processor's outcome."""
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReconciliationDifference(TenantOwnedMixin, UUIDPrimaryKeyMixin, Base):
    """One disagreement a reconciliation found (written once)."""

    __tablename__ = "payments_reconciliation_differences"
    __table_args__ = (
        tenant_foreign_key("reconciliation_id", "payments_reconciliations", ondelete="CASCADE"),
        Index("ix_payments_reconciliation_differences_run", "tenant_id", "reconciliation_id"),
    )

    reconciliation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(32))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    processor_payment_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    ledger_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    processor_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    ledger_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    processor_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ledger_refunded: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    processor_refunded: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    corrected: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class AgentCaptureStatus(enum.StrEnum):
    CAPTURING = "capturing"
    """Open: the agent asks the caller for fields."""
    COMPLETING = "completing"
    """The agent completed it: the provider's connector is charging the card."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def open(self) -> bool:
        return self in (AgentCaptureStatus.CAPTURING, AgentCaptureStatus.COMPLETING)


class AgentCapture(TenantOwnedMixin, UUIDPrimaryKeyMixin, TimestampMixin, Base):
    """An agent-assisted capture session on a live call and its progress (which fields were
    keyed, how many digits, masked): never card data. Its payment is the ledger row."""

    __tablename__ = "payments_agent_captures"
    __table_args__ = (
        tenant_foreign_key("payment_id", "payments_payments", ondelete="CASCADE"),
        Index("ix_payments_agent_captures_call_id", "tenant_id", "call_id"),
        Index("ix_payments_agent_captures_session", "tenant_id", "provider_session_id"),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    provider: Mapped[str] = mapped_column(String(64))
    provider_session_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=AgentCaptureStatus.CAPTURING.value)
    field: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The field the caller was asked for last."""
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per field: ``digits``, ``masked``, ``complete``, ``error``, ``attempts``."""
    required: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The fields the provider still needs."""
    steps: Mapped[int] = mapped_column(BigInteger, default=0)
    """Requests made to the provider (each its own idempotency key)."""
    result: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The provider's result code once it ended (``success``, ``payment-connector-error``)."""


MODELS: list[type] = [
    Payment,
    Refund,
    LedgerEntry,
    ProcessorEvent,
    PaymentSettings,
    Reconciliation,
    ReconciliationDifference,
    AgentCapture,
]
