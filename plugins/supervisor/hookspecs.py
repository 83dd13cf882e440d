"""Hooks the supervisor plugin adds: how optional plugins (campaigns, webhooks, an AI plugin)
feed the dashboard, the alerts and the wallboard without the supervisor depending on them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kernel import hookspec

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kernel import Platform
    from plugins.supervisor.figures import CampaignFigure, DisabledEndpoint


@hookspec
def kraliki_supervisor_campaign_figures(  # type: ignore[empty-body]
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID] | None
) -> Sequence[CampaignFigure]:
    """The figures of the tenant's campaigns ``campaign_ids`` (whatever their state; ids of
    no campaign are left out), or of every **active** campaign when None; may be async.

    Called in the tenant's scope and session by the dashboard's summary, by the alerts'
    evaluation (rules on a campaign's 30-day abandonment) and to check a rule's subject. The
    campaigns plugin implements it with its own 30-day abandonment figure; without an
    implementation the dashboard shows no campaigns and such rules raise nothing.
    """


@hookspec
def kraliki_supervisor_disabled_endpoints(  # type: ignore[empty-body]
    session: AsyncSession,
) -> Sequence[DisabledEndpoint]:
    """The tenant's outbound webhook endpoints that are disabled now; may be async.

    Called in the tenant's scope and session by the alerts' evaluation (rules of kind
    ``webhook_endpoint_disabled``): an endpoint raises an alert while it is listed and clears
    it once re-enabled or deleted. The webhooks plugin implements it.
    """


@hookspec
def kraliki_supervisor_call_sentiment(
    platform: Platform, session: AsyncSession, call_ids: Sequence[uuid.UUID]
) -> Mapping[uuid.UUID, Any] | None:
    """The caller's sentiment on live calls, for the wallboard; may be async.

    Called once per ``GET /api/v1/supervisor/wallboard`` with the ids of the calls the
    agents on the board are on (the caller's call, as ``Agent.current_call_id``), in the
    request's tenant scope, with its read ``session`` (read only: never commit). Return, per
    call id you know, a :class:`plugins.supervisor.Sentiment` or a mapping of its fields
    (``label``: ``positive``, ``neutral`` or ``negative``; ``score`` from -1 to 1; ``at``:
    when it was judged). Calls you have nothing for may be left out. The first plugin (in
    dependency order) to answer for a call wins; an implementation that raises, or answers
    something else, is logged and left out: the board shows no sentiment for its calls. An
    AI plugin that follows conversations implements it.
    """
