"""Operator settings of the IVR plugin: ``KRALIKI_IVR_<FIELD>`` environment variables.

Platform-wide; no tenant can change them (the lookups' network allowance above all)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kernel import OutboundPolicy

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class IvrSettings(BaseSettings):
    """Every field is ``KRALIKI_IVR_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_IVR_", env_file=".env", extra="ignore", frozen=True
    )

    lookup_allow_private_networks: bool = Field(
        default=False,
        description="Let HTTP lookup nodes reach loopback, private and other non-public "
        "addresses (and plain http there), as KRALIKI_WEBHOOKS_ALLOW_PRIVATE_NETWORKS does "
        "for webhooks. Off in production; tests and single-host setups turn it on.",
    )
    lookup_allowed_networks: Annotated[list[IPNetwork], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDR ranges lookups may reach although they are not "
        "public (an internal CRM at `10.20.0.0/16`).",
    )
    max_steps_per_turn: int = Field(
        default=100,
        ge=10,
        le=1000,
        description="Nodes a flow may run between two waits for the caller; more is taken "
        "for an endless loop and ends in the flow's fallback.",
    )
    max_subflow_depth: int = Field(
        default=5, ge=1, le=20, description="How deeply sub-flows may run one another."
    )

    @field_validator("lookup_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [ipaddress.ip_network(p.strip()) for p in value.split(",") if p.strip()]
        return value

    @property
    def lookup_policy(self) -> OutboundPolicy:
        return OutboundPolicy(
            allow_private_networks=self.lookup_allow_private_networks,
            allowed_networks=tuple(self.lookup_allowed_networks),
        )
