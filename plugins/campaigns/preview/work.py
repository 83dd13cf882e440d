"""Preview mode, what the agent does: take the next contact, call it, skip it, or schedule a
callback of their own.

**Who works which campaign.** An agent (the user's active agent profile) works an active
``preview`` campaign when they are a member of its team (``team_id``) or serve its queue
(``queue_id``, directly or through one of the queue's teams): :func:`~plugins.campaigns.
workers.works`.

**The next contact.** The agent's row is locked first, so one agent's requests never
interleave: an agent with a ``previewing`` attempt gets that one again. Otherwise, campaign by
campaign (oldest first, or only the one asked for), the callbacks this agent owns that are
due come first, then the contacts no agent owns, in roster order; each is claimed with the
engine's :func:`~plugins.campaigns.dialer.engine.claim` (``FOR UPDATE SKIP LOCKED``: two
agents never get one contact) and gets the check before every dial
(:func:`~plugins.campaigns.dialer.engine.decide`). A refused contact keeps its ``blocked``
attempt (scheduled for later, or blocked for good) and the next is tried; the first allowed
one is the agent's ``previewing`` attempt (the contact is held: ``dialing``).

**Counting.** ``decide`` counts an allowed attempt among the contact's attempts; a preview
that is skipped, rescheduled, refused when the call starts or never reaches the contact (the
agent's phone not answered) gives it back: only dials count.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, utcnow
from plugins.agents import Agent, AgentState, TeamMember, change_state
from plugins.calls import CallRequest, place_call
from plugins.campaigns.dialer.engine import PLACED_BY, _contact, claim, decide, ended
from plugins.campaigns.events import (
    AttemptCalled,
    AttemptPreviewed,
    AttemptSkipped,
    CallbackScheduled,
)
from plugins.campaigns.models import (
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignContact,
    CampaignState,
    ContactStatus,
    Mode,
    Outcome,
)
from plugins.campaigns.predial import check_dial, window_rules
from plugins.campaigns.preview.problems import (
    AGENT_BUSY,
    BLOCKED,
    INVALID_CALLBACK,
    NOT_ELIGIBLE,
    NOT_FOUND,
    OVER,
    UNAVAILABLE,
)
from plugins.campaigns.workers import works
from plugins.queues import served_queues

HANDLER = "campaigns"
TARGET_PREFIX = "preview:"
SKIP_DELAY = timedelta(minutes=60)
"""A skipped contact is due again this much later (so the next agent does not get it at
once)."""
MAX_BLOCKED = 50
"""Refused contacts one request records before it answers that nothing is due (the next
request goes on)."""
LEG_SECONDS = 30
"""How long the agent's phone rings before the call is given up."""
RETRY_AT_ONCE = timedelta(seconds=0)
CALLBACK_HORIZON = timedelta(days=90)
"""How far ahead an agent may schedule a callback."""


async def worked_campaigns(
    session: AsyncSession, agent: Agent, campaign_id: uuid.UUID | None
) -> list[Campaign]:
    """The active preview campaigns ``agent`` works (only ``campaign_id`` when given: a
    campaign they do not work is a 403, one that is not an active preview campaign a 409)."""
    if campaign_id is not None:
        from plugins.campaigns.service import get_campaign

        campaign = await get_campaign(session, campaign_id)
        if not await works(session, agent, campaign):
            raise ProblemError(NOT_ELIGIBLE, "you do not work this campaign")
        if campaign.mode != Mode.PREVIEW.value or campaign.state != CampaignState.ACTIVE.value:
            raise ProblemError(
                UNAVAILABLE,
                "the campaign is not an active preview campaign",
                mode=campaign.mode,
                state=campaign.state,
            )
        return [campaign]
    teams = set(
        await session.scalars(select(TeamMember.team_id).where(TeamMember.agent_id == agent.id))
    )
    queues = await served_queues(session, agent.id)
    candidates = await session.scalars(
        select(Campaign)
        .where(
            Campaign.mode == Mode.PREVIEW.value,
            Campaign.state == CampaignState.ACTIVE.value,
        )
        .order_by(Campaign.created_at, Campaign.id)
    )
    return [c for c in candidates if c.team_id in teams or c.queue_id in queues]


