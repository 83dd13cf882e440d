"""The agent's leg as the ``queues`` call handler sees it (targets ``offer:<offer id>``):
answered, it accepts the offer and waits in the conference for the caller; ended before
that, the offer is missed; ended after, the conversation is over."""

from __future__ import annotations

import uuid
from typing import Any

from plugins.calls import CallStatus, CallTurn, Conference, Hangup, Say
from plugins.queues.models import OfferStatus, Queue
from plugins.queues.routing.conversation import TOPIC, answer, finish
from plugins.queues.routing.offers import UNANSWERED, end_offer, item_is_live, lock_offer
from plugins.queues.routing.rows import row

GONE = "This call is no longer waiting. Goodbye."
MISSED_BY: dict[str, OfferStatus] = {
    CallStatus.BUSY.value: OfferStatus.DECLINED,
    CallStatus.FAILED.value: OfferStatus.FAILED,
}
"""How an agent leg that ended unanswered ends its offer (otherwise: missed)."""


def offer_uuid(offer_id: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(offer_id, uuid.UUID):
        return offer_id
    try:
        return uuid.UUID(str(offer_id).removeprefix("offer:"))
    except ValueError:
        return None


async def agent_leg_start(turn: CallTurn, offer_id: uuid.UUID | str) -> list[Any]:
    """The agent answered: the offer is accepted and the agent waits in the conference
    (the dispatch job brings the caller in); an offer that is over hangs the leg up."""
    oid = offer_uuid(offer_id)
    locked = await lock_offer(turn.session, oid) if oid is not None else None
    if (
        locked is None
        or locked.offer.status not in UNANSWERED
        or not item_is_live(locked.item)
        or locked.agent.state != "reserved"
    ):
        turn.note("queue-offer-over", offer_id=str(offer_id))
        return [Say(text=GONE), Hangup()]
    await answer(turn.platform, turn.session, locked, turn.call.id)
    queue = await row(turn.session, Queue, locked.item.queue_id)
    turn.note("queue-offer-accepted", offer_id=str(oid), item_id=str(locked.item.id))
    return [
        Say(text=queue.name if queue is not None else "Queued call"),
        Conference(name=f"kq-{locked.item.id}", start_on_enter=True, end_on_exit=True),
    ]


async def agent_leg_resume(turn: CallTurn, offer_id: uuid.UUID | str) -> list[Any] | None:
    """The leg runs nothing that reports back; should a step end, it hangs up."""
    return [Hangup()]


async def agent_leg_ended(turn: CallTurn, offer_id: uuid.UUID | str) -> None:
    """Ended unanswered (busy, no answer, failed, cancelled): the offer is missed and the
    agent away; ended after the answer: the conversation is over (wrap-up)."""
    oid = offer_uuid(offer_id)
    locked = await lock_offer(turn.session, oid) if oid is not None else None
    if locked is None:
        return
    offer = locked.offer
    if offer.agent_call_id is None:
        offer.agent_call_id = turn.call.id
    elif offer.agent_call_id != turn.call.id:
        return  # not this offer's leg
    if offer.status in UNANSWERED:
        status = turn.call.status.value
        outcome = MISSED_BY.get(status, OfferStatus.MISSED)
        await end_offer(
            turn.platform, turn.session, locked, outcome, cause="routing", reason=status
        )
        await turn.platform.jobs.wake(turn.session, TOPIC)
    elif offer.status in (OfferStatus.ACCEPTED.value, OfferStatus.CONNECTED.value):
        await finish(turn.platform, turn.session, locked.item)
