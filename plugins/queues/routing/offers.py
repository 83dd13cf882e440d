"""An offer's life after the claim: accepted, declined, missed, failed, withdrawn, and what
each does to the agent (presence) and to the queued call.

Every function here takes the rows it changes locked, always in the same order (item,
then agents, then offers) so two of them (or one and a claim) never deadlock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.agents import MISSED, Agent, AgentState, Cause, change_state
from plugins.queues.events import OfferEnded
from plugins.queues.live import publish_stats
from plugins.queues.models import (
    LIVE_ITEM_STATUSES,
    LIVE_OFFER_STATUSES,
    ItemStatus,
    Offer,
    OfferStatus,
    Queue,
    QueueItem,
)
from plugins.queues.routing.rows import row
from plugins.queues.routing.timing import LEG_GRACE_SECONDS, offer_timeout, tenant_defaults

LIVE = [s.value for s in LIVE_OFFER_STATUSES]
UNANSWERED = (OfferStatus.PENDING.value, OfferStatus.RINGING.value)
AWAY_OUTCOMES = (OfferStatus.MISSED, OfferStatus.DECLINED, OfferStatus.FAILED)
"""Outcomes that put the agent away (``missed``): routing stops offering them calls."""


@dataclass
class Locked:
    """An offer with its item and agent, all three locked."""

    offer: Offer
    item: QueueItem
    agent: Agent


async def lock_item(session: AsyncSession, item_id: uuid.UUID) -> QueueItem | None:
    return await session.scalar(
        select(QueueItem)
        .where(QueueItem.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def lock_agent(session: AsyncSession, agent_id: uuid.UUID) -> Agent | None:
    return await session.scalar(
        select(Agent)
        .where(Agent.id == agent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def lock_offer(session: AsyncSession, offer_id: uuid.UUID) -> Locked | None:
    """The offer, its item and its agent, locked in that order: item, agent, offer (None: no
    such offer, or its agent or item is gone). An offer's item and agent never change, so
    each is found through the offer in the statement that locks it."""
    of_offer = select(Offer.item_id).where(Offer.id == offer_id).scalar_subquery()
    item = await session.scalar(
        select(QueueItem)
        .where(QueueItem.id == of_offer)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if item is None:
        return None
    agent = await session.scalar(
        select(Agent)
        .where(Agent.id == select(Offer.agent_id).where(Offer.id == offer_id).scalar_subquery())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    offer = await session.scalar(
        select(Offer)
        .where(Offer.id == offer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if agent is None or offer is None:
        return None
    return Locked(offer, item, agent)


async def end_offer(
    platform: Platform,
    session: AsyncSession,
    locked: Locked,
    outcome: OfferStatus,
    *,
    cause: Cause,
    reason: str | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> None:
    """End an unanswered offer: the agent goes away (missed) or back to available
    (withdrawn), and the item waits again once none of its offers is live; the queue's
    figures are published (``queues.queue.stats``) unless it was withdrawn."""
    at = now or utcnow()
    offer, item, agent = locked.offer, locked.item, locked.agent
    offer.status = outcome.value
    offer.decided_at = at
    offer.reason = (reason or outcome.value)[:64]
    if agent.state == AgentState.RESERVED.value:  # one live offer per agent: this one
        if outcome in AWAY_OUTCOMES:
            await change_state(
                platform,
                session,
                agent,
                AgentState.AWAY,
                cause=cause,
                reason_code=MISSED,
                actor=actor,
                queue_id=offer.queue_id,
                now=at,
            )
        else:
            await change_state(
                platform,
                session,
                agent,
                AgentState.AVAILABLE,
                cause="routing",
                queue_id=offer.queue_id,
                now=at,
            )
    await session.flush()
    if item.status == ItemStatus.OFFERED.value and not await _other_live(session, offer):
        item.status = ItemStatus.WAITING.value
    await platform.events.publish(
        session,
        OfferEnded(
            item_id=item.id,
            queue_id=item.queue_id,
            call_id=item.call_id,
            kind=item.kind,
            status=item.status,
            agent_id=agent.id,
            offer_id=offer.id,
            outcome=outcome.value,
        ),
    )
    if outcome != OfferStatus.WITHDRAWN:
        # A withdrawal is part of a change that publishes the figures itself (answered by
        # another agent, abandoned, overflowed, moved, turned into a callback).
        await publish_stats(platform, session, item.queue_id)


async def _other_live(session: AsyncSession, offer: Offer) -> bool:
    found = await session.scalar(
        select(Offer.id)
        .where(Offer.item_id == offer.item_id, Offer.id != offer.id, Offer.status.in_(LIVE))
        .limit(1)
    )
    return found is not None


async def live_offers_of(session: AsyncSession, item_id: uuid.UUID) -> list[Offer]:
    """The item's live offers, locked (after the item: the lock order)."""
    return list(
        await session.scalars(
            select(Offer)
            .where(Offer.item_id == item_id, Offer.status.in_(LIVE))
            .order_by(Offer.agent_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


async def withdraw_offers(
    platform: Platform,
    session: AsyncSession,
    item: QueueItem,
    *,
    reason: str,
    keep: uuid.UUID | None = None,
    now: datetime | None = None,
) -> list[Offer]:
    """Withdraw the item's unanswered live offers (all but ``keep``): their agents go back
    to available. The item (locked by the caller) is left as it is."""
    withdrawn = []
    for offer in await live_offers_of(session, item.id):
        if offer.id == keep or offer.status not in UNANSWERED:
            continue
        agent = await lock_agent(session, offer.agent_id)
        if agent is None:
            continue
        await end_offer(
            platform,
            session,
            Locked(offer, item, agent),
            OfferStatus.WITHDRAWN,
            cause="routing",
            reason=reason,
            now=now,
        )
        withdrawn.append(offer)
    return withdrawn


async def expire_offers(platform: Platform, session: AsyncSession, now: datetime) -> int:
    """Unanswered offers past their time: missed, their agents away (cause timeout)."""
    due = list(
        await session.scalars(
            select(Offer.id)
            .where(Offer.status.in_(UNANSWERED), Offer.expires_at <= now)
            .order_by(Offer.expires_at)
            .limit(200)
        )
    )
    expired = 0
    for offer_id in due:
        locked = await lock_offer(session, offer_id)
        if locked is None or locked.offer.status not in UNANSWERED:
            continue
        if locked.offer.expires_at > now:
            continue
        await end_offer(
            platform,
            session,
            locked,
            OfferStatus.MISSED,
            cause="timeout",
            reason="timeout",
            now=now,
        )
        expired += 1
    return expired


async def accept_pending(
    session: AsyncSession, locked: Locked, *, now: datetime | None = None
) -> None:
    """An agent who does not auto-accept said yes: the offer rings the agent's reach now
    (the dispatch job places the leg), with a fresh timeout."""
    at = now or utcnow()
    queue = await row(session, Queue, locked.offer.queue_id)
    defaults = await tenant_defaults(session)
    timeout = (
        offer_timeout(queue, defaults) if queue is not None else defaults.offer_timeout_seconds
    )
    locked.offer.status = OfferStatus.RINGING.value
    locked.offer.expires_at = at + timedelta(seconds=timeout + LEG_GRACE_SECONDS)


def item_is_live(item: QueueItem) -> bool:
    return item.status in [s.value for s in LIVE_ITEM_STATUSES]
