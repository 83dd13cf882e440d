"""The payments API's shapes. No field ever holds card data: a payment method is the
processor's token."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, field_validator

from plugins.calls import CaptureField
from plugins.payments.models import (
    AgentCapture,
    LedgerEntry,
    Payment,
    PaymentSettings,
    Reconciliation,
    ReconciliationDifference,
    Refund,
)

CARD_LIKE = re.compile(r"\d{12,}")
"""Twelve digits in a row: a card number, never a processor's token (refused, not stored)."""
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MetadataValue = Annotated[str, StringConstraints(max_length=500)]

TOKEN = r"^[A-Za-z0-9_\-]{1,255}$"  # noqa: S105 (a pattern, not a secret)


class PaymentIn(BaseModel):
    amount: int = Field(gt=0, le=99_999_999_999, description="In the currency's minor unit.")
    currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="ISO 4217 (`eur`); default: the organization's default currency.",
    )
    description: str = Field(default="", max_length=500)
    payment_method: str = Field(
        pattern=TOKEN,
        description="The processor's payment method token (Stripe: `pm_...`), never a card number.",
    )
    call_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default_factory=dict,
        max_length=20,
        description="Your own keys (up to 20, 40 characters each), values up to 500 characters.",
    )

    @field_validator("payment_method", "description")
    @classmethod
    def _no_card_number(cls, value: str) -> str:
        if CARD_LIKE.search(value):
            raise ValueError("looks like a card number: send the processor's token")
        return value

    @field_validator("metadata")
    @classmethod
    def _no_card_number_in_metadata(cls, value: dict[str, str]) -> dict[str, str]:
        if any(CARD_LIKE.search(text) for text in value.values()):
            raise ValueError("looks like a card number: keep card data out of metadata")
        return value


class RefundIn(BaseModel):
    amount: int | None = Field(
        default=None, gt=0, le=99_999_999_999, description="Minor units; default: all that is left."
    )
    reason: str | None = Field(default=None, max_length=500)


class RefundRejectIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500, description="Why, for the record.")


class RefundOut(BaseModel):
    id: uuid.UUID
    payment_id: uuid.UUID
    amount: int
    currency: str
    status: str = Field(
        description="pending_approval, pending, succeeded, failed or rejected (turned down "
        "while waiting for approval: `failure_reason` says why)."
    )
    reason: str | None
    processor_refund_id: str | None
    failure_reason: str | None
    requested_by: str | None = Field(description="Who asked for it (their label).")
    approved_by: str | None
    approved_at: datetime | None
    settled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Refund) -> RefundOut:
        return cls(
            id=row.id,
            payment_id=row.payment_id,
            amount=row.amount,
            currency=row.currency,
            status=row.status,
            reason=row.reason,
            processor_refund_id=row.processor_refund_id,
            failure_reason=row.failure_reason,
            requested_by=row.requested_by_label,
            approved_by=row.approved_by,
            approved_at=row.approved_at,
            settled_at=row.settled_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class LedgerEntryOut(BaseModel):
    id: uuid.UUID
    sequence: int
    kind: str = Field(description="payment_status, charge, refund_status or refund.")
    refund_id: uuid.UUID | None
    from_status: str | None
    to_status: str | None
    amount: int = Field(description="Money moved: positive in, negative out, 0 otherwise.")
    currency: str
    source: str = Field(description="api, approval, processor or webhook.")
    processor_event_id: str | None
    note: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: LedgerEntry) -> LedgerEntryOut:
        return cls(
            id=row.id,
            sequence=row.sequence,
            kind=row.kind,
            refund_id=row.refund_id,
            from_status=row.from_status,
            to_status=row.to_status,
            amount=row.amount,
            currency=row.currency,
            source=row.source,
            processor_event_id=row.processor_event_id,
            note=row.note,
            created_at=row.created_at,
        )


