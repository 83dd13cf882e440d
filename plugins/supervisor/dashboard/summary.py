"""The dashboard's summary: a span's calls, queue figures and handle time, the agents
logged in now and the active campaigns, in a few aggregate queries.

The queue figures use the queues plugin's definitions (``docs/plugins/queues.md``, "Live
figures") over every queue and the span instead of one queue and today; the formulas are in
``docs/plugins/supervisor.md`` ("The dashboard").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.agents import Agent, AgentState, HandledCall
from plugins.calls import Call, Direction
from plugins.queues import ItemStatus, Queue, QueueItem, queues_settings
from plugins.supervisor.dashboard.schemas import (
    DashboardAgents,
    DashboardCalls,
    DashboardCampaign,
    DashboardHandling,
    DashboardQueues,
    DashboardSummary,
)
from plugins.supervisor.dashboard.span import Span
from plugins.supervisor.sources import campaign_figures

AGENT_LEGS = {"queues": ("offer:",), "campaigns": ("seat:", "preview:")}
"""Legs the platform places to reach an agent, by handler and target prefix: a queue's
offer, a campaign seat, a preview. They are the agents' side of a customer's call, not calls
of their own (``plugins/queues/routing/legs.py``, ``plugins/campaigns/seats``,
``plugins/campaigns/preview``)."""
SUPERVISOR = "supervisor"
"""A supervisor's own leg (handler or ``placed_by``) is no customer call either."""


def customer_call() -> Any:
    """The condition a ``calls`` row meets when it is a customer's call."""
    handler = func.coalesce(Call.handler, "")
    target = func.coalesce(Call.handler_target, "")
    legs = [
        and_(handler == name, or_(*(target.startswith(prefix) for prefix in prefixes)))
        for name, prefixes in AGENT_LEGS.items()
    ]
    return and_(
        handler != SUPERVISOR,
        not_(func.coalesce(Call.placed_by, "").startswith(SUPERVISOR)),
        not_(or_(*legs)),
    )


def _percent(part: int, whole: int, digits: int = 1) -> float | None:
    return round(100.0 * part / whole, digits) if whole else None


async def _calls(session: AsyncSession, span: Span) -> DashboardCalls:
    row = (
        await session.execute(
            select(
                func.count(case((Call.direction == Direction.INBOUND.value, 1))),
                func.count(case((Call.direction == Direction.OUTBOUND.value, 1))),
            ).where(Call.created_at >= span.start, Call.created_at < span.end, customer_call())
        )
    ).one()
    return DashboardCalls(inbound=int(row[0]), outbound=int(row[1]))


async def _queues(platform: Platform, session: AsyncSession, span: Span) -> DashboardQueues:
    item = QueueItem
    short_after = queues_settings(platform).short_abandon_seconds
    answered = item.answered_at.is_not(None)
    abandoned = item.status == ItemStatus.ABANDONED.value
    short = func.coalesce(item.wait_seconds, 1e9) < short_after

    def counted(condition: Any) -> Any:
        return func.count(case((condition, 1)))

    row = (
        await session.execute(
            select(
                counted(answered),
                counted(and_(answered, item.wait_seconds <= Queue.service_level_seconds)),
                func.sum(case((answered, item.wait_seconds), else_=0.0)),
                counted(and_(abandoned, ~short)),
                counted(and_(abandoned, short)),
                counted(item.status == ItemStatus.OVERFLOWED.value),
            )
            .join(Queue, Queue.id == item.queue_id)
            .where(item.entered_at >= span.start, item.entered_at < span.end)
        )
    ).one()
    answered_n, within, wait, abandoned_n, short_n, overflowed = (
        int(row[0]),
        int(row[1]),
        float(row[2] or 0.0),
        int(row[3]),
        int(row[4]),
        int(row[5]),
    )
    offered = answered_n + abandoned_n + overflowed
    return DashboardQueues(
        offered=offered,
        answered=answered_n,
        answered_within_threshold=within,
        abandoned=abandoned_n,
        short_abandoned=short_n,
        overflowed=overflowed,
        service_level=_percent(within, offered),
        asa_seconds=round(wait / answered_n, 1) if answered_n else None,
        abandon_rate=_percent(abandoned_n, offered),
    )


async def _handling(session: AsyncSession, span: Span) -> DashboardHandling:
    talked = HandledCall.talk_seconds.is_not(None)
    wrap = func.coalesce(HandledCall.wrap_up_seconds, 0.0)
    row = (
        await session.execute(
            select(
                func.count(HandledCall.id),
                func.count(case((talked, 1))),
                func.sum(case((talked, HandledCall.talk_seconds), else_=0.0)),
                func.sum(case((talked, wrap), else_=0.0)),
            ).where(HandledCall.answered_at >= span.start, HandledCall.answered_at < span.end)
        )
    ).one()
    handled, finished = int(row[0]), int(row[1])
    talk, wrapped = float(row[2] or 0.0), float(row[3] or 0.0)

    def mean(total: float) -> float | None:
        return round(total / finished, 1) if finished else None

    return DashboardHandling(
        handled=handled,
        talked=finished,
        aht_seconds=mean(talk + wrapped),
        talk_seconds=mean(talk),
        wrap_up_seconds=mean(wrapped),
    )


async def _agents(session: AsyncSession) -> DashboardAgents:
    by_state = {state.value: 0 for state in AgentState}
    for state, count in await session.execute(
        select(Agent.state, func.count(Agent.id))
        .where(Agent.active.is_(True))
        .group_by(Agent.state)
    ):
        by_state[str(state)] = int(count)
    logged_in = sum(n for s, n in by_state.items() if s != AgentState.OFFLINE.value)
    return DashboardAgents(logged_in=logged_in, by_state=by_state)


async def summary(
    platform: Platform, session: AsyncSession, span: Span, now: datetime
) -> DashboardSummary:
    campaigns = [
        DashboardCampaign(
            campaign_id=f.campaign_id,
            name=f.name,
            mode=f.mode,
            answered_30d=f.answered_30d,
            abandoned_30d=f.abandoned_30d,
            abandonment_rate_30d=f.abandonment_rate_30d,
        )
        for f in await campaign_figures(platform, session)
    ]
    return DashboardSummary(
        from_=span.first,
        to=span.last,
        time_zone=span.zone,
        start=span.start,
        end=span.end,
        calls=await _calls(session, span),
        queues=await _queues(platform, session, span),
        handling=await _handling(session, span),
        agents=await _agents(session),
        campaigns=campaigns,
        at=now,
    )
