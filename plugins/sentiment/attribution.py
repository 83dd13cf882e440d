"""Which agent, queue and campaign a call belongs to, from those plugins' public APIs.

When the sentiment row is written, the queues plugin's :class:`plugins.queues.QueueItem`
(the queued call, its queue and the agent who took it) and the agents plugin's
:class:`plugins.agents.Agent` (``current_call_id``: the caller's call an agent is on) are
asked. The campaigns plugin publishes no Python API naming a call's campaign: it is learnt
from its ``campaigns.attempt.ended`` event (``call_id``, ``campaign_id``), as are the
queues' and agents' events naming a call (:func:`from_event`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import DeliveredEvent, Platform
from plugins.sentiment.models import SentimentCall

FIELDS = ("agent_id", "queue_id", "campaign_id")


async def attribute(platform: Platform, session: AsyncSession, rows: list[SentimentCall]) -> None:
    """Fill the rows' missing agent and queue from the queues and agents plugins (two
    queries for all of them)."""
    installed = set(platform.plugins.names())
    by_call = {row.call_id: row for row in rows}
    if "queues" in installed:
        from plugins.queues import QueueItem

        items = await session.execute(
            select(QueueItem.call_id, QueueItem.queue_id, QueueItem.agent_id)
            .where(QueueItem.call_id.in_(list(by_call)))
            .order_by(QueueItem.entered_at)  # the latest queue the call was in wins
        )
        for call_id, queue_id, agent_id in items:
            row = by_call.get(call_id) if call_id is not None else None
            if row is None:
                continue
            row.queue_id = queue_id if row.queue_id is None else row.queue_id
            row.agent_id = agent_id or row.agent_id
    missing = [call_id for call_id, row in by_call.items() if row.agent_id is None]
    if "agents" in installed and missing:
        from plugins.agents import Agent

        agents = await session.execute(
            select(Agent.current_call_id, Agent.id).where(Agent.current_call_id.in_(missing))
        )
        for call_id, agent_id in agents:
            if call_id in by_call:
                by_call[call_id].agent_id = agent_id


def from_event(event: DeliveredEvent) -> tuple[uuid.UUID, dict[str, uuid.UUID]] | None:
    """The call an attribution event names, and the agent/queue/campaign it says."""
    if not (
        event.name.startswith("queues.call.")
        or event.name == "agents.agent.state_changed"
        or event.name == "campaigns.attempt.ended"
    ):
        return None
    call_id = _uuid(event.payload.get("call_id"))
    if call_id is None:
        return None
    found = {name: value for name in FIELDS if (value := _uuid(event.payload.get(name)))}
    return (call_id, found) if found else None


def _uuid(value: Any) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
