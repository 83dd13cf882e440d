"""Stripe as a payment processor: PaymentIntents confirmed at once with the token the
caller's secure capture produced, refunds, lists for reconciliation, through the official
``stripe`` SDK with the organization's own key (read from the vault per operation).

Each method makes one attempt (``max_network_retries=0``): the payments plugin retries what
:func:`classify` calls transient through the kernel's resilience helper, and every POST
carries the ledger operation's Idempotency-Key, so a retried request never charges twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import stripe

from kernel import Classification, Platform, SecretUnavailableError, SecretValue
from plugins.payments import (
    ChargeRequest,
    ProcessorContext,
    ProcessorPayment,
    ProcessorRefund,
    ProcessorRefundStatus,
    ProcessorStatus,
    RefundRequest,
)
from plugins.stripe import SECRET_KEY
from plugins.stripe.config import STATE

NAME = "stripe"
CARD_ONLY = {"enabled": True, "allow_redirects": "never"}
"""Payments over the phone never redirect the payer (no 3D Secure page to open)."""


def client(platform: Platform, key: SecretValue | str) -> stripe.StripeClient:
    state = STATE.get(platform)
    base = state.settings.base_url
    return stripe.StripeClient(
        key.reveal() if isinstance(key, SecretValue) else key,
        base_addresses={"api": base, "files": base, "connect": base, "meter_events": base},
        max_network_retries=0,
        http_client=state.http,
    )


def classify(exc: Exception) -> Classification | None:
    """Stripe's advice first (``Stripe-Should-Retry``), then its status: throttling,
    conflicts on an idempotency key still in flight, 5xx and connection errors are
    transient; a bad key, a bad request or a missing object are not."""
    if isinstance(exc, stripe.APIConnectionError):
        return "transient"
    if isinstance(exc, stripe.StripeError):
        # The helper reports the upstream status from ``status_code`` (the SDK's is
        # ``http_status``), so its errors and problems name it.
        exc.status_code = exc.http_status  # type: ignore[attr-defined]
        advice = (exc.headers or {}).get("stripe-should-retry")
        if advice == "true":
            return "transient"
        if advice == "false":
            return "rejected"
        status = exc.http_status or 0
        if status in (409, 429) or status >= 500:
            return "transient"
        return "rejected"
    return None


async def account_name(platform: Platform, key: SecretValue, *, tenant_id: Any = None) -> str:
    """The account's name (or id) the key belongs to, through the resilience helper."""

    async def attempt() -> str:
        account = await client(platform, key).v1.accounts.retrieve_current_async()
        settings = getattr(account, "settings", None)
        dashboard = getattr(settings, "dashboard", None) if settings else None
        return str(getattr(dashboard, "display_name", None) or account.id)

    return await platform.resilience.call(NAME, attempt, tenant_id=tenant_id, classify=classify)


def _when(created: int | None) -> datetime | None:
    return datetime.fromtimestamp(created, UTC) if created else None


def _metadata(obj: Any) -> dict[str, str]:
    found = getattr(obj, "metadata", None)
    return {str(k): str(v) for k, v in (found.to_dict() if found else {}).items()}


def payment_of(intent: Any) -> ProcessorPayment:
    """A PaymentIntent in the ledger's vocabulary."""
    status = intent.status
    failure_code = failure_reason = None
    last_error = getattr(intent, "last_payment_error", None)
    if status == "succeeded":
        mapped = ProcessorStatus.SUCCEEDED
    elif status == "canceled":
        mapped = ProcessorStatus.CANCELLED
    elif status == "requires_payment_method" and last_error is not None:
        mapped = ProcessorStatus.FAILED
        failure_code = getattr(last_error, "decline_code", None) or getattr(
            last_error, "code", None
        )
        failure_reason = getattr(last_error, "message", None)
    elif status == "requires_action":
        # Over the phone nobody can authenticate (3D Secure): the payment cannot go on.
        mapped = ProcessorStatus.FAILED
        failure_code, failure_reason = "authentication_required", "the card needs 3D Secure"
    else:
        mapped = ProcessorStatus.PROCESSING
    charge = getattr(intent, "latest_charge", None)  # an object when expanded, else its id
    return ProcessorPayment(
        id=intent.id,
        status=mapped,
        amount=intent.amount,
        currency=intent.currency,
        amount_refunded=int(getattr(charge, "amount_refunded", 0) or 0),
        failure_code=failure_code,
        failure_reason=failure_reason,
        created_at=_when(getattr(intent, "created", None)),
        metadata=_metadata(intent),
    )


