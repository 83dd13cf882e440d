"""A progressive or predictive campaign's call was answered: join the person to the agent
who has waited longest in a ready seat, in this very webhook turn; with no seat ready, play
the safe-harbour message at once and hang up (an abandon, recorded with its times).

An answering machine gets the campaign's AMD action first: hang up, leave the message, or
go to an agent like a person.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, utcnow
from plugins.agents import AgentState, HandledCall
from plugins.calls import Call, CallTurn, Hangup, Say
from plugins.campaigns.amd import AmdAction, machine_action, machine_message
from plugins.campaigns.models import LIVE_ATTEMPTS, Attempt, Campaign, Seat, SeatStatus
from plugins.campaigns.seats.rows import locked_agent, seat_conference
from plugins.campaigns.seats.service import call_over, move_agent, publish

ATTEMPT_PREFIX = "attempt:"


async def answered(turn: CallTurn, attempt_id: uuid.UUID) -> list[Any]:
    """The first instructions of an answered campaign call."""
    session, now = turn.session, utcnow()
    attempt = await _attempt(session, attempt_id)
    campaign = (
        await session.scalar(select(Campaign).where(Campaign.id == attempt.campaign_id))
        if attempt is not None
        else None
    )
    if attempt is None or campaign is None or attempt.status not in LIVE_ATTEMPTS:
        turn.note("campaigns.attempt-over", attempt_id=str(attempt_id))
        return [Hangup()]
    attempt.call_id = attempt.call_id or turn.call.id
    attempt.answered_at = attempt.answered_at or now
    answered_by = await session.scalar(select(Call.answered_by).where(Call.id == turn.call.id))
    attempt.answered_by = answered_by or attempt.answered_by
    if answered_by == "machine":
        machine = machine_steps(campaign, attempt)
        if machine is not None:
            turn.note("campaigns.machine", action=attempt.amd_action)
            return machine
    seat = await claim_ready_seat(session, campaign.id)
    if seat is None:
        turn.note("campaigns.abandoned", attempt_id=str(attempt.id))
        return abandon(campaign, attempt, now)
    await connect(turn.platform, session, seat, attempt, turn.call.id, now)
    turn.note("campaigns.connected", seat_id=str(seat.id), agent_id=str(seat.agent_id))
    return [seat_conference(seat.id, agent=False)]


def machine_steps(campaign: Campaign, attempt: Attempt) -> list[Any] | None:
    """What a machine the answer already names gets under the campaign's AMD policy (None:
    an agent, like a person). A verdict that comes after the answer is applied by the
    events consumer (``dialer/outcomes.py``) the same way."""
    action = machine_action(campaign)
    attempt.amd_action = action.value if action is not None else None
    if action is None or action is AmdAction.AGENT:
        return None
    return machine_message(campaign) if action is AmdAction.MESSAGE else [Hangup()]


async def claim_ready_seat(session: AsyncSession, campaign_id: uuid.UUID) -> Seat | None:
    """The campaign's ready seat that has waited longest, locked (one another answer holds
    is skipped: two answers never take one agent)."""
    seat: Seat | None = await session.scalar(
        select(Seat)
        .where(Seat.campaign_id == campaign_id, Seat.status == SeatStatus.READY.value)
        .order_by(Seat.ready_since, Seat.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return seat


async def connect(
    platform: Platform,
    session: AsyncSession,
    seat: Seat,
    attempt: Attempt,
    call_id: uuid.UUID,
    now: datetime,
) -> None:
    """The person joins the seat's conference: the seat talks, the agent is on the call
    (their history gets the call)."""
    previous = seat.status
    seat.status = SeatStatus.TALKING.value
    seat.attempt_id = attempt.id
    seat.calls_taken += 1
    seat.ready_since = None
    attempt.agent_id = seat.agent_id
    attempt.connected_at = now
    agent = await locked_agent(session, seat.agent_id)
    if agent is not None:
        await move_agent(platform, session, agent, AgentState.ON_CALL, call_id=call_id, now=now)
    session.add(
        HandledCall(id=uuid.uuid4(), agent_id=seat.agent_id, call_id=call_id, answered_at=now)
    )
    await publish(platform, session, seat, previous, "a person answered")


def abandon(campaign: Campaign, attempt: Attempt, now: datetime) -> list[Any]:
    """No agent for a person who answered: the safe-harbour message now, then hang up."""
    attempt.abandoned = True
    attempt.safe_harbour_at = now
    return [Say(text=safe_harbour_text(campaign)), Hangup()]


def safe_harbour_text(campaign: Campaign) -> str:
    """Who called and a number to call back, digit by digit (the campaign's message; a
    progressive campaign without one names its caller id)."""
    message = campaign.abandon_message or {}
    number = str(message.get("callback_number") or campaign.caller_id)
    digits = " ".join(ch for ch in number if ch.isdigit())
    text = str(message.get("text") or "Sorry, no one is free to take this call.")
    return f"{text} To call us back, dial {digits}."


async def ended(turn: CallTurn, attempt_id: uuid.UUID) -> None:
    """The person's call ended: the agent who talked to them wraps up."""
    now = utcnow()
    seat_id = await turn.session.scalar(
        select(Seat.id).where(
            Seat.attempt_id == attempt_id, Seat.status == SeatStatus.TALKING.value
        )
    )
    handled = await turn.session.scalar(
        select(HandledCall).where(HandledCall.call_id == turn.call.id)
    )
    if handled is not None and handled.ended_at is None:
        handled.ended_at = now
        handled.talk_seconds = round((now - handled.answered_at).total_seconds(), 3)
    if seat_id is not None:
        await call_over(turn.platform, turn.session, seat_id, now)


async def _attempt(session: AsyncSession, attempt_id: uuid.UUID) -> Attempt | None:
    attempt: Attempt | None = await session.scalar(
        select(Attempt).where(Attempt.id == attempt_id).with_for_update()
    )
    return attempt
