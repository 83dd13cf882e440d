"""Operator settings of the webhooks plugin: ``KRALIKI_WEBHOOKS_<FIELD>`` environment variables.

Platform-wide and set by whoever runs the platform; no tenant can change them (the SSRF
allowance above all). Read once per platform, in ``kraliki_configure``.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kernel import OutboundPolicy

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 28800.0, 28800.0)
"""Waits before the 2nd..8th attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 8 h, 8 h (about 23.6 h)."""


class WebhookSettings(BaseSettings):
    """Every field is ``KRALIKI_WEBHOOKS_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_WEBHOOKS_", env_file=".env", extra="ignore", frozen=True
    )

    allow_private_networks: bool = Field(
        default=False,
        description="Let endpoints resolve to loopback, private, link-local and other "
        "non-public addresses (and use plain http there). Off in production: it turns the "
        "platform into a proxy into its own network. Tests and single-host setups turn it on.",
    )
    allowed_networks: Annotated[list[IPNetwork], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDR ranges endpoints may resolve to although they are "
        "not public (e.g. `10.20.0.0/16` for an internal receiver); plain http is allowed "
        "there too. Narrower than KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS.",
    )
    retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE),
        min_length=0,
        max_length=30,
        description="Comma-separated waits in seconds before each retry (the first attempt "
        "is immediate); a delivery still failing after the last one is dead-lettered. "
        "Default `5,300,1800,7200,18000,28800,28800` (8 attempts over about 23.6 hours).",
    )
    retry_jitter: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Each wait is multiplied by a random factor in [1 - jitter, 1 + jitter].",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one delivery attempt may take."
    )
    secret_grace_hours: float = Field(
        default=24.0,
        ge=0,
        le=168,
        description="After a secret rotation, the previous secret keeps signing (a second "
        "signature) this long, so receivers can switch over without losing deliveries.",
    )
    disable_after_dead: int = Field(
        default=5,
        ge=1,
        description="Disable an endpoint whose last N deliveries in a row were dead-lettered.",
    )
    disable_after_hours: float = Field(
        default=72.0,
        gt=0,
        description="Disable an endpoint that has failed every attempt for this long.",
    )
    batch_size: int = Field(
        default=100, ge=1, le=1000, description="Deliveries one job run picks at a time."
    )
    max_endpoints: int = Field(
        default=50, ge=1, le=10000, description="Endpoints one tenant may have."
    )

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [ipaddress.ip_network(p.strip()) for p in value.split(",") if p.strip()]
        return value

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [float(p) for p in value.split(",") if p.strip()]
        return value

    @field_validator("retry_schedule")
    @classmethod
    def _non_negative(cls, value: list[float]) -> list[float]:
        if any(wait < 0 for wait in value):
            raise ValueError("retry waits cannot be negative")
        return value

    @property
    def policy(self) -> OutboundPolicy:
        """The kernel's SSRF policy with this operator's allowance for endpoint URLs."""
        return OutboundPolicy(
            allow_private_networks=self.allow_private_networks,
            allowed_networks=tuple(self.allowed_networks),
        )

    @property
    def attempts(self) -> int:
        """Attempts a delivery gets before it is dead-lettered, the first included."""
        return len(self.retry_schedule) + 1