def refund_of(refund: Any) -> ProcessorRefund:
    status = refund.status
    if status == "succeeded":
        mapped = ProcessorRefundStatus.SUCCEEDED
    elif status in ("failed", "canceled"):
        mapped = ProcessorRefundStatus.FAILED
    else:
        mapped = ProcessorRefundStatus.PENDING
    intent = refund.payment_intent
    return ProcessorRefund(
        id=refund.id,
        status=mapped,
        amount=refund.amount,
        currency=refund.currency,
        payment_id=intent if isinstance(intent, str) else getattr(intent, "id", ""),
        failure_reason=getattr(refund, "failure_reason", None),
        metadata=_metadata(refund),
    )


class StripeProcessor:
    """Stripe for one organization and one use (built by the payments plugin)."""

    name = NAME

    def __init__(self, context: ProcessorContext) -> None:
        self.context = context

    async def _client(self, purpose: str) -> stripe.StripeClient:
        key = await self.context.platform.vault.reveal(
            SECRET_KEY,
            plugin=NAME,
            purpose=purpose,
            principal=self.context.principal,
            job=self.context.job,
            tenant_id=self.context.tenant_id,
        )
        if key is None:
            raise SecretUnavailableError(f"{SECRET_KEY} is not stored")
        return client(self.context.platform, key)

    def classify(self, exc: Exception) -> Classification | None:
        return classify(exc)

    async def create_payment(self, request: ChargeRequest) -> ProcessorPayment:
        stripe_client = await self._client("take a payment")
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency,
            "payment_method": request.payment_method,
            "confirm": True,
            "automatic_payment_methods": CARD_ONLY,
            "metadata": dict(request.metadata),
        }
        if request.description:
            params["description"] = request.description
        try:
            intent = await stripe_client.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        except stripe.CardError as declined:
            # A decline is an answer: the PaymentIntent exists, back at requires_payment_method.
            error = declined.error
            found = getattr(error, "payment_intent", None) if error else None
            return ProcessorPayment(
                id=str(getattr(found, "id", "") or ""),
                status=ProcessorStatus.FAILED,
                amount=request.amount,
                currency=request.currency,
                failure_code=(getattr(error, "decline_code", None) or declined.code),
                failure_reason=declined.user_message or "the card was declined",
                metadata=dict(request.metadata),
            )
        return payment_of(intent)

    async def refund(self, request: RefundRequest) -> ProcessorRefund:
        stripe_client = await self._client("refund a payment")
        params: dict[str, Any] = {
            "payment_intent": request.processor_payment_id,
            "amount": request.amount,
            "metadata": dict(request.metadata),
        }
        made = await stripe_client.v1.refunds.create_async(
            params,  # type: ignore[arg-type]
            {"idempotency_key": request.idempotency_key},
        )
        return refund_of(made)

    async def retrieve_payment(self, processor_payment_id: str) -> ProcessorPayment:
        stripe_client = await self._client("read a payment")
        return payment_of(
            await stripe_client.v1.payment_intents.retrieve_async(
                processor_payment_id, {"expand": ["latest_charge"]}
            )
        )

    async def list_payments(self, *, start: datetime, end: datetime) -> Sequence[ProcessorPayment]:
        stripe_client = await self._client("reconcile payments")
        params: Any = {
            "created": {"gte": int(start.timestamp()), "lt": int(end.timestamp())},
            "limit": 100,
            "expand": ["data.latest_charge"],  # what was refunded is the charge's
        }
        found: list[ProcessorPayment] = []
        page = await stripe_client.v1.payment_intents.list_async(params)
        async for intent in page.auto_paging_iter():
            found.append(payment_of(intent))
        return found
