"""webhooks: tenants' outbound event subscriptions, signed (Standard Webhooks), retried with
backoff, dead-lettered and replayable. Hook implementations only; see ``docs/webhooks.md``."""

from __future__ import annotations

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
    SecretSpec,
    __version__,
    hookimpl,
)


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="webhooks",
        version=__version__,
        description="Outbound webhooks: tenants subscribe URLs to events; signed, retried, "
        "dead-lettered, replayable.",
    )


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.webhooks.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

    return [WebhookEndpoint, WebhookDelivery, WebhookAttempt]


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.webhooks.config import WebhookSettings
    from plugins.webhooks.service import SETTINGS

    SETTINGS.set(platform, WebhookSettings())


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.webhooks.api import router

    return [router]


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    from plugins.webhooks.signing import SIGNING_SECRET

    return [SIGNING_SECRET]


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.webhooks.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.webhooks.delivery import run

    return [JobTopic("webhooks.deliver", run, "Send due webhook deliveries.")]


@hookimpl
async def kraliki_events(platform: Platform, events: Sequence[DeliveredEvent]) -> Any:
    from plugins.webhooks.service import fan_out_many

    await fan_out_many(platform, events)  # one transaction per batch, not per event


@hookimpl(optionalhook=True)
async def kraliki_supervisor_disabled_endpoints(session: AsyncSession) -> Any:
    """The supervisor's alerts on disabled endpoints (``supervisor.py``)."""
    from plugins.webhooks.supervisor import disabled_endpoints

    return await disabled_endpoints(session)
