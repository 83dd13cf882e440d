"""Operator settings of the openai plugin: ``KRALIKI_OPENAI_<FIELD>`` environment variables.

Platform-wide; a tenant's own key is in the vault (``openai.api_key``), never here. Read
once per platform, in ``kraliki_configure``. The SDK's own environment variables
(``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``) are not
used: a tenant's request carries that tenant's key and nothing of the operator's.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel import Platform, StateKey

OPENAI_API = "https://api.openai.com/v1"


class OpenAISettings(BaseSettings):
    """Every field is ``KRALIKI_OPENAI_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_OPENAI_", env_file=".env", extra="ignore", frozen=True
    )

    base_url: str = Field(
        default=OPENAI_API,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="Where the OpenAI API is, with its version (`https://api.openai.com/v1`). "
        "Point it at a stand-in such as `plugins.openai.testing.OpenAIStandIn` (its `url` "
        "plus `/v1`) to run without OpenAI, or at an OpenAI-compatible gateway.",
    )
    timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="How long one request may take at most (the gateway's own per-attempt "
        "timeout is usually shorter; retries are the gateway's, never the SDK's).",
    )


SETTINGS = StateKey[OpenAISettings]("openai")
"""The operator settings this platform read at start (``kraliki_configure``)."""


def configure(platform: Platform) -> OpenAISettings:
    """Read the settings from the environment, once per platform (``kraliki_configure``)."""
    return SETTINGS.set(platform, OpenAISettings())


def settings_of(platform: Platform) -> OpenAISettings:
    return SETTINGS.get(platform)
