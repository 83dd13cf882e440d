"""Operator settings of the stripe plugin: ``KRALIKI_STRIPE_<FIELD>`` environment variables.

Platform-wide; a tenant's own keys are in the vault (``stripe.secret_key``,
``stripe.webhook_secret``), never here. The process-wide HTTP client the SDK sends through
(no key in it) is built here once and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel import Platform, StateKey

STRIPE_API = "https://api.stripe.com"


class StripeSettings(BaseSettings):
    """Every field is ``KRALIKI_STRIPE_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_STRIPE_", env_file=".env", extra="ignore", frozen=True
    )

    base_url: str = Field(
        default=STRIPE_API,
        pattern=r"^https?://[^/?#]+$",
        description="Where Stripe's API is (`https://api.stripe.com`, without `/v1`). Point "
        "it at `plugins.stripe.testing.StripeStandIn` (its `url`) to run without Stripe.",
    )
    timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=120,
        description="How long one request to Stripe may take at most (retries are the "
        "resilience helper's, never the SDK's).",
    )
    webhook_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="How old a webhook's signed timestamp may be (Stripe's own default).",
    )


@dataclass
class StripeState:
    settings: StripeSettings
    http: stripe.HTTPXClient


STATE = StateKey[StripeState]("stripe")


def configure(platform: Platform) -> None:
    settings = StripeSettings()
    STATE.set(platform, StripeState(settings, stripe.HTTPXClient(timeout=settings.timeout_seconds)))


async def shutdown(platform: Platform) -> None:
    if STATE.is_set(platform):
        await STATE.get(platform).http.close_async()  # type: ignore[no-untyped-call]
