"""agents: the people who take calls, their teams and their presence. Hook implementations
only; see ``docs/plugins/agents.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from fastapi import APIRouter

from kernel import Event, MigrationSource, Permission, PluginInfo, __version__, hookimpl


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="agents",
        version=__version__,
        description="Agent profiles (reach, skills, languages), teams with their supervisors, "
        "and presence: a state machine driven by agents, routing, supervisors and timers.",
        requires=("calls",),
    )


@hookimpl
def kraliki_add_hookspecs() -> ModuleType:
    from plugins.agents import hookspecs

    return hookspecs


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.agents.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.agents.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.agents.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.agents import api, me_api, page, teams_api

    # Fixed paths (/me, /reason-codes, /settings, /available-count, /teams, the agent page)
    # before /{agent_id}.
    return [me_api.router, teams_api.router, page.router, api.router]