class PaymentOut(BaseModel):
    id: uuid.UUID
    amount: int
    currency: str
    status: str = Field(
        description="pending, processing, succeeded, failed, cancelled, partially_refunded "
        "or refunded."
    )
    refunded_amount: int
    refundable_amount: int = Field(
        description="What may still be refunded (pending refunds and those waiting for "
        "approval hold their amount)."
    )
    processor: str
    processor_payment_id: str | None
    call_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    capture_path: str = Field(
        description="api (a token given to the API), ivr (the provider's secure capture in "
        "an IVR flow) or agent (an agent-assisted capture on a live call)."
    )
    failure_code: str | None
    failure_reason: str | None
    description: str
    metadata: dict[str, Any]
    created_by: str | None
    settled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Payment) -> PaymentOut:
        return cls(
            id=row.id,
            amount=row.amount,
            currency=row.currency,
            status=row.status,
            refunded_amount=row.refunded_amount,
            refundable_amount=row.refundable
            if row.status in ("succeeded", "partially_refunded")
            else 0,
            processor=row.processor,
            processor_payment_id=row.processor_payment_id,
            call_id=row.call_id,
            contact_id=row.contact_id,
            agent_id=row.agent_id,
            capture_path=row.capture_path,
            failure_code=row.failure_code,
            failure_reason=row.failure_reason,
            description=row.description,
            metadata=dict(row.payment_metadata or {}),
            created_by=row.created_by,
            settled_at=row.settled_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class PaymentDetailOut(PaymentOut):
    refunds: list[RefundOut]
    ledger: list[LedgerEntryOut] = Field(description="Every entry, oldest first.")


class PaymentSettingsIn(BaseModel):
    processor: str | None = Field(
        default=None, max_length=64, description="An installed processor (`stripe`), or null."
    )
    default_currency: str = Field(default="usd", min_length=3, max_length=3)
    refund_approval_threshold: int | None = Field(
        default=None,
        ge=0,
        le=99_999_999_999,
        description="Refunds above this amount (minor units) wait for a second person's "
        "approval; null: never.",
    )


class PaymentSettingsOut(PaymentSettingsIn):
    available_processors: list[str] = Field(description="The installed processors.")
    version: int

    @classmethod
    def of(cls, row: PaymentSettings, available: list[str]) -> PaymentSettingsOut:
        return cls(
            processor=row.processor,
            default_currency=row.default_currency,
            refund_approval_threshold=row.refund_approval_threshold,
            available_processors=available,
            version=row.version,
        )


class ReconciliationIn(BaseModel):
    start: AwareDatetime = Field(description="Payments created at or after (with an offset).")
    end: AwareDatetime = Field(description="Payments created before; not in the future.")


class ReconciliationOut(BaseModel):
    id: uuid.UUID
    processor: str
    period_start: datetime
    period_end: datetime
    status: str = Field(description="queued, running, completed or failed (`error`).")
    trigger: str = Field(description="api, or schedule (the daily run for the UTC day before).")
    requested_by: str | None
    ledger_payments: int = Field(description="Ledger payments created in the period.")
    processor_payments: int = Field(description="The processor's payments created in it.")
    matched: int = Field(description="Ledger payments the processor agrees with in every way.")
    differences: int
    corrected: int = Field(
        description="Differences settled by bringing the ledger forward to the processor's "
        "outcome (a notification that never arrived)."
    )
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Reconciliation) -> ReconciliationOut:
        return cls(
            id=row.id,
            processor=row.processor,
            period_start=row.period_start,
            period_end=row.period_end,
            status=row.status,
            trigger=row.trigger,
            requested_by=row.requested_by,
            ledger_payments=row.ledger_payments,
            processor_payments=row.processor_payments,
            matched=row.matched,
            differences=row.differences,
            corrected=row.corrected,
            error=row.error,
            started_at=row.started_at,
            finished_at=row.finished_at,
            created_at=row.created_at,
        )


class DifferenceOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(
        description="missing_at_processor, missing_in_ledger, status, amount or refunded."
    )
    payment_id: uuid.UUID | None
    processor_payment_id: str | None
    currency: str | None
    ledger_status: str | None
    processor_status: str | None
    ledger_amount: int | None
    processor_amount: int | None
    ledger_refunded: int | None
    processor_refunded: int | None
    corrected: bool
    note: str

    @classmethod
    def of(cls, row: ReconciliationDifference) -> DifferenceOut:
        return cls(
            id=row.id,
            kind=row.kind,
            payment_id=row.payment_id,
            processor_payment_id=row.processor_payment_id,
            currency=row.currency,
            ledger_status=row.ledger_status,
            processor_status=row.processor_status,
            ledger_amount=row.ledger_amount,
            processor_amount=row.processor_amount,
            ledger_refunded=row.ledger_refunded,
            processor_refunded=row.processor_refunded,
            corrected=row.corrected,
            note=row.note,
        )


class CaptureIn(BaseModel):
    """Start an agent-assisted capture on a live call the agent is on."""

    call_id: uuid.UUID
    amount: int = Field(gt=0, le=99_999_999, description="In the currency's minor unit.")
    currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="ISO 4217 with at most two decimals; default: the organization's.",
    )
    description: str = Field(default="", max_length=200)
    contact_id: uuid.UUID | None = None
    postal_code: bool = Field(default=True, description="The connector needs the postal code.")
    security_code: bool = Field(default=True, description="The connector needs the CVC.")

    @field_validator("description")
    @classmethod
    def _no_card_number(cls, value: str) -> str:
        if CARD_LIKE.search(value):
            raise ValueError("looks like a card number")
        return value


class CaptureFieldIn(BaseModel):
    field: CaptureField = Field(
        description="What the caller keys next: payment-card-number, expiration-date, "
        "security-code or postal-code (again, to retry one)."
    )


class CaptureOut(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    agent_id: uuid.UUID | None
    status: str = Field(description="capturing, completing, succeeded, failed or cancelled.")
    field: str | None = Field(description="The field the caller was asked for last.")
    fields: dict[str, dict[str, Any]] = Field(
        description="Per field keyed: `digits`, `masked` (at most a card number's last four "
        "digits), `complete`, `error` (`invalid-card-number`...), `attempts`."
    )
    required: list[str] = Field(description="The fields the provider still needs.")
    result: str | None = Field(description="The provider's result once it ended.")
    payment: PaymentOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AgentCapture, payment: Payment) -> CaptureOut:
        return cls(
            id=row.id,
            call_id=row.call_id,
            agent_id=row.agent_id,
            status=row.status,
            field=row.field,
            fields=row.fields,
            required=list(row.required),
            result=row.result,
            payment=PaymentOut.of(payment),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
