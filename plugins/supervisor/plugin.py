"""supervisor: supervisors on agents' live calls (monitor, whisper, barge), the live
wallboard, the dashboard and alerts. Hook implementations only; see
``docs/plugins/supervisor.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from fastapi import APIRouter

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
        name="supervisor",
        version=__version__,
        description="Supervisors on agents' live calls (monitor, whisper, barge), the live "
        "wallboard, the dashboard and alerts on live figures.",
        requires=("calls", "agents", "queues"),
    )


@hookimpl
def kraliki_add_hookspecs() -> ModuleType:
    from plugins.supervisor import hookspecs

    return hookspecs


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.supervisor.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.supervisor.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.supervisor.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.supervisor.alerts import api as alerts_api
    from plugins.supervisor.dashboard import api as dashboard_api
    from plugins.supervisor.sessions import api as sessions_api
    from plugins.supervisor.wallboard import api as wallboard_api
    from plugins.supervisor.wallboard import page as wallboard_page

    return [
        sessions_api.router,
        wallboard_page.router,
        wallboard_api.router,
        dashboard_api.router,
        alerts_api.router,
    ]


@hookimpl
def kraliki_call_handlers() -> Sequence[Any]:
    from plugins.calls import HandlerSpec
    from plugins.supervisor.handler import SupervisorHandler

    return [
        HandlerSpec(
            SupervisorHandler(),
            "A supervisor's leg (session:<session id>): answered, it joins the agent's "
            "conference as monitor, whisper or barge.",
        )
    ]


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.supervisor.alerts.evaluate import ALERTS_JOB

    return [ALERTS_JOB]


@hookimpl
async def kraliki_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """Sessions end with the conversation they listen to; alert rules are evaluated at once
    after an event that may change one's mind."""
    from plugins.supervisor.alerts.evaluate import on_events as evaluate
    from plugins.supervisor.sessions.ending import on_events as end_sessions

    try:
        await end_sessions(platform, events)
    finally:  # a failure to end sessions never keeps alerts from being evaluated
        await evaluate(platform, events)