async def current(session: AsyncSession, agent: Agent) -> Attempt | None:
    """The agent's previewing attempt, if any."""
    attempt: Attempt | None = await session.scalar(
        select(Attempt)
        .where(Attempt.agent_id == agent.id, Attempt.status == AttemptStatus.PREVIEWING.value)
        .order_by(Attempt.decided_at.desc())
        .limit(1)
    )
    return attempt


async def next_preview(
    platform: Platform,
    session: AsyncSession,
    agent: Agent,
    campaign_id: uuid.UUID | None,
    now: datetime | None = None,
) -> Attempt | None:
    """The agent's previewing attempt: the one they have, else a new one (see the module);
    None when nothing is due. Commits."""
    held = await current(session, agent)
    if held is not None and (campaign_id is None or held.campaign_id == campaign_id):
        return held
    if held is not None:  # another campaign asked for: the held one must be ended first
        raise ProblemError(OVER, "you are previewing another contact", attempt_status=held.status)
    campaigns = await worked_campaigns(session, agent, campaign_id)
    at = now or utcnow()
    rules = await window_rules(session) if campaigns else None
    refused = 0
    for campaign in campaigns:
        while refused < MAX_BLOCKED:
            contacts = await claim(
                session, campaign.id, at, 1, agent_id=agent.id, callbacks=True
            ) or await claim(session, campaign.id, at, 1, agent_id=agent.id)
            if not contacts:
                break
            contact = contacts[0]
            attempt = await decide(
                platform,
                session,
                campaign,
                contact,
                at,
                live_status=AttemptStatus.PREVIEWING,
                agent_id=agent.id,
                rules=rules,
            )
            if not attempt.allowed:
                refused += 1
                continue
            contact.callback_agent_id = None
            await platform.events.publish(
                session,
                AttemptPreviewed(
                    campaign_id=campaign.id,
                    attempt_id=attempt.id,
                    contact_id=attempt.contact_id,
                    attempt_no=attempt.attempt_no,
                    agent_id=agent.id,
                ),
            )
            await session.commit()
            return attempt
    await session.commit()
    return None


async def previewing(
    session: AsyncSession, agent: Agent, campaign_id: uuid.UUID, attempt_id: uuid.UUID
) -> tuple[Attempt, Campaign, CampaignContact]:
    """The agent's previewing attempt ``attempt_id`` of ``campaign_id``, its campaign and its
    roster row, locked; 404 when it is not theirs, 409 when it is no longer previewing."""
    from plugins.campaigns.service import get_campaign

    campaign = await get_campaign(session, campaign_id)
    attempt: Attempt | None = await session.scalar(
        select(Attempt)
        .where(
            Attempt.id == attempt_id,
            Attempt.campaign_id == campaign_id,
            Attempt.agent_id == agent.id,
        )
        .with_for_update()
    )
    if attempt is None:
        raise ProblemError(NOT_FOUND, "no attempt of this campaign previewed by you has this id")
    if attempt.status != AttemptStatus.PREVIEWING.value:
        raise ProblemError(
            OVER, "the attempt is no longer being previewed", attempt_status=attempt.status
        )
    contact = await _contact(session, attempt)
    if contact is None:
        raise ProblemError(NOT_FOUND, "the contact left the campaign")
    return attempt, campaign, contact


def _give_back(contact: CampaignContact) -> None:
    """The preview did not dial: it does not count among the contact's attempts."""
    contact.attempts = max(0, contact.attempts - 1)


