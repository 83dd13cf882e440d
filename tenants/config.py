"""Operator settings of self-service sign-up: ``KRALIKI_SIGNUP_<FIELD>`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SignupSettings(BaseSettings):
    """Every field is ``KRALIKI_SIGNUP_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_SIGNUP_", env_file=".env", extra="ignore", frozen=True
    )

    enabled: bool = Field(
        default=False,
        description="Let anyone create an organization with its first owner through "
        "POST /api/v1/auth/register. Off: the route answers 404 and only operators create "
        "tenants.",
    )
    max_per_address: int = Field(
        default=5,
        ge=1,
        description="Sign-up attempts one client address may make within the window "
        "(per worker), successful or not; more are refused with 429 and Retry-After.",
    )
    window_seconds: int = Field(
        default=3600, ge=1, description="Window over which sign-up attempts are counted."
    )
