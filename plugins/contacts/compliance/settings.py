"""The organization's calling rules (``contacts_settings.compliance``): its purposes, and on
which channels each needs the called person's consent.

Defaults are the stricter reading of the US rules (FCC TCPA, FTC TSR): prerecorded or
artificial-voice calls and autodialled calls or texts need prior express consent, and
telemarketing needs it in writing. The platform cannot tell whether a campaign's dialer counts
as an autodialler, so marketing needs consent on every channel; the other purposes need it for
prerecorded voice and texts, not for a live call.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.contacts.models import ContactSettingsRow

DEFAULT_COUNTRY = "US"
ALL = "all"
"""The purpose (and channel) of an opt-out: every purpose, every channel."""
PURPOSE_NAME = r"^[a-z][a-z0-9_]{0,31}$"


class Channel(enum.StrEnum):
    VOICE_CALL = "voice_call"
    PRERECORDED_VOICE = "prerecorded_voice"
    """Prerecorded or artificial (synthesised) voice."""
    TEXT = "text"


CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)


class Purpose(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=PURPOSE_NAME, description="`marketing`, `debt_collection`...")
    description: str = Field(default="", max_length=200)
    requires_consent: bool = Field(
        default=False, description="Whether calling for this purpose needs consent at all."
    )
    channels: list[Channel] = Field(
        default_factory=list,
        description="The channels on which it needs consent (when `requires_consent`).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Purpose:
        if self.name == ALL:
            raise ValueError("'all' is reserved for opt-outs (every purpose)")
        if self.requires_consent and not self.channels:
            raise ValueError(f"purpose {self.name!r} requires consent but names no channel")
        return self

    def needs_consent(self, channel: str) -> bool:
        return self.requires_consent and channel in self.channels


class ComplianceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    purposes: list[Purpose] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique(self) -> ComplianceSettings:
        names = [p.name for p in self.purposes]
        if len(set(names)) != len(names):
            raise ValueError("purpose names must be unique")
        return self

    def purpose(self, name: str) -> Purpose | None:
        return next((p for p in self.purposes if p.name == name), None)


_CONSENTED = [Channel.PRERECORDED_VOICE, Channel.TEXT]
DEFAULT_SETTINGS = ComplianceSettings(
    purposes=[
        Purpose(
            name="marketing",
            description="Selling or promoting (telemarketing): consent on every channel.",
            requires_consent=True,
            channels=list(Channel),
        ),
        Purpose(
            name="informational",
            description="Appointment reminders, service notices.",
            requires_consent=True,
            channels=_CONSENTED,
        ),
        Purpose(
            name="debt_collection",
            description="Collecting a debt owed.",
            requires_consent=True,
            channels=_CONSENTED,
        ),
        Purpose(
            name="surveys",
            description="Research and satisfaction surveys.",
            requires_consent=True,
            channels=_CONSENTED,
        ),
    ]
)


async def settings_row(session: AsyncSession) -> ContactSettingsRow | None:
    return await session.scalar(select(ContactSettingsRow))


async def read_settings(session: AsyncSession) -> tuple[str, ComplianceSettings]:
    """The tenant's default country and calling rules (the defaults when it has none)."""
    row = await settings_row(session)
    if row is None:
        return DEFAULT_COUNTRY, DEFAULT_SETTINGS
    return row.default_country or DEFAULT_COUNTRY, parse_settings(row.compliance)


async def consent_purposes(session: AsyncSession) -> list[str]:
    """The names of the organization's consent purposes (what a campaign's calls may be for)."""
    _country, settings = await read_settings(session)
    return [purpose.name for purpose in settings.purposes]


def parse_settings(stored: dict[str, Any] | None) -> ComplianceSettings:
    if not stored:
        return DEFAULT_SETTINGS
    try:
        return ComplianceSettings.model_validate(stored)
    except ValidationError:  # written by an older version: the defaults are the safe side
        return DEFAULT_SETTINGS


async def default_country(session: AsyncSession) -> str:
    row = await settings_row(session)
    return (row.default_country if row is not None else None) or DEFAULT_COUNTRY


async def write_settings(session: AsyncSession, settings: ComplianceSettings) -> None:
    """Store the calling rules in the tenant's settings row, creating the row if needed.
    The caller commits."""
    value = settings.model_dump(mode="json")
    row = await settings_row(session)
    if row is None:
        try:
            async with session.begin_nested():
                session.add(ContactSettingsRow(default_country=DEFAULT_COUNTRY, compliance=value))
            return
        except IntegrityError:  # created meanwhile (the core settings route)
            row = await settings_row(session)
            if row is None:
                raise
    row.compliance = value
    await session.flush()
