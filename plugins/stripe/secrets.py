"""The tenant's Stripe keys in the vault, and the check that tests a secret key against
Stripe (``GET /v1/account``)."""

from __future__ import annotations

from kernel import RejectedError, SecretCheck, SecretSpec, ValidationResult
from plugins.stripe import SECRET_KEY, WEBHOOK_SECRET


async def check_key(check: SecretCheck) -> ValidationResult:
    """Stripe answers 401 to a wrong or rolled key and 403 to a restricted key without
    access; the detail names the status only, never the key or Stripe's message (which
    quotes part of it)."""
    from plugins.stripe.processor import account_name

    try:
        name = await account_name(check.platform, check.value, tenant_id=check.tenant_id)
    except RejectedError as exc:
        return ValidationResult(False, f"Stripe refused the key (HTTP {exc.status})")
    return ValidationResult(True, f"Stripe accepted the key (account {name})")


SECRETS = [
    SecretSpec(
        SECRET_KEY,
        "Stripe secret key (sk_live_... or sk_test_..., or a restricted rk_ key with "
        "PaymentIntents and Refunds): the organization's own account.",
        kind="api_key",
        pattern=r"(sk|rk)_(test|live)_[A-Za-z0-9]{10,}",
        validator=check_key,
    ),
    SecretSpec(
        WEBHOOK_SECRET,
        "Signing secret (whsec_...) of the Stripe webhook endpoint pointing at "
        "/webhooks/stripe/<organization id>.",
        kind="signing_key",
        pattern=r"whsec_[A-Za-z0-9]{10,}",
    ),
]
