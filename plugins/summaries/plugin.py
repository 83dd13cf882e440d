"""summaries: a summary of every finished call (summary, reason, outcome, suggested
disposition, follow-ups), made in the background by the model gateway's ``summary`` task.
Hook implementations only; see ``docs/plugins/summaries.md``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
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
    Principal,
    __version__,
    hookimpl,
)


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="summaries",
        version=__version__,
        description="Call summaries (analyzeCall): summary, reason, outcome, suggested "
        "disposition and follow-ups of every finished call, made in the background.",
        requires=("ai", "calls", "queues"),
    )


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.summaries.config import SETTINGS, SummariesSettings

    SETTINGS.set(platform, SummariesSettings())


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.summaries.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.summaries.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.summaries.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.summaries.api import router

    return [router]


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.summaries.job import SUMMARIZE_JOB

    return [SUMMARIZE_JOB]


@hookimpl
async def kraliki_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """A finished call gets a pending summary, made by the job (never in the call's way)."""
    from plugins.summaries.job import on_events

    await on_events(platform, events)


@hookimpl
def kraliki_ai_tasks() -> Sequence[Any]:
    from plugins.ai import AiTask
    from plugins.summaries.offline import offline_summary
    from plugins.summaries.prompt import TASK

    return [
        AiTask(
            TASK,
            "A finished call's summary, reason, outcome, suggested disposition and "
            "follow-ups, from its transcript (the summaries plugin).",
            offline_summary,
        )
    ]


@hookimpl
async def kraliki_call_links(
    session: AsyncSession, principal: Principal, calls: Sequence[Any]
) -> Mapping[uuid.UUID, Mapping[str, Any]] | None:
    """Each call's summary status, for principals who may read summaries."""
    from plugins.summaries.links import call_links

    return await call_links(session, principal, calls)


@hookimpl(optionalhook=True)
async def kraliki_contact_erased(
    session: AsyncSession, tenant_id: uuid.UUID, numbers: Sequence[str], pseudonym: str
) -> None:
    """The contacts plugin erased a contact: the summaries of its calls go too."""
    from plugins.summaries.privacy import erase_contact

    await erase_contact(session, tenant_id, numbers, pseudonym)


@hookimpl(optionalhook=True)
async def kraliki_contact_data(
    session: AsyncSession, tenant_id: uuid.UUID, numbers: Sequence[str]
) -> Mapping[str, Any] | None:
    """A contact's export holds the summaries of its calls."""
    from plugins.summaries.privacy import contact_data

    return await contact_data(session, tenant_id, numbers)
