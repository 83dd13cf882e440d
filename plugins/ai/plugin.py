"""ai: the model gateway (providers, per-tenant routing, redaction, metering and budgets,
health). Hook implementations only; see ``docs/plugins/ai.md``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from fastapi import APIRouter

from kernel import (
    Event,
    MigrationSource,
    Permission,
    Platform,
    PluginInfo,
    __version__,
    hookimpl,
)
from plugins.ai.tasks import AiTask


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="ai",
        version=__version__,
        description="The model gateway: each tenant's providers and keys, redaction, usage "
        "metering and budgets, fallback to the offline model, health.",
    )


@hookimpl
def kraliki_add_hookspecs() -> ModuleType:
    from plugins.ai import hookspecs

    return hookspecs


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.ai.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.ai.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.ai.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.ai.routes import generate, health, settings, usage

    return [settings.router, usage.router, health.router, generate.router]


@hookimpl
async def kraliki_shutdown(platform: Platform) -> None:
    """The offline provider's usage summed in memory is written before the process ends."""
    from plugins.ai.metering import flush

    await flush(platform)


@hookimpl
def kraliki_tenant_deleted(platform: Platform, tenant_id: uuid.UUID) -> None:
    """Forget what this worker holds in memory for the tenant (usage not written yet, cached
    settings and spend, health figures)."""
    from plugins.ai.health import health_of
    from plugins.ai.metering import meter_of
    from plugins.ai.settings import cache_of

    meter = meter_of(platform)
    for pending in [key for key in meter.pending if key[0] == tenant_id]:
        del meter.pending[pending]
    meter.spend.pop(tenant_id, None)
    cache_of(platform).drop(tenant_id)
    stats = health_of(platform).stats
    for provider in [key for key in stats if key[0] == tenant_id]:
        del stats[provider]


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.ai.registry import configure

    configure(platform)


@hookimpl
def kraliki_ai_tasks() -> Sequence[AiTask]:
    from plugins.ai.builtin_tasks import TASKS

    return TASKS
