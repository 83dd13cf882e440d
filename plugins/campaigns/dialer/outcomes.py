"""Calls' outcomes, back on their attempts (``kraliki_events``; delivery is at least once,
so every step looks at the attempt's state first and does nothing twice).

``calls.call.answered`` records who answered; ``completed``, ``busy``, ``no-answer``,
``failed`` and ``canceled`` end the attempt: a completed call is ``machine`` when a machine
answered, else ``human``; canceled counts as failed. The contact then follows the retry
rules (:mod:`.retry`) and the dialer is woken (a line is free, a campaign may be done).
An outcome that beats the placing worker's own record finds the attempt through the call's
metadata (``attempt_id``).

``calls.call.machine_detected`` (asynchronous detection's verdict) records who answered and,
for a machine, applies the campaign's policy (:mod:`plugins.campaigns.amd`) once: the
attempt's ``amd_action`` is written in the batch's transaction, and the call is hung up or
redirected to its message after that commits (a redelivered verdict finds the action taken
and does nothing).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import DeliveredEvent, Platform, ProblemError
from plugins.calls import Call, hang_up_call, redirect_call
from plugins.campaigns.amd import AmdAction, machine_action, machine_message
from plugins.campaigns.dialer.engine import PLACED_BY, _contact, _locked, ended
from plugins.campaigns.dialer.retry import settle_contact
from plugins.campaigns.handler import HANDLER
from plugins.campaigns.models import LIVE_ATTEMPTS, Attempt, AttemptStatus, Campaign, Outcome
from plugins.campaigns.preview.work import TARGET_PREFIX as PREVIEW_PREFIX

logger = logging.getLogger(__name__)

ANSWERED = "calls.call.answered"
MACHINE_DETECTED = "calls.call.machine_detected"
ACTOR = "campaigns"
"""Who the calls' timeline says acted on a machine."""
ENDINGS: dict[str, Outcome | None] = {
    "calls.call.completed": None,  # human or machine, from who answered
    "calls.call.busy": Outcome.BUSY,
    "calls.call.no-answer": Outcome.NO_ANSWER,
    "calls.call.failed": Outcome.FAILED,
    "calls.call.canceled": Outcome.FAILED,
}


@dataclass(frozen=True)
class MachineStep:
    """What to do to a call a machine answered, once the decision is committed."""

    call_id: uuid.UUID
    action: AmdAction
    instructions: list[Any]


async def on_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """Apply a batch's call events to their attempts, in one transaction; then act on the
    calls machines answered."""
    relevant = [e for e in events if e.name in ENDINGS or e.name in (ANSWERED, MACHINE_DETECTED)]
    if not relevant:
        return
    steps: list[MachineStep] = []
    async with platform.database.session() as session:
        for event in relevant:
            if event.name == MACHINE_DETECTED:
                step = await on_verdict(session, event)
                if step is not None:
                    steps.append(step)
            else:
                await on_event(platform, session, event)
        await session.commit()
    for step in steps:
        await act_on_machine(platform, step)


async def on_verdict(session: AsyncSession, event: DeliveredEvent) -> MachineStep | None:
    """Record who answered; for a machine on a live attempt, decide what the campaign does
    (``amd_action``), once. A ``message`` waits for the end of the machine's greeting."""
    call_id = uuid.UUID(str(event.payload["call_id"]))
    attempt = await attempt_of(session, call_id)
    if attempt is None:
        return None
    answered_by = str(event.payload.get("answered_by") or "unknown")
    if answered_by != "unknown" or attempt.answered_by is None:
        attempt.answered_by = answered_by
    if answered_by != "machine" or attempt.status not in LIVE_ATTEMPTS or attempt.amd_action:
        return None
    campaign = await session.scalar(select(Campaign).where(Campaign.id == attempt.campaign_id))
    action = machine_action(campaign) if campaign is not None else None
    if campaign is None or action is None:
        return None
    if action is AmdAction.MESSAGE and not event.payload.get("greeting_ended"):
        return None  # the beep is still to come
    attempt.amd_action = action.value
    if action is AmdAction.AGENT:
        return None  # it goes on as a person's call (the agent path connects it)
    instructions = machine_message(campaign) if action is AmdAction.MESSAGE else []
    return MachineStep(call_id, action, instructions)


