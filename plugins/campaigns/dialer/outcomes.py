"""Calls' outcomes, back on their attempts (``kraliki_events``; delivery is at least once,
so every step looks at the attempt's state first and does nothing twice).

``calls.call.answered`` records who answered; ``completed``, ``busy``, ``no-answer``,
``failed`` and ``canceled`` end the attempt: a completed call is ``machine`` when a machine
answered, else ``human``; canceled counts as failed. The contact then follows the retry
rules (:mod:`.retry`) and the dialer is woken (a line is free, a campaign may be done).
An outcome that beats the placing worker's own record finds the attempt through the call's
metadata (``attempt_id``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import DeliveredEvent, Platform
from plugins.calls import Call
from plugins.campaigns.dialer.engine import PLACED_BY, _contact, _locked, ended
from plugins.campaigns.dialer.retry import settle_contact
from plugins.campaigns.handler import HANDLER
from plugins.campaigns.models import LIVE_ATTEMPTS, Attempt, AttemptStatus, Campaign, Outcome
from plugins.campaigns.preview.work import TARGET_PREFIX as PREVIEW_PREFIX

ANSWERED = "calls.call.answered"
ENDINGS: dict[str, Outcome | None] = {
    "calls.call.completed": None,  # human or machine, from who answered
    "calls.call.busy": Outcome.BUSY,
    "calls.call.no-answer": Outcome.NO_ANSWER,
    "calls.call.failed": Outcome.FAILED,
    "calls.call.canceled": Outcome.FAILED,
}


async def on_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    """Apply a batch's call events to their attempts, in one transaction."""
    relevant = [e for e in events if e.name in ENDINGS or e.name == ANSWERED]
    if not relevant:
        return
    async with platform.database.session() as session:
        for event in relevant:
            await on_event(platform, session, event)
        await session.commit()


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
