"""sentiment: live per-utterance sentiment of calls from their transcript, per call and as
trends. Hook implementations only; see ``docs/plugins/sentiment.md``."""

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
        name="sentiment",
        version=__version__,
        description="Live sentiment of calls from their transcript (per utterance, per call, "
        "per speaker), trends per agent, queue, campaign and day, on demand analysis.",
        requires=("ai", "calls"),
    )


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.sentiment.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.sentiment.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.sentiment.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.sentiment import api

    return [api.router]


@hookimpl
def kraliki_ai_tasks() -> Sequence[Any]:
    from plugins.sentiment.scoring import TASKS

    return TASKS


@hookimpl
async def kraliki_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """Score the transcript segments of the batch; note who a call belongs to."""
    from plugins.sentiment.consumer import on_events

    await on_events(platform, events)


@hookimpl(optionalhook=True)
async def kraliki_supervisor_call_sentiment(
    session: AsyncSession, call_ids: Sequence[uuid.UUID]
) -> Mapping[uuid.UUID, Any]:
    """The wallboard's caller sentiment: the customer's (the whole call's until the customer
    said something scored)."""
    from plugins.sentiment.reading import board_sentiment

    return await board_sentiment(session, call_ids)
