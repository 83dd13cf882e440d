"""The preview call, agent first: the turns of the agent's leg (handler target
``preview:<attempt id>``).

* The agent answers (``start``): the attempt is ``placed`` (``placed_at``: the contact is
  dialled now), the agent ``on_call``; the leg dials the contact from the campaign's caller
  id, ringing ``ring_seconds``, and reports the outcome.
* The dial ends (``resume`` with ``dial_status``): the attempt ends ``human`` (the contact
  answered and talked with the agent: ``answered_at`` and ``connected_at`` are when the
  carrier reported it, since it reports a dial when it ends), ``busy``, ``no_answer`` or
  ``failed``; the contact follows the campaign's retry rules; the agent's leg hangs up.
* The leg ends (``ended``): unanswered (the agent's phone busy, not answered, failed), the
  attempt is ``not_placed`` and the contact due again at once, uncounted, the agent away
  (``missed``); after the answer, the agent wraps up (their own wrap-up time, else the
  organization's) and an attempt the dial never reported ends ``failed`` (the agent hung
  up first).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kernel import utcnow
from plugins.agents import Agent, AgentState, HandledCall, change_state
from plugins.calls import CallStatus, CallTurn, Dial, Hangup, Say
from plugins.campaigns.dialer.engine import _contact, ended
from plugins.campaigns.dialer.retry import settle_contact
from plugins.campaigns.models import Attempt, AttemptStatus, Campaign, Outcome
from plugins.campaigns.preview.work import leg_unanswered
from plugins.campaigns.workers import wrap_up_seconds

GONE = "This call is no longer needed. Goodbye."
WRAP_UP_TOPIC = "queues.dispatch"
"""The job that ends agents' wrap-up when its time is up (the queues plugin's)."""
DIALLED: dict[CallStatus, Outcome] = {
    CallStatus.COMPLETED: Outcome.HUMAN,
    CallStatus.BUSY: Outcome.BUSY,
    CallStatus.NO_ANSWER: Outcome.NO_ANSWER,
    CallStatus.FAILED: Outcome.FAILED,
    CallStatus.CANCELED: Outcome.FAILED,
}
SAID = {
    Outcome.BUSY: "The contact is busy.",
    Outcome.NO_ANSWER: "The contact did not answer.",
    Outcome.FAILED: "The contact could not be reached.",
}


async def _attempt(turn: CallTurn, attempt_id: uuid.UUID) -> Attempt | None:
    attempt: Attempt | None = await turn.session.scalar(
        select(Attempt).where(Attempt.id == attempt_id).with_for_update()
    )
    if attempt is None or attempt.call_id not in (None, turn.call.id):
        return None  # not this attempt's leg
    return attempt


async def _agent(turn: CallTurn, attempt: Attempt) -> Agent | None:
    agent: Agent | None = await turn.session.scalar(
        select(Agent).where(Agent.id == attempt.agent_id).with_for_update()
    )
    return agent


async def leg_start(turn: CallTurn, attempt_id: uuid.UUID) -> list[Any]:
    attempt = await _attempt(turn, attempt_id)
    if attempt is None or attempt.status != AttemptStatus.DIALING.value:
        turn.note("campaigns.preview-over", attempt_id=str(attempt_id))
        return [Say(text=GONE), Hangup()]
    session = turn.session
    campaign = await session.scalar(select(Campaign).where(Campaign.id == attempt.campaign_id))
    agent = await _agent(turn, attempt)
    if campaign is None or agent is None:
        return [Say(text=GONE), Hangup()]
    now = utcnow()
    attempt.call_id = turn.call.id
    attempt.status = AttemptStatus.PLACED.value
    attempt.placed_at = now
    if agent.state == AgentState.RESERVED.value:
        await change_state(
            turn.platform,
            session,
            agent,
            AgentState.ON_CALL,
            cause="routing",
            call_id=turn.call.id,
            queue_id=campaign.queue_id,
            now=now,
        )
    session.add(
        HandledCall(
            agent_id=agent.id, call_id=turn.call.id, queue_id=campaign.queue_id, answered_at=now
        )
    )
    turn.note("campaigns.preview-dial", attempt_id=str(attempt.id))
    return [
        Dial(
            number=str(attempt.number),
            caller_id=campaign.caller_id,
            timeout_seconds=campaign.ring_seconds,
            report_outcome=True,
        )
    ]


async def leg_resume(turn: CallTurn, attempt_id: uuid.UUID) -> list[Any] | None:
    status = turn.input.dial_status
    attempt = await _attempt(turn, attempt_id)
    if status is None or attempt is None or attempt.status != AttemptStatus.PLACED.value:
        return [Hangup()]
    outcome = DIALLED.get(status, Outcome.FAILED)
    now = utcnow()
    if outcome is Outcome.HUMAN:
        attempt.answered_by = "human"
        attempt.answered_at = attempt.answered_at or now
        attempt.connected_at = attempt.connected_at or now
    await _end(turn, attempt, outcome)
    turn.note("campaigns.preview-dialed", attempt_id=str(attempt.id), outcome=outcome.value)
    said = SAID.get(outcome)
    return [*([Say(text=said)] if said else []), Hangup()]


async def _end(turn: CallTurn, attempt: Attempt, outcome: Outcome) -> None:
    session = turn.session
    attempt.status = AttemptStatus.ENDED.value
    attempt.outcome = outcome.value
    attempt.ended_at = utcnow()
    contact = await _contact(session, attempt)
    campaign = await session.scalar(select(Campaign).where(Campaign.id == attempt.campaign_id))
    if contact is None or campaign is None:
        return
    await settle_contact(session, campaign, contact, outcome, attempt.ended_at)
    await ended(turn.platform, session, attempt, contact)


async def leg_ended(turn: CallTurn, attempt_id: uuid.UUID) -> None:
    attempt = await _attempt(turn, attempt_id)
    if attempt is None:
        return
    if attempt.status == AttemptStatus.DIALING.value:
        attempt.call_id = turn.call.id
        await leg_unanswered(turn.platform, turn.session, attempt, missed=True)
        return
    if attempt.status == AttemptStatus.PLACED.value:
        await _end(turn, attempt, Outcome.FAILED)
    await _wrap_up(turn, attempt)


async def _wrap_up(turn: CallTurn, attempt: Attempt) -> None:
    session = turn.session
    agent = await _agent(turn, attempt)
    now = utcnow()
    handled = await session.scalar(
        select(HandledCall).where(
            HandledCall.call_id == turn.call.id, HandledCall.ended_at.is_(None)
        )
    )
    if handled is not None:
        handled.ended_at = now
        handled.talk_seconds = round(max(0.0, (now - handled.answered_at).total_seconds()), 3)
    if agent is None or agent.state != AgentState.ON_CALL.value:
        return  # a supervisor or the system moved the agent meanwhile
    seconds = await wrap_up_seconds(session, agent)
    if seconds <= 0:
        if handled is not None:
            handled.wrap_up_ended_at, handled.wrap_up_seconds = now, 0.0
        await change_state(turn.platform, session, agent, AgentState.AVAILABLE, cause="routing")
        return
    await change_state(
        turn.platform,
        session,
        agent,
        AgentState.WRAP_UP,
        cause="routing",
        wrap_up_seconds=seconds,
        now=now,
    )
    await turn.platform.jobs.wake(session, WRAP_UP_TOPIC, at=now + timedelta(seconds=seconds))
