"""queues: the automatic call distributor. Callers wait in queues; routing offers each to
the best available agent and bridges them. Hook implementations only; see
``docs/plugins/queues.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter

from kernel import (
    Event,
    JobTopic,
    MigrationSource,
    Permission,
    Platform,
    PluginInfo,
    __version__,
    hookimpl,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from plugins.agents import Agent, Conversation, StateChange


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="queues",
        version=__version__,
        description="Queues with longest-idle, round-robin, skills-based and ring-all "
        "routing, announcements, overflow and callbacks; calls reach agents on every provider.",
        requires=("calls", "ivr", "agents"),
    )


@hookimpl
def kraliki_permissions() -> Sequence[Permission]:
    from plugins.queues.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def kraliki_models() -> Sequence[type]:
    from plugins.queues.models import MODELS

    return MODELS


@hookimpl
def kraliki_migrations() -> MigrationSource:
    return MigrationSource(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def kraliki_event_types() -> Sequence[type[Event]]:
    from plugins.queues.events import EVENT_TYPES

    return EVENT_TYPES


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.queues.config import QUEUES_SETTINGS, QueuesSettings

    QUEUES_SETTINGS.set(platform, QueuesSettings())


@hookimpl
def kraliki_routes() -> Sequence[APIRouter]:
    from plugins.queues import api, sample_api
    from plugins.queues.caller import api as caller_api
    from plugins.queues.routing import api as routing_api

    # Fixed paths (/live, /available-count, /calls/..., /offers/...) come before /{queue_id}.
    return [api.fixed_router, sample_api.router, routing_api.router, api.router, caller_api.router]


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.queues.routing import DISPATCH_JOB

    return [DISPATCH_JOB]


@hookimpl(optionalhook=True)
async def kraliki_agent_state_changed(
    platform: Platform, session: AsyncSession, agent: Agent, change: StateChange
) -> None:
    """An agent who becomes available may take a waiting call: routing runs; a change
    outside routing republishes the figures of the agent's queues."""
    from plugins.queues.presence import agent_state_changed

    await agent_state_changed(platform, session, agent, change)


@hookimpl
def kraliki_call_handlers() -> Sequence[object]:
    from plugins.calls import HandlerSpec
    from plugins.queues.caller.handler import QueueHandler

    return [
        HandlerSpec(
            QueueHandler(),
            "Holds callers in a queue (target: the queue id) until an agent takes the call; "
            "drives the agents' legs (target: offer:<offer id>).",
        )
    ]


@hookimpl
def kraliki_ivr_node_types() -> Sequence[object]:
    from plugins.queues.caller.node import EnqueueNode

    return [EnqueueNode()]


@hookimpl(optionalhook=True)
async def kraliki_agent_conversation(
    platform: Platform, session: AsyncSession, agent: Agent
) -> Conversation | None:
    """An agent on a queued call talks in the call's conference ``kq-<item id>``."""
    from plugins.queues.conference import agent_conversation

    return await agent_conversation(session, agent)
