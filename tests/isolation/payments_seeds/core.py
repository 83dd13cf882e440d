"""Seeds the payments plugin's tables for the cross-tenant route walk: the settings through
the API (no processor: the walk has no Stripe), and a payment taken, partly refunded, with
its ledger entries, an agent-assisted capture under way, a processor event and a
reconciliation with a difference, written through the models (as the processor's answers,
webhooks and the reconciliation job write them)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from kernel import tenant_scope, utcnow
from plugins.payments import (
    AgentCapture,
    LedgerEntry,
    Payment,
    ProcessorEvent,
    Reconciliation,
    ReconciliationDifference,
    Refund,
)


def _platform(client: Any) -> Any:
    """The walk's app runs in process: its platform is behind the client's ASGI transport."""
    return client._transport.app.state.platform


async def seed(client: Any, tenant: Any) -> None:
    """Settings, a payment, a refund, its entries and an event for ``tenant``."""
    settings = await client.put(
        "/api/v1/payments/settings",
        headers=tenant.headers,
        json={"processor": None, "default_currency": "eur", "refund_approval_threshold": 5000},
    )
    assert settings.status_code == 200, settings.text
    with tenant_scope(tenant.id):
        async with _platform(client).database.session() as session:
            payment = Payment(
                amount=2500,
                currency="eur",
                status="partially_refunded",
                refunded_amount=1000,
                reserved_amount=0,
                processor="stripe",
                processor_payment_id=f"pi_{tenant.slug}",
                payment_method=f"pm_{tenant.slug}",
                capture_path="api",
                description=f"order of {tenant.slug}",
                payment_metadata={"order": f"order-{tenant.slug}"},
                created_by=f"owner@{tenant.slug}.example.com",
                settled_at=utcnow(),
            )
            session.add(payment)
            await session.flush()
            refund = Refund(
                payment_id=payment.id,
                amount=1000,
                currency="eur",
                status="succeeded",
                reason=f"returned by {tenant.slug}",
                processor_refund_id=f"re_{tenant.slug}",
                requested_by="user:someone",
                requested_by_label=f"owner@{tenant.slug}.example.com",
                settled_at=utcnow(),
            )
            session.add(refund)
            await session.flush()
            entries = [
                ("payment_status", None, "pending", 0, None),
                ("payment_status", "pending", "processing", 0, None),
                ("payment_status", "processing", "succeeded", 0, None),
                ("charge", None, None, 2500, None),
                ("refund", None, None, -1000, refund.id),
            ]
            for sequence, (kind, before, after, amount, refund_id) in enumerate(entries, 1):
                session.add(
                    LedgerEntry(
                        payment_id=payment.id,
                        refund_id=refund_id,
                        sequence=sequence,
                        kind=kind,
                        from_status=before,
                        to_status=after,
                        amount=amount,
                        currency="eur",
                        source="api",
                        created_at=utcnow(),
                    )
                )
            session.add(
                AgentCapture(
                    payment_id=payment.id,
                    call_id=uuid.uuid4(),
                    provider="twilio",
                    provider_session_id=f"PK{tenant.slug}",
                    status="capturing",
                    field="expiration-date",
                    fields={"payment-card-number": {"digits": 16, "masked": "xxxxxxxxxxxx4242"}},
                    required=["expiration-date"],
                    steps=1,
                )
            )
            session.add(
                ProcessorEvent(
                    processor="stripe",
                    event_id=f"evt_{tenant.slug}",
                    event_type="payment_intent.succeeded",
                    object_id=f"pi_{tenant.slug}",
                    outcome="applied",
                )
            )
            run = Reconciliation(
                processor="stripe",
                period_start=utcnow() - timedelta(days=1),
                period_end=utcnow(),
                status="completed",
                trigger="api",
                requested_by=f"owner@{tenant.slug}.example.com",
                ledger_payments=1,
                processor_payments=2,
                matched=1,
                differences=1,
                corrected=0,
            )
            session.add(run)
            await session.flush()
            session.add(
                ReconciliationDifference(
                    reconciliation_id=run.id,
                    kind="missing_in_ledger",
                    processor_payment_id=f"pi_outside_{tenant.slug}",
                    currency="eur",
                    processor_status="succeeded",
                    processor_amount=4200,
                    processor_refunded=0,
                    corrected=False,
                    note=f"made outside the platform by {tenant.slug}",
                )
            )
            await session.commit()