async def skip(
    platform: Platform,
    session: AsyncSession,
    agent: Agent,
    campaign_id: uuid.UUID,
    attempt_id: uuid.UUID,
    reason: str,
) -> Attempt:
    """End the preview as ``skipped`` (``note``: the reason); the contact is due again
    :data:`SKIP_DELAY` later, for any agent. Commits."""
    attempt, campaign, contact = await previewing(session, agent, campaign_id, attempt_id)
    now = utcnow()
    attempt.status = AttemptStatus.ENDED.value
    attempt.outcome = Outcome.SKIPPED.value
    attempt.note = reason
    attempt.ended_at = now
    _give_back(contact)
    contact.status = ContactStatus.SCHEDULED.value
    contact.next_attempt_at = now + SKIP_DELAY
    contact.last_outcome = Outcome.SKIPPED.value
    contact.callback_agent_id = None
    await platform.events.publish(
        session,
        AttemptSkipped(
            campaign_id=campaign.id,
            attempt_id=attempt.id,
            contact_id=attempt.contact_id,
            attempt_no=attempt.attempt_no,
            agent_id=agent.id,
            next_attempt_at=contact.next_attempt_at,
        ),
    )
    await ended(platform, session, attempt, contact)
    await session.commit()
    return attempt


async def schedule_callback(
    platform: Platform,
    session: AsyncSession,
    agent: Agent,
    campaign_id: uuid.UUID,
    attempt_id: uuid.UUID,
    at: datetime,
    note: str | None,
) -> Attempt:
    """End the preview as ``callback``: the contact is due at ``at`` for this agent only
    (the check before the dial judges it then). Commits."""
    attempt, campaign, contact = await previewing(session, agent, campaign_id, attempt_id)
    now = utcnow()
    if not now < at <= now + CALLBACK_HORIZON:
        message = "must be in the future" if at <= now else "must be within 90 days"
        raise ProblemError(
            INVALID_CALLBACK,
            f"at {message}",
            errors=[{"loc": ["body", "at"], "message": message, "type": "value_error"}],
        )
    attempt.status = AttemptStatus.ENDED.value
    attempt.outcome = Outcome.CALLBACK.value
    attempt.note = note
    attempt.ended_at = now
    _give_back(contact)
    contact.status = ContactStatus.SCHEDULED.value
    contact.next_attempt_at = at
    contact.callback_agent_id = agent.id
    contact.last_outcome = Outcome.CALLBACK.value
    await platform.events.publish(
        session,
        CallbackScheduled(
            campaign_id=campaign.id,
            attempt_id=attempt.id,
            contact_id=attempt.contact_id,
            attempt_no=attempt.attempt_no,
            agent_id=agent.id,
            callback_at=at,
        ),
    )
    await ended(platform, session, attempt, contact)
    await session.commit()
    return attempt


def agent_address(agent: Agent) -> str:
    """Where the platform rings the agent (as queues does: a loopback agent by its id)."""
    if agent.reach_kind == "loopback":
        return f"sip:agent-{agent.id}@loopback.invalid"
    return agent.reach_address


def leg_request(agent: Agent, campaign: Campaign, attempt: Attempt) -> CallRequest:
    options = {}
    if agent.reach_kind == "loopback" and agent.loopback_script is not None:
        options["script"] = agent.loopback_script
    return CallRequest(
        to_number=agent_address(agent),
        from_number=campaign.caller_id,
        timeout_seconds=LEG_SECONDS,
        options=options,
        handler=HANDLER,
        handler_target=f"{TARGET_PREFIX}{attempt.id}",
        tags=["campaign", "preview"],
        metadata={
            "campaign_id": str(campaign.id),
            "attempt_id": str(attempt.id),
            "agent_id": str(agent.id),
        },
        placed_by=f"{PLACED_BY}{campaign.id}",
    )


