"""What routing asks of providers, always outside its locks: ring an agent (the agent's
leg), bridge the caller into the conference where the agent waits, hang up legs nobody
needs any more.

Each function reads what it needs, marks the offer (a conditional update, so a job run
that a crashed worker's lease handed over cannot do it twice), commits, then calls
``plugins.calls`` (which commits again before it asks the provider).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError
from plugins.agents import Agent, leg_address, leg_options
from plugins.calls import (
    TERMINAL_STATUSES,
    Call,
    CallRequest,
    Conference,
    hang_up_call,
    place_call,
    redirect_call,
)
from plugins.queues.models import ItemStatus, Offer, OfferStatus, Queue, QueueItem
from plugins.queues.routing.conversation import finish
from plugins.queues.routing.offers import end_offer, lock_item, lock_offer
from plugins.queues.routing.rows import row
from plugins.queues.routing.timing import offer_timeout, tenant_defaults

logger = logging.getLogger(__name__)

HANDLER = "queues"
PLACING = "placing"
BRIDGING = "bridging"
ACTOR = "queues"
RECENT = timedelta(minutes=10)
"""How far back finished offers are checked for a leg still up."""
RETRY_LATER = frozenset({429, 503})
"""Place-call problems that leave the offer ringing for the next run (limits, an open
circuit) instead of failing it."""


def conference(item: QueueItem) -> Conference:
    return Conference(name=f"kq-{item.id}", start_on_enter=True, end_on_exit=True)


def leg_request(offer: Offer, item: QueueItem, agent: Agent, timeout: int) -> CallRequest:
    return CallRequest(
        to_number=leg_address(agent),
        from_number=item.called_number or None,
        provider=item.provider or None,
        timeout_seconds=timeout,
        options=leg_options(agent),
        placed_by=ACTOR,
        handler=HANDLER,
        handler_target=f"offer:{offer.id}",
        metadata={"queue_item_id": str(item.id), "agent_id": str(agent.id)},
    )


async def _mark(session: AsyncSession, offer_id: uuid.UUID, status: str, mark: str) -> bool:
    """Take the offer for one provider action (False: someone else did, or it moved on)."""
    marked = await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.status == status, Offer.reason.is_(None))
        .values(reason=mark)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(marked, "rowcount", 0))


async def offers_to_ring(session: AsyncSession) -> list[uuid.UUID]:
    return list(
        await session.scalars(
            select(Offer.id)
            .where(
                Offer.status == OfferStatus.RINGING.value,
                Offer.agent_call_id.is_(None),
                Offer.reason.is_(None),
            )
            .order_by(Offer.created_at)
            .limit(500)
        )
    )


async def place_leg(platform: Platform, offer_id: uuid.UUID) -> bool:
    """Ring the agent of a ringing offer; False when it must be tried again later."""
    async with platform.database.session() as session:
        offer = await row(session, Offer, offer_id)
        if offer is None or offer.status != OfferStatus.RINGING.value:
            return True
        item = await row(session, QueueItem, offer.item_id)
        agent = await row(session, Agent, offer.agent_id)
        queue = await row(session, Queue, offer.queue_id)
        if item is None or agent is None or queue is None:
            return True
        timeout = offer_timeout(queue, await tenant_defaults(session))
        request = leg_request(offer, item, agent, timeout)
        if not await _mark(session, offer_id, OfferStatus.RINGING.value, PLACING):
            return True
        await session.commit()
        try:
            call = await place_call(platform, session, request)
        except ProblemError as problem:
            await session.rollback()
            if problem.problem.status in RETRY_LATER:
                await _unmark(session, offer_id, PLACING)
                return False
            await _leg_failed(platform, session, offer_id, problem.problem.slug)
            return True
        await _placed(session, offer_id, call.id)
        return True


async def _unmark(session: AsyncSession, offer_id: uuid.UUID, mark: str) -> None:
    await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.reason == mark)
        .values(reason=None)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def _placed(session: AsyncSession, offer_id: uuid.UUID, call_id: uuid.UUID) -> None:
    await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.agent_call_id.is_(None))
        .values(agent_call_id=call_id)
        .execution_options(synchronize_session=False)
    )
    await _unmark(session, offer_id, PLACING)


async def _leg_failed(
    platform: Platform, session: AsyncSession, offer_id: uuid.UUID, why: str
) -> None:
    locked = await lock_offer(session, offer_id)
    if locked is not None and locked.offer.status == OfferStatus.RINGING.value:
        await end_offer(platform, session, locked, OfferStatus.FAILED, cause="routing", reason=why)
        await platform.jobs.wake(session, "queues.dispatch")
    await session.commit()


async def offers_to_bridge(session: AsyncSession) -> list[uuid.UUID]:
    return list(
        await session.scalars(
            select(Offer.id)
            .where(Offer.status == OfferStatus.ACCEPTED.value, Offer.reason.is_(None))
            .order_by(Offer.decided_at)
            .limit(500)
        )
    )


async def bridge(platform: Platform, offer_id: uuid.UUID) -> None:
    """Bring the caller to the agent: redirect the caller's call into the item's conference
    (a callback: call the customer into it). A caller who is gone ends the conversation."""
    async with platform.database.session() as session:
        offer = await row(session, Offer, offer_id)
        item = await row(session, QueueItem, offer.item_id) if offer is not None else None
        if offer is None or item is None or offer.status != OfferStatus.ACCEPTED.value:
            return
        if not await _mark(session, offer_id, OfferStatus.ACCEPTED.value, BRIDGING):
            return
        item_id = item.id
        await session.commit()
        steps = [conference(item)]
        try:
            if item.kind == "callback":
                call = await place_call(platform, session, _callback_request(item, steps))
                await _remember_callback(session, item.id, call.id)
            elif item.call_id is not None:
                await redirect_call(platform, session, item.call_id, steps, actor=ACTOR)
            else:
                raise LookupError("the queued call has no call to bridge")
        except (ProblemError, LookupError, ValueError) as exc:
            await session.rollback()
            logger.info("queued call %s could not be bridged: %s", item_id, exc)
            await _bridge_failed(platform, session, item_id)
            return
        await session.execute(
            update(Offer)
            .where(Offer.id == offer_id, Offer.status == OfferStatus.ACCEPTED.value)
            .values(status=OfferStatus.CONNECTED.value, reason=None)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


def _callback_request(item: QueueItem, steps: list[Any]) -> CallRequest:
    return CallRequest(
        to_number=item.callback_number or item.caller_number,
        from_number=item.called_number or None,
        provider=item.provider or None,
        instructions=steps,
        placed_by=ACTOR,
        metadata={"queue_item_id": str(item.id), "callback": True},
    )


async def _remember_callback(session: AsyncSession, item_id: uuid.UUID, call_id: uuid.UUID) -> None:
    item = await lock_item(session, item_id)
    if item is not None:
        item.context = {**(item.context or {}), "callback_call_id": str(call_id)}
    await session.commit()


async def _bridge_failed(platform: Platform, session: AsyncSession, item_id: uuid.UUID) -> None:
    item = await lock_item(session, item_id)
    if item is not None and item.status == ItemStatus.CONNECTED.value:
        await finish(platform, session, item)
    await session.commit()


async def legs_to_hang_up(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Agent legs still up whose offer is over (withdrawn, missed, ...; or its conversation
    ended before the conference could end them)."""
    over = [
        s.value
        for s in (
            OfferStatus.WITHDRAWN,
            OfferStatus.MISSED,
            OfferStatus.DECLINED,
            OfferStatus.FAILED,
            OfferStatus.ENDED,
        )
    ]
    return list(
        await session.scalars(
            select(Call.id)
            .join(Offer, Offer.agent_call_id == Call.id)
            .where(
                Offer.status.in_(over),
                Offer.decided_at > now - RECENT,
                Call.status.not_in([s.value for s in TERMINAL_STATUSES]),
            )
            .limit(500)
        )
    )


async def callers_to_hang_up(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Callers still up whose conversation is over: the agent left first. Both ends the
    conference on exit, but not every carrier honours it for the agent's leg (Telnyx's
    conference create takes no such flag), so the caller would stay alone in the room."""
    return list(
        await session.scalars(
            select(Call.id)
            .join(QueueItem, QueueItem.call_id == Call.id)
            .where(
                QueueItem.kind == "call",
                QueueItem.status == ItemStatus.COMPLETED.value,
                QueueItem.ended_at > now - RECENT,
                Call.status.not_in([s.value for s in TERMINAL_STATUSES]),
            )
            .limit(500)
        )
    )


async def hang_up(platform: Platform, call_id: uuid.UUID) -> None:
    async with platform.database.session() as session:
        try:
            await hang_up_call(platform, session, call_id, actor=ACTOR)
        except ProblemError as exc:  # it ended meanwhile, or the provider is unreachable
            logger.info("agent leg %s was not hung up: %s", call_id, exc)
