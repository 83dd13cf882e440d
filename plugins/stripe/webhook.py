"""``POST /webhooks/stripe/{tenant_id}``: Stripe's notifications for one organization,
verified with its signing secret by the SDK (``Stripe-Signature``, a tolerance on the
timestamp) before anything changes, de-duplicated on the event id, applied to the ledger
(never backwards) through the payments plugin."""

from __future__ import annotations

import json
import logging
import uuid

import stripe
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from kernel import ProblemError, SecretUnavailableError, Tenant, get_platform, public, tenant_scope
from plugins.payments import apply_processor_event
from plugins.stripe import WEBHOOK_SECRET
from plugins.stripe.config import STATE
from plugins.stripe.problems import (
    WEBHOOK_MALFORMED,
    WEBHOOK_NOT_FOUND,
    WEBHOOK_SIGNATURE_INVALID,
    WEBHOOK_TOO_LARGE,
)
from plugins.stripe.processor import NAME, payment_of, refund_of

logger = logging.getLogger(__name__)

MAX_BYTES = 256 * 1024
PAYMENT_EVENTS = {
    "payment_intent.processing",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
}
REFUND_EVENTS = {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}

router = APIRouter()


@router.post(
    "/{tenant_id}",
    dependencies=[Depends(public("Stripe webhooks, verified with the tenant's signing secret"))],
    summary="Receive a Stripe event (verified with the organization's signing secret)",
    response_class=Response,
)
async def receive_stripe_event(tenant_id: uuid.UUID, request: Request) -> Response:
    platform = get_platform(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise ProblemError(WEBHOOK_TOO_LARGE)
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise ProblemError(WEBHOOK_TOO_LARGE)
    signature = request.headers.get("stripe-signature")
    if not signature:
        raise ProblemError(WEBHOOK_MALFORMED, "no Stripe-Signature header")
    tolerance = STATE.get(platform).settings.webhook_tolerance_seconds
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            disabled = (
                await session.execute(select(Tenant.disabled_plugins).where(Tenant.id == tenant_id))
            ).first()
            if disabled is None or {"payments", NAME} & set(disabled.disabled_plugins or ()):
                raise ProblemError(WEBHOOK_NOT_FOUND)
            try:
                secret = await platform.vault.reveal_cached(
                    session, WEBHOOK_SECRET, plugin=NAME, purpose="verify a Stripe webhook"
                )
            except SecretUnavailableError:
                secret = None
            if secret is None:
                logger.warning("stripe webhook for tenant %s: no signing secret", tenant_id)
                raise ProblemError(WEBHOOK_SIGNATURE_INVALID)
            try:
                event = stripe.Webhook.construct_event(
                    body, signature, secret.reveal(), tolerance=tolerance
                )
            except stripe.SignatureVerificationError:
                logger.warning("stripe webhook for tenant %s: signature refused", tenant_id)
                raise ProblemError(WEBHOOK_SIGNATURE_INVALID) from None
            except (ValueError, json.JSONDecodeError):
                raise ProblemError(WEBHOOK_MALFORMED, "not a Stripe event") from None
            kind = str(event.type)
            payment = refund = None
            try:
                if kind in PAYMENT_EVENTS:
                    payment = payment_of(event.data.object)
                elif kind in REFUND_EVENTS:
                    refund = refund_of(event.data.object)
            except (AttributeError, KeyError, TypeError):
                raise ProblemError(WEBHOOK_MALFORMED, f"an unreadable {kind} event") from None
            outcome = await apply_processor_event(
                platform,
                session,
                processor=NAME,
                event_id=str(event.id),
                event_type=kind,
                payment=payment,
                refund=refund,
            )
    return Response(
        content=json.dumps({"received": True, "outcome": outcome}),
        media_type="application/json",
    )
