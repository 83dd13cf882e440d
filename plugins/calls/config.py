"""Operator settings of the calls plugin: ``KRALIKI_CALLS_<FIELD>`` environment variables."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CallsSettings(BaseSettings):
    """Every field is ``KRALIKI_CALLS_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_CALLS_", env_file=".env", extra="ignore", frozen=True
    )

    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The platform's address as providers reach it (scheme, host, optional "
        "port; no path); unset: the address `kraliki serve` serves on "
        "(KRALIKI_SERVED_BASE_URL), else this default. Webhook URLs given to providers "
        "start with it, and Twilio "
        "signatures are checked against it (behind a proxy, `X-Forwarded-Proto` and "
        "`X-Forwarded-Host` override it when KRALIKI_CALLS_TRUST_FORWARDED_HEADERS is on).",
    )
    trust_forwarded_headers: bool = Field(
        default=False,
        description="Rebuild the URL a provider called from `X-Forwarded-Proto`/"
        "`X-Forwarded-Host`/`X-Forwarded-Port` (turn on only behind a proxy that sets them).",
    )
    default_provider: str = Field(
        default="loopback",
        description="The provider of a tenant that has not chosen one (the loopback "
        "provider needs no account, so a new tenant can place calls at once).",
    )
    webhook_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="How long accepted provider webhooks (redacted) are kept for re-processing.",
    )
    max_webhook_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Larger webhook bodies are refused (413)."
    )
    stale_queued_seconds: int = Field(
        default=300,
        ge=1,
        le=86400,
        description="A queued call not heard of for this long is stale: reconciliation "
        "asks its provider where it is (one never handed to a provider is failed, "
        "`placing-interrupted`), and it no longer counts toward the concurrent-call limit. "
        "Keep it longer than placing a call can take (timeouts and retries).",
    )
    stale_ringing_seconds: int = Field(
        default=180,
        ge=1,
        le=86400,
        description="The same for an initiated or ringing call.",
    )
    stale_in_progress_seconds: int = Field(
        default=900,
        ge=1,
        le=86400,
        description="The same for an answered call (a live call whose provider confirms it "
        "is heard of again, so it counts again).",
    )
    reconcile_retry_seconds: int = Field(
        default=60,
        ge=1,
        le=86400,
        description="How soon reconciliation asks again about stale calls it could not "
        "settle (the provider did not answer).",
    )

    def stale_after(self, status: str) -> timedelta:
        """How long a call in ``status`` (not final) may go unheard of before it is stale."""
        seconds = {
            "queued": self.stale_queued_seconds,
            "in-progress": self.stale_in_progress_seconds,
        }.get(status, self.stale_ringing_seconds)
        return timedelta(seconds=seconds)
