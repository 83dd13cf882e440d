"""Operator settings of the twilio plugin: ``KRALIKI_TWILIO_<FIELD>`` environment variables.

Platform-wide; a tenant's own Twilio account is in the vault (``twilio.account_sid``,
``twilio.auth_token``), never here. Read once per platform, in ``kraliki_configure``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel import Platform, StateKey

TWILIO_API = "https://api.twilio.com"
DEFAULT_HOLD_MUSIC = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"


class TwilioSettings(BaseSettings):
    """Every field is ``KRALIKI_TWILIO_<NAME>`` in the environment (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="KRALIKI_TWILIO_", env_file=".env", extra="ignore", frozen=True
    )

    api_base_url: str = Field(
        default=TWILIO_API,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="Where the Twilio REST API is (scheme, host, optional port and path). "
        "Point it at a stand-in such as `plugins.twilio.testing.TwilioDouble` to run "
        "without Twilio; requests for `api.twilio.com` go there instead.",
    )
    hold_music_url: str = Field(
        default=DEFAULT_HOLD_MUSIC,
        min_length=1,
        description="What a call on hold hears, looped (an MP3 or WAV URL Twilio can fetch).",
    )
    timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="How long one attempt of a Twilio REST request may take (retries come "
        "on top, as KRALIKI_OUTBOUND_ATTEMPTS says).",
    )
    recording_format: Literal["mp3", "wav"] = Field(
        default="mp3",
        description="The media format recordings are fetched in (`mp3` is about a tenth of "
        "the size of `wav`).",
    )
    recording_channels: Literal["mono", "dual"] = Field(
        default="dual",
        description="`dual` records each side of a call on its own channel (better "
        "transcripts and analytics), `mono` mixes them.",
    )


SETTINGS = StateKey[TwilioSettings]("twilio")
"""The operator settings this platform read at start (``kraliki_configure``)."""


def configure(platform: Platform) -> TwilioSettings:
    """Read the settings from the environment, once per platform (``kraliki_configure``)."""
    return SETTINGS.set(platform, TwilioSettings())


def settings_of(platform: Platform) -> TwilioSettings:
    return SETTINGS.get(platform)
