"""Operator settings of the anthropic plugin: ``KRALIKI_ANTHROPIC_<FIELD>`` environment
variables.

Platform-wide; a tenant's own key is in the vault (``anthropic.api_key``), never here. Read
once per platform, in ``kraliki_configure``. The SDK's own environment variables
(``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``, profiles) are not used: a tenant's request
carries that tenant's key.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel import Platform, StateKey

ANTHROPIC_API = "https://api.anthropic.com"


class AnthropicSettings(BaseSettings):
    """Every field is ``KRALIKI_ANTHROPIC_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_ANTHROPIC_", env_file=".env", extra="ignore", frozen=True
    )

    base_url: str = Field(
        default=ANTHROPIC_API,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="Where the Anthropic API is, without its version "
        "(`https://api.anthropic.com`). Point it at a stand-in such as "
        "`plugins.anthropic.testing.AnthropicStandIn` (its `url`) to run without Anthropic.",
    )
    timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="How long one request may take at most (the gateway's own per-attempt "
        "timeout is usually shorter; retries are the gateway's, never the SDK's).",
    )


SETTINGS = StateKey[AnthropicSettings]("anthropic")
"""The operator settings this platform read at start (``kraliki_configure``)."""


def configure(platform: Platform) -> AnthropicSettings:
    """Read the settings from the environment, once per platform (``kraliki_configure``)."""
    return SETTINGS.set(platform, AnthropicSettings())


def settings_of(platform: Platform) -> AnthropicSettings:
    return SETTINGS.get(platform)
