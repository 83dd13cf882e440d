"""campaigns: outbound campaigns (preview, progressive, predictive, agentless) over the
contacts plugin's segments and lists, taken by the agents of a queue or team. Hook
implementations only; see ``docs/plugins/campaigns.md``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    DeliveredEvent,
    Event,
    JobTopic,
    MigrationSource,
    Permission,
    Platform,
    PluginInfo,
    __version__,
    hookimpl,
)


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="campaigns",
        version=__version__,
        description="Outbound campaigns over contacts' segments and lists: preview, "
        "progressive, predictive and agentless, with their schedules, retries and caps.",
        requires=("calls", "ivr", "contacts", "agents", "queues"),
    )


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.campaigns.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.campaigns.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.campaigns.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.campaigns import api, reports_api

    return [api.fixed_router, api.router, reports_api.router]


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.campaigns.dialer import DIAL_JOB

    return [DIAL_JOB]


@hookimpl
async def kraliki_events(platform: Platform, events: Sequence[DeliveredEvent]) -> Any:
    from plugins.campaigns.dialer.outcomes import on_events

    await on_events(platform, events)


@hookimpl(optionalhook=True)
async def kraliki_contact_erased(
    session: AsyncSession, contact_id: uuid.UUID, pseudonym: str
) -> None:
    """The contacts plugin erased a contact: its attempts keep their decisions, without the
    number (``dialer/privacy.py``)."""
    from plugins.campaigns.dialer.privacy import erase_contact

    await erase_contact(session, contact_id, pseudonym)


@hookimpl(optionalhook=True)
async def kraliki_contact_data(session: AsyncSession, contact_id: uuid.UUID) -> Any:
    """A contact's data export: their campaigns' roster rows and attempts."""
    from plugins.campaigns.dialer.privacy import contact_data

    return await contact_data(session, contact_id)
