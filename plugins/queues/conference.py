"""Where a queued call's conversation is, for ``kraliki_agent_conversation``: routing
bridges the caller into conference ``kq-<item id>`` (:func:`routing.legs.conference`),
where the agent's leg waits."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.agents import Agent, AgentState, Conversation
from plugins.calls import Call, CallStatus
from plugins.queues.models import ItemStatus, Offer, OfferStatus, QueueItem
from plugins.queues.routing.legs import conference

ANSWERED = (OfferStatus.ACCEPTED.value, OfferStatus.CONNECTED.value)


async def agent_conversation(session: AsyncSession, agent: Agent) -> Conversation | None:
    """The conference of the queued call ``agent`` answered, while the agent's leg is in
    progress (None otherwise). The item is found by the agent's current call (indexed);
    a callback that came from no call, by its agent."""
    if agent.state != AgentState.ON_CALL.value:
        return None
    by_item = (
        QueueItem.call_id == agent.current_call_id
        if agent.current_call_id is not None
        else QueueItem.agent_id == agent.id
    )
    found = (
        await session.execute(
            select(QueueItem, Offer.agent_call_id, Call.provider)
            .join(Offer, Offer.item_id == QueueItem.id)
            .join(Call, Call.id == Offer.agent_call_id)
            .where(
                by_item,
                Offer.agent_id == agent.id,
                Offer.status.in_(ANSWERED),
                QueueItem.status == ItemStatus.CONNECTED.value,
                Call.status == CallStatus.IN_PROGRESS.value,
            )
            .order_by(Offer.decided_at.desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return None
    item, agent_call_id, provider = found
    if agent_call_id is None:  # unreachable: the join needs the leg
        return None
    return Conversation(
        conference=conference(item).name,
        provider=provider,
        agent_call_id=agent_call_id,
        customer_call_id=customer_call(item),
        source="queues",
    )


def customer_call(item: QueueItem) -> uuid.UUID | None:
    """The caller's call; for a callback, the call routing placed to the customer (None
    until it is placed)."""
    if item.kind != "callback":
        return item.call_id
    placed = (item.context or {}).get("callback_call_id")
    return uuid.UUID(str(placed)) if placed else None
