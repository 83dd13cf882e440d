"""Operator settings of the queues plugin: ``KRALIKI_QUEUES_<FIELD>`` environment variables.

Read once per platform, in ``kraliki_configure``; tenants cannot change them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel import Platform, StateKey


class QueuesSettings(BaseSettings):
    """Every field is ``KRALIKI_QUEUES_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_QUEUES_", env_file=".env", extra="ignore", frozen=True
    )

    short_abandon_seconds: float = Field(
        default=0,
        ge=0,
        le=60,
        description="Callers who hang up within this many seconds of entering a queue are "
        "short abandons: left out of offered, abandoned and the service level (they hung up "
        "before anyone could have answered). 0 counts every abandon.",
    )
    live_waiting_limit: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Most waiting calls one queue's live state lists (the first in line); "
        "`waiting` still counts them all.",
    )


QUEUES_SETTINGS = StateKey[QueuesSettings]("queues.settings")


def queues_settings(platform: Platform) -> QueuesSettings:
    """The platform's settings (the defaults before ``kraliki_configure`` ran)."""
    if QUEUES_SETTINGS.is_set(platform):
        return QUEUES_SETTINGS.get(platform)
    return QueuesSettings()
