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
    from plugins.campaigns import api, page, reports_api
    from plugins.campaigns.preview import api as preview_api
    from plugins.campaigns.seats import api as seats_api

    return [
        api.fixed_router,
        page.router,
        preview_api.router,
        api.router,
        reports_api.router,
        seats_api.router,
    ]


@hookimpl
def kraliki_call_handlers() -> Sequence[Any]:
    from plugins.calls import HandlerSpec
    from plugins.campaigns.handler import CampaignsHandler

    return [
        HandlerSpec(
            CampaignsHandler(),
            "Calls campaigns drive themselves: a preview's agent leg (preview:<attempt id>) "
            "that dials the contact once the agent answers; an agent's leg in a campaign seat "
            "(seat:<seat id>); a progressive or predictive call joined to a seated agent when "
            "answered (attempt:<attempt id>).",
        )
    ]


@hookimpl
def kraliki_agent_page_panels() -> Sequence[Any]:
    from plugins.agents import AgentPagePanel

    return [AgentPagePanel("campaigns-preview", "Preview", "campaigns/page/preview-panel.js")]


@hookimpl
def kraliki_jobs() -> Sequence[JobTopic]:
    from plugins.campaigns.dialer import DIAL_JOB

    return [DIAL_JOB]


@hookimpl(optionalhook=True)
async def kraliki_agent_state_changed(
    platform: Platform, session: AsyncSession, agent: Any, change: Any
) -> None:
    """A seated agent who ends their wrap-up is ready again at once; one who goes away or
    offline leaves their seat (``seats/presence.py``)."""
    from plugins.campaigns.seats.presence import agent_changed

    await agent_changed(platform, session, agent, change)


@hookimpl(optionalhook=True)
async def kraliki_agent_conversation(platform: Platform, session: AsyncSession, agent: Any) -> Any:
    """A seated agent who talks is in the seat's conference (``seats/conversation.py``);
    preview calls dial the contact without a conference, so none is answered for them."""
    from plugins.campaigns.seats.conversation import agent_conversation

    return await agent_conversation(session, agent)


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


@hookimpl(optionalhook=True)
async def kraliki_supervisor_campaign_figures(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID] | None
) -> Any:
    """The supervisor's dashboard and alerts: campaigns' own 30-day abandonment figures
    (``supervisor.py``)."""
    from plugins.campaigns.supervisor import supervisor_figures

    return await supervisor_figures(session, campaign_ids)