async def call(
    platform: Platform,
    session: AsyncSession,
    agent: Agent,
    campaign_id: uuid.UUID,
    attempt_id: uuid.UUID,
) -> Attempt:
    """Start the previewed call: the check before the dial again (refused: the attempt ends
    ``blocked``, 409), the agent reserved, the attempt ``dialing`` (committed), then the
    agent's phone rung with the campaigns handler, which dials the contact once they
    answer."""
    attempt, campaign, contact = await previewing(session, agent, campaign_id, attempt_id)
    now = utcnow()
    check = await check_dial(platform, session, campaign, contact.contact_id, number=attempt.number)
    record = {**check.as_record(), "previewed": attempt.decision}
    if not check.allowed:
        attempt.status = AttemptStatus.BLOCKED.value
        attempt.allowed = False
        attempt.rule = check.rule
        attempt.decision = record
        attempt.ended_at = now
        _give_back(contact)
        if check.next_allowed_at is not None:
            contact.status = ContactStatus.SCHEDULED.value
            contact.next_attempt_at = check.next_allowed_at
        else:
            contact.status = ContactStatus.BLOCKED.value
            contact.next_attempt_at = None
        await ended(platform, session, attempt, contact)
        await session.commit()
        raise ProblemError(
            BLOCKED,
            f"the dial is not allowed now ({check.rule})",
            rule=check.rule,
            next_allowed_at=check.next_allowed_at.isoformat() if check.next_allowed_at else None,
        )
    if agent.state == AgentState.WRAP_UP.value:
        await change_state(platform, session, agent, AgentState.AVAILABLE, cause="agent")
    if agent.state != AgentState.AVAILABLE.value:
        raise ProblemError(AGENT_BUSY, "be available to start a call", state=agent.state)
    await change_state(
        platform, session, agent, AgentState.RESERVED, cause="routing", queue_id=campaign.queue_id
    )
    attempt.status = AttemptStatus.DIALING.value
    attempt.decision = record
    request = leg_request(agent, campaign, attempt)
    await session.commit()
    try:
        placed = await place_call(platform, session, request)
    except ProblemError:
        await session.rollback()
        await _not_placed(platform, session, attempt.id)
        await session.commit()
        raise
    locked = await session.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update())
    if locked is not None and locked.call_id is None:
        locked.call_id = placed.id
    await platform.events.publish(
        session,
        AttemptCalled(
            campaign_id=campaign_id,
            attempt_id=attempt_id,
            contact_id=contact.contact_id,
            attempt_no=attempt.attempt_no,
            agent_id=agent.id,
            call_id=placed.id,
        ),
    )
    await session.commit()
    result = await session.scalar(select(Attempt).where(Attempt.id == attempt_id))
    assert result is not None
    return result


async def _not_placed(platform: Platform, session: AsyncSession, attempt_id: uuid.UUID) -> None:
    """The agent's phone could not be rung: the attempt is ``not_placed``, the contact due
    again at once (not counted), the agent available again."""
    attempt = await session.scalar(
        select(Attempt).where(Attempt.id == attempt_id).with_for_update()
    )
    if attempt is None or attempt.status != AttemptStatus.DIALING.value:
        return
    await leg_unanswered(platform, session, attempt, missed=False)


async def leg_unanswered(
    platform: Platform, session: AsyncSession, attempt: Attempt, *, missed: bool
) -> None:
    """The agent's leg never reached the contact (not placed, not answered): the attempt is
    ``not_placed``, the contact due again at once (not counted); the agent is available again
    (``missed``: away with the ``missed`` reason, as when a queued call's offer is missed)."""
    attempt.status = AttemptStatus.NOT_PLACED.value
    attempt.ended_at = utcnow()
    contact = await _contact(session, attempt)
    agent = await session.scalar(
        select(Agent).where(Agent.id == attempt.agent_id).with_for_update()
    )
    if agent is not None and agent.state == AgentState.RESERVED.value:
        await change_state(
            platform,
            session,
            agent,
            AgentState.AWAY if missed else AgentState.AVAILABLE,
            cause="routing",
        )
    if contact is None:
        return
    _give_back(contact)
    contact.status = ContactStatus.SCHEDULED.value
    contact.next_attempt_at = attempt.ended_at + RETRY_AT_ONCE
    await ended(platform, session, attempt, contact)


async def history(
    session: AsyncSession, contact_id: uuid.UUID, but: uuid.UUID, limit: int = 20
) -> Sequence[tuple[Attempt, str]]:
    """The contact's earlier attempts in any of the tenant's campaigns, newest first, with
    their campaign's name."""
    rows = await session.execute(
        select(Attempt, Campaign.name)
        .join(Campaign, Campaign.id == Attempt.campaign_id)
        .where(Attempt.contact_id == contact_id, Attempt.id != but)
        .order_by(Attempt.decided_at.desc(), Attempt.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows.all()]