async def act_on_machine(platform: Platform, step: MachineStep) -> None:
    """Hang up, or say the message and hang up. A call that ended meanwhile (the machine
    hung up) or that its provider refuses to steer is left as it is: the decision stands
    in ``amd_action``, the outcome comes with the call's end."""
    async with platform.database.session() as session:
        try:
            if step.action is AmdAction.HANGUP:
                await hang_up_call(platform, session, step.call_id, actor=ACTOR)
            else:
                await redirect_call(platform, session, step.call_id, step.instructions, actor=ACTOR)
        except ProblemError as error:
            await session.rollback()
            logger.info(
                "campaign call %s: the machine's %s was not done: %s",
                step.call_id,
                step.action.value,
                error.detail,
            )


async def on_event(platform: Platform, session: AsyncSession, event: DeliveredEvent) -> None:
    call_id = uuid.UUID(str(event.payload["call_id"]))
    attempt = await attempt_of(session, call_id)
    if attempt is None or await _handled(session, call_id):
        return
    if event.name == ANSWERED:
        attempt.answered_by = attempt.answered_by or event.payload.get("answered_by")
        # An agent campaign's handler took the answer's time in the webhook turn itself.
        attempt.answered_at = attempt.answered_at or event.occurred_at
        return
    if attempt.status not in LIVE_ATTEMPTS:
        return  # already ended (a repeated delivery, or the placing worker's refusal)
    outcome = ENDINGS[event.name]
    if outcome is None:
        answered_by = attempt.answered_by or await session.scalar(
            select(Call.answered_by).where(Call.id == call_id)
        )
        attempt.answered_by = answered_by
        outcome = Outcome.MACHINE if answered_by == "machine" else Outcome.HUMAN
    attempt.call_id = call_id
    attempt.status = AttemptStatus.ENDED.value
    attempt.outcome = outcome.value
    attempt.ended_at = event.occurred_at
    contact = await _contact(session, attempt)
    campaign = await session.scalar(select(Campaign).where(Campaign.id == attempt.campaign_id))
    if contact is None or campaign is None:
        return
    await settle_contact(session, campaign, contact, outcome, event.occurred_at)
    await ended(platform, session, attempt, contact)


async def _handled(session: AsyncSession, call_id: uuid.UUID) -> bool:
    """A preview's agent leg: its turns record the attempt's outcome, not the call's own
    events (its answer is the agent's). A progressive or predictive call to a contact is
    the contact's own: its events end its attempt like any other."""
    row = (
        await session.execute(select(Call.handler, Call.handler_target).where(Call.id == call_id))
    ).first()
    return (
        row is not None
        and row.handler == HANDLER
        and str(row.handler_target or "").startswith(PREVIEW_PREFIX)
    )


async def attempt_of(session: AsyncSession, call_id: uuid.UUID) -> Attempt | None:
    """The attempt whose call this is (locked): by its recorded call id, else by the
    ``attempt_id`` the dialer put in the call's metadata."""
    found = await session.scalar(select(Attempt.id).where(Attempt.call_id == call_id))
    if found is not None:
        return await _locked(session, found)
    call = (
        await session.execute(select(Call.attributes, Call.placed_by).where(Call.id == call_id))
    ).first()
    if call is None or not str(call.placed_by or "").startswith(PLACED_BY):
        return None  # only the dialer's own calls (a user's call cannot name an attempt)
    try:
        attempt_id = uuid.UUID(str((call.attributes or {}).get("attempt_id")))
    except ValueError:
        return None
    attempt = await _locked(session, attempt_id)
    if attempt is None or attempt.call_id not in (None, call_id):
        return None
    return attempt
