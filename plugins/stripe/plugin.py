"""stripe: Stripe as a payment processor of the ``payments`` plugin (PaymentIntents,
refunds, signed webhooks) with each organization's own keys. Hook implementations only; see
``docs/plugins/payments.md`` ("Stripe")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastapi import APIRouter

from kernel import Platform, PluginInfo, SecretSpec, __version__, hookimpl

if TYPE_CHECKING:
    from plugins.payments import ProcessorSpec


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="stripe",
        version=__version__,
        requires=("payments",),
        description="Stripe as a payment processor: PaymentIntents and refunds with the "
        "organization's own keys, and its signed webhooks.",
    )


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.stripe.config import configure

    configure(platform)


@hookimpl
async def kraliki_shutdown(platform: Platform) -> None:
    from plugins.stripe.config import shutdown

    await shutdown(platform)


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    from plugins.stripe.secrets import SECRETS

    return SECRETS


@hookimpl
def kraliki_payment_processors() -> Sequence[ProcessorSpec]:
    from plugins.payments import ProcessorSpec
    from plugins.stripe import SECRET_KEY, WEBHOOK_SECRET
    from plugins.stripe.processor import NAME, StripeProcessor

    return [
        ProcessorSpec(
            name=NAME,
            factory=StripeProcessor,
            description="Stripe (PaymentIntents, refunds, signed webhooks).",
            secrets=(SECRET_KEY, WEBHOOK_SECRET),
        )
    ]


@hookimpl
def kraliki_webhook_routes() -> Sequence[APIRouter]:
    from plugins.stripe.webhook import router

    return [router]
