"""Operator settings of the summaries plugin: ``KRALIKI_SUMMARIES_<FIELD>`` environment
variables, read once per platform in ``kraliki_configure``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kernel import Platform, StateKey


class SummariesSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_SUMMARIES_", env_file=".env", extra="ignore", frozen=True
    )

    settle_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How long after a call ends its summary is first attempted (the last "
        "transcript segments of its legs arrive after the end).",
    )
    retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [30.0, 300.0],
        max_length=10,
        description="Comma-separated waits in seconds before each retry; a summary still "
        "failing after the last one is failed (`summaries.call.failed`). Default `30,300` "
        "(3 attempts).",
    )
    attempt_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="An attempt not finished after this long (its worker crashed) is taken again.",
    )

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [float(v) for v in value.split(",") if v.strip()]
        return value


SETTINGS = StateKey[SummariesSettings]("summaries.settings")


def settings_of(platform: Platform) -> SummariesSettings:
    return SETTINGS.get(platform)
