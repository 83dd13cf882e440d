"""Problem types of the stripe plugin's webhook (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

WEBHOOK_NOT_FOUND = define_problem(
    "stripe-webhook-not-found",
    "No such webhook endpoint",
    404,
    "No organization takes Stripe notifications at this address.",
)
WEBHOOK_MALFORMED = define_problem(
    "stripe-webhook-malformed",
    "Unreadable Stripe notification",
    400,
    "The body is not a Stripe event, or the `Stripe-Signature` header is missing or "
    "unreadable. Nothing was changed.",
)
WEBHOOK_SIGNATURE_INVALID = define_problem(
    "stripe-webhook-signature-invalid",
    "Stripe signature invalid",
    403,
    "The notification is not signed with the organization's Stripe webhook secret, or its "
    "timestamp is outside the tolerance. Nothing was changed.",
)
WEBHOOK_TOO_LARGE = define_problem(
    "stripe-webhook-too-large",
    "Stripe notification too large",
    413,
    "Stripe events are far smaller: this one was refused unread.",
)
