"""Operator settings of the loopback provider: ``KRALIKI_LOOPBACK_<FIELD>`` environment
variables, read once per platform in ``kraliki_configure``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel import Platform, StateKey


class LoopbackSettings(BaseSettings):
    """Every field is ``KRALIKI_LOOPBACK_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_LOOPBACK_", env_file=".env", extra="ignore", frozen=True
    )

    time_scale: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Real seconds per simulated second: `0.01` makes a 2 s ring take 20 ms "
        "(tests), `1` runs calls in real time (demos). Reported durations stay simulated.",
    )
    timestamp_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=86400,
        description="Webhooks whose `Loopback-Timestamp` is further than this from the "
        "platform's clock, in the past or the future, are rejected (403).",
    )
    default_ring_seconds: float = Field(
        default=2.0,
        ge=0,
        le=600,
        description="How long the default callee (and the answering machine) rings before "
        "it answers (simulated seconds).",
    )
    default_talk_seconds: float = Field(
        default=10.0,
        ge=0,
        le=14400,
        description="How long the default callee stays on the line after answering before "
        "it hangs up (simulated seconds).",
    )
    delivery_attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description="Attempts per webhook the carrier makes when the platform answers "
        "non-2xx or cannot be reached, the first included; then it gives up (logged).",
    )
    retry_backoff_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Wait before the carrier's first retry of a webhook; doubles each time "
        "(simulated seconds, so scaled by the time scale).",
    )
    delivery_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long the carrier waits for the platform to answer one webhook "
        "(real seconds, not scaled).",
    )
    carrier_lease_seconds: float = Field(
        default=60.0,
        ge=3,
        le=3600,
        description="A process running loopback calls renews its carrier's lease every "
        "third of this (real seconds); a call whose carrier has not renewed it for this "
        "long was left behind by a process that died, and reconciliation fails it "
        "(`carrier-lost`).",
    )
    callees: dict[str, list[list[Any]]] = Field(
        default={},  # pydantic copies it per instance
        description="Callees of your own for calls the platform places without a script "
        "(a campaign's, a queue's): a JSON object from E.164 number to a list of scripts, "
        "used in turn, the last one for every further call to that number, e.g. "
        '`{"+14155551001": [["busy"], [{"answer_after": 2}, {"hangup_after": 20}]]}` '
        "(busy, then a person who answers). Takes precedence over the numbers' last "
        "four digits.",
    )

    @field_validator("callees")
    @classmethod
    def _scripts(cls, value: dict[str, list[list[Any]]]) -> dict[str, list[list[Any]]]:
        from plugins.loopback.carrier.script import ScriptError, parse_script

        for number, scripts in value.items():
            if not scripts:
                raise ValueError(f"{number}: give at least one script")
            for script in scripts:
                try:
                    parse_script(script)
                except ScriptError as error:
                    raise ValueError(f"{number}: {error}") from None
        return value


SETTINGS = StateKey[LoopbackSettings]("loopback")
"""The operator settings this platform read at start (``kraliki_configure``)."""


def configure(platform: Platform) -> LoopbackSettings:
    """Read the settings from the environment, once per platform (``kraliki_configure``)."""
    return SETTINGS.set(platform, LoopbackSettings())


def settings_of(platform: Platform) -> LoopbackSettings:
    return SETTINGS.get(platform)
