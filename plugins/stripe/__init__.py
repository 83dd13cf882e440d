"""The public API of the ``stripe`` plugin: the names of its vault secrets. Stripe is a
processor of the ``payments`` plugin (through ``kraliki_payment_processors``); its local
stand-in for tests is :mod:`plugins.stripe.testing`. See ``docs/plugins/payments.md``."""

from __future__ import annotations

SECRET_KEY = "stripe.secret_key"  # noqa: S105 (a name in the vault, not a secret)
WEBHOOK_SECRET = "stripe.webhook_secret"  # noqa: S105

__all__ = ["SECRET_KEY", "WEBHOOK_SECRET"]
