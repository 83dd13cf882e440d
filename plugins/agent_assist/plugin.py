"""agent_assist: a tenant's knowledge base and live suggestions for the agent on a call
(articles and a suggested reply from what the customer says), re-ranked by the agents'
feedback. Hook implementations only; see ``docs/plugins/agent-assist.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
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
        name="agent_assist",
        version=__version__,
        description="A knowledge base and live suggestions for agents on calls: articles "
        "and a suggested reply from the live transcript, re-ranked by the agents' feedback.",
        requires=("ai", "calls", "agents"),
    )


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    """This worker's live suggestions; on PostgreSQL the articles' full-text index belongs
    to the model too."""
    from plugins.agent_assist.live import LIVE, LiveSuggestions

    LIVE.set(platform, LiveSuggestions())
    if platform.database.dialect == "postgresql":
        from plugins.agent_assist.models import add_search_index

        add_search_index()


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.agent_assist.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.agent_assist.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.agent_assist.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.agent_assist import articles_api, page, suggestions_api

    return [articles_api.router, suggestions_api.router, page.router]


@hookimpl(optionalhook=True)
def kraliki_ai_tasks() -> Sequence[Any]:
    from plugins.agent_assist import embeddings, reply

    return [*reply.TASKS, *embeddings.TASKS]


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.agent_assist.embeddings import EMBED_JOB

    return [EMBED_JOB]


@hookimpl
def kraliki_agent_page_panels() -> Sequence[Any]:
    from plugins.agents import AgentPagePanel

    return [
        AgentPagePanel(
            "agent-assist",
            "Assist",
            "agent-assist/page/assist-panel.js",
            patterns=("agent_assist.suggestion.created",),
        )
    ]


@hookimpl
async def kraliki_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """Customer segments of calls an agent is on become suggestions."""
    from plugins.agent_assist.suggest import on_events

    await on_events(platform, events)


@hookimpl
async def kraliki_shutdown(platform: Platform) -> None:
    """The suggestions under way finish (a few seconds at most) before the database goes."""
    from plugins.agent_assist.live import LIVE

    await LIVE.get(platform).close()
