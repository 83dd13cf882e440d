"""The ``campaigns.dial`` job: the dialing engine, per tenant.

One run: attempts left ``dialing`` by a worker that died are marked lost and retried by
the rules; then for each active campaign whose mode has a pacer (:mod:`.pacing`), in
rounds, the campaign row is locked (so two runs never pace it at once), as many due
contacts as the pacer allows are claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, in
roster order), each gets the check before every dial (:func:`~plugins.campaigns.predial.
check_dial`) stored with its attempt, and the allowed attempts are committed as
``dialing`` before any call is placed (a crash then loses no attempt). The calls are
placed outside that transaction. A campaign with nobody left to dial completes itself.
The job returns when it is next due: the first scheduled contact, the first attempt that
could turn out lost; a campaign with every line busy waits for an attempt to end (the
outcome wakes the job).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import JobTopic, Platform, ProblemError, utcnow
from plugins.calls import Call, CallRequest, place_call
from plugins.campaigns.amd import machine_detection
from plugins.campaigns.dialer.pacing import PACERS
from plugins.campaigns.dialer.retry import settle_contact
from plugins.campaigns.events import AttemptDecided, AttemptEnded
from plugins.campaigns.lifecycle import transition
from plugins.campaigns.models import (
    DUE_STATUSES,
    LIVE_ATTEMPTS,
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
from plugins.campaigns.seats import service as seats
from plugins.campaigns.seats.connect import ATTEMPT_PREFIX
from plugins.campaigns.seats.rows import campaign_provider
from plugins.campaigns.seats.service import HANDLER

TOPIC = "campaigns.dial"
LOST_AFTER = timedelta(minutes=2)
"""An attempt still ``dialing`` without a call this long after its decision was left by a
worker that died."""
NOT_PLACED_RETRY = timedelta(seconds=30)
"""When a contact whose call the calls plugin's limits refused (429) is tried again."""
PLACED_BY = "campaign:"
"""``placed_by`` of the dialer's calls (and the campaign id after it)."""
MAX_ROUNDS = 20
"""Claim rounds per campaign per run (then the job runs again at once)."""


@dataclass
class CampaignRun:
    more: bool = False
    """Stopped with due contacts left."""
    full: bool = False
    """Every line is busy: the next run comes when an attempt ends."""


async def wake(platform: Platform, session: AsyncSession, at: datetime | None = None) -> None:
    """Make the dialer run for the current tenant (at ``at``, default now), in the
    caller's transaction."""
    await platform.jobs.wake(session, TOPIC, at=at)


async def dial(
    platform: Platform, tenant_id: uuid.UUID, now: datetime | None = None
) -> datetime | None:
    """Run the tenant's dialing (``now``: the clock the decisions use, for tests); when it
    is next due."""
    async with platform.database.session() as session:
        await recover_lost(platform, session, now or utcnow())
        await seats.end_wrap_ups(platform, session, utcnow())
        leaving = await seats.housekeeping(platform, session, utcnow())
        await session.commit()
        for seat_id in leaving:
            await seats.hang_up_leg(platform, session, seat_id)
        active = (
            await session.execute(
                select(Campaign.id, Campaign.mode)
                .where(Campaign.state == CampaignState.ACTIVE.value)
                .order_by(Campaign.created_at, Campaign.id)
            )
        ).all()
    campaign_ids = [row.id for row in active if row.mode in PACERS]
    runs = {cid: await dial_campaign(platform, cid, now) for cid in campaign_ids}
    async with platform.database.session() as session:
        for row in active:  # preview campaigns too: their agents dial, the job completes them
            await complete_if_finished(platform, session, row.id)
        await session.commit()
    if any(run.more for run in runs.values()):
        return utcnow() + timedelta(seconds=1)
    async with platform.database.session() as session:
        return await next_due(session, [c for c, run in runs.items() if not run.full])


async def dial_campaign(
    platform: Platform, campaign_id: uuid.UUID, now: datetime | None
) -> CampaignRun:
    """Claim, decide and place rounds for one campaign until its pacer or its due
    contacts run out."""
    run = CampaignRun()
    for _ in range(MAX_ROUNDS):
        placing, claimed, room = await _decide_round(platform, campaign_id, now)
        for attempt_id in placing:
            await place(platform, attempt_id, now)
        if room == 0:
            run.full = True
            return run
        if claimed < room:
            return run
    run.more = True
    return run


async def _decide_round(
    platform: Platform, campaign_id: uuid.UUID, now: datetime | None
) -> tuple[list[uuid.UUID], int, int]:
    """One round in one transaction: the attempts to place, how many contacts were
    claimed, and how many the pacer allowed."""
    async with platform.database.session() as session:
        campaign = await session.scalar(
            select(Campaign).where(Campaign.id == campaign_id).with_for_update()
        )
        pacer = PACERS.get(campaign.mode) if campaign is not None else None
        if campaign is None or pacer is None or campaign.state != CampaignState.ACTIVE.value:
            return [], 0, 1
        room = await pacer(platform, session, campaign, now or utcnow())
        if room <= 0:
            return [], 0, 0
        at = now or utcnow()
        contacts = await claim(session, campaign_id, at, room)
        rules = await window_rules(session)
        placing = []
        for contact in contacts:
            attempt = await decide(platform, session, campaign, contact, at, rules=rules)
            if attempt.allowed:
                placing.append(attempt.id)
        await session.commit()
    return placing, len(contacts), room


async def claim(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    at: datetime,
    limit: int,
    *,
    agent_id: uuid.UUID | None = None,
    callbacks: bool = False,
) -> list[CampaignContact]:
    """The campaign's due contacts, in roster order, locked (skipping those another
    transaction holds). With ``agent_id`` (preview): ``callbacks`` only the callbacks that
    agent owns, else only contacts no agent owns."""
    query = (
        select(CampaignContact)
        .where(CampaignContact.campaign_id == campaign_id)
        .where(CampaignContact.status.in_(DUE_STATUSES))
        .where(
            or_(CampaignContact.next_attempt_at.is_(None), CampaignContact.next_attempt_at <= at)
        )
        .order_by(CampaignContact.position)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if agent_id is not None:
        query = query.where(
            CampaignContact.callback_agent_id == agent_id
            if callbacks
            else CampaignContact.callback_agent_id.is_(None)
        )
    return list(await session.scalars(query))


async def decide(
    platform: Platform,
    session: AsyncSession,
    campaign: Campaign,
    contact: CampaignContact,
    at: datetime,
    *,
    live_status: AttemptStatus = AttemptStatus.DIALING,
    agent_id: uuid.UUID | None = None,
    **options: object,
) -> Attempt:
    """Check the dial and store the attempt with the decision; the contact is dialing,
    scheduled for when time rules allow, or blocked for good. ``live_status``: an allowed
    attempt's status (preview: ``previewing``); ``agent_id``: the agent it is decided for."""
    check = await check_dial(
        platform,
        session,
        campaign,
        contact.contact_id,
        at=at,
        **options,  # type: ignore[arg-type]
    )
    attempt = Attempt(
        id=uuid.uuid4(),
        campaign_id=campaign.id,
        contact_id=contact.contact_id,
        number=check.number,
        attempt_no=contact.attempts + 1,
        decided_at=at,
        decision=check.as_record(),
        allowed=check.allowed,
        rule=check.rule,
        status=live_status.value if check.allowed else AttemptStatus.BLOCKED.value,
        agent_id=agent_id,
    )
    session.add(attempt)
    if check.allowed:
        contact.status = ContactStatus.DIALING.value
        contact.attempts += 1
        contact.next_attempt_at = None
    elif check.next_allowed_at is not None:
        contact.status = ContactStatus.SCHEDULED.value
        contact.next_attempt_at = check.next_allowed_at
    else:
        contact.status = ContactStatus.BLOCKED.value
        contact.next_attempt_at = None
    await session.flush()
    await platform.events.publish(
        session,
        AttemptDecided(
            campaign_id=campaign.id,
            attempt_id=attempt.id,
            contact_id=contact.contact_id,
            attempt_no=attempt.attempt_no,
            allowed=check.allowed,
            rule=check.rule,
            next_allowed_at=check.next_allowed_at,
        ),
    )
    return attempt


async def place(platform: Platform, attempt_id: uuid.UUID, now: datetime | None = None) -> None:
    """Place the attempt's call (the calls plugin commits it); record its id, or what
    refused it (``now``: the run's clock, for the retries)."""
    async with platform.database.session() as session:
        attempt = await session.scalar(select(Attempt).where(Attempt.id == attempt_id))
        campaign = await session.scalar(
            select(Campaign).where(Campaign.id == (attempt.campaign_id if attempt else None))
        )
        if attempt is None or campaign is None or attempt.status != AttemptStatus.DIALING.value:
            return
        request = await call_request(session, campaign, attempt)
        try:
            call = await place_call(platform, session, request)
        except ProblemError as error:
            await session.rollback()
            await refused(platform, session, attempt_id, error, now or utcnow())
            await session.commit()
            return
        await placed(session, attempt_id, call.id, now or utcnow())
        await session.commit()


async def call_request(session: AsyncSession, campaign: Campaign, attempt: Attempt) -> CallRequest:
    """The attempt's call: an agentless campaign's runs its flow; an agent campaign's is
    joined to a seated agent when answered (``handler.py``), on the provider of the
    campaign's caller id, where its agents' legs are."""
    agentless = campaign.mode == Mode.AGENTLESS.value
    return CallRequest(
        to_number=str(attempt.number),
        from_number=campaign.caller_id,
        provider=None if agentless else await campaign_provider(session, campaign),
        handler="ivr" if agentless else HANDLER,
        handler_target=str(campaign.flow_id) if agentless else f"{ATTEMPT_PREFIX}{attempt.id}",
        detection=machine_detection(campaign),
        timeout_seconds=campaign.ring_seconds,
        tags=["campaign"],
        metadata={"campaign_id": str(campaign.id), "attempt_id": str(attempt.id)},
        placed_by=f"{PLACED_BY}{campaign.id}",
    )


async def placed(
    session: AsyncSession, attempt_id: uuid.UUID, call_id: uuid.UUID, now: datetime
) -> None:
    """The call exists: the attempt is placed (unless its call already ended and the
    outcome got there first)."""
    attempt = await _locked(session, attempt_id)
    if attempt is None:
        return
    attempt.call_id = attempt.call_id or call_id
    attempt.placed_at = attempt.placed_at or now
    if attempt.status == AttemptStatus.DIALING.value:
        attempt.status = AttemptStatus.PLACED.value


async def refused(
    platform: Platform,
    session: AsyncSession,
    attempt_id: uuid.UUID,
    error: ProblemError,
    now: datetime,
) -> None:
    """The calls plugin refused the call: its limits (429) leave the attempt ``not_placed``
    and the contact due again shortly, not counted; anything else is a failed attempt."""
    attempt = await _locked(session, attempt_id)
    if attempt is None or attempt.status != AttemptStatus.DIALING.value:
        return
    contact = await _contact(session, attempt)
    campaign = await session.scalar(select(Campaign).where(Campaign.id == attempt.campaign_id))
    if contact is None or campaign is None:
        return
    attempt.ended_at = now
    if error.problem.status == 429:
        attempt.status = AttemptStatus.NOT_PLACED.value
        contact.attempts = max(0, contact.attempts - 1)
        contact.status = ContactStatus.SCHEDULED.value
        contact.next_attempt_at = now + NOT_PLACED_RETRY
    else:
        attempt.status = AttemptStatus.ENDED.value
        attempt.outcome = Outcome.FAILED.value
        await settle_contact(session, campaign, contact, Outcome.FAILED, now)
    await ended(platform, session, attempt, contact)


async def recover_lost(platform: Platform, session: AsyncSession, now: datetime) -> int:
    """Attempts a dead worker left ``dialing`` without a call id: placed after all when the
    calls plugin has their call (the worker died between the call and recording its id; the
    call's outcome then ends the attempt as usual), else lost, retried as failures."""
    stale = list(
        await session.scalars(
            select(Attempt.id).where(
                Attempt.status == AttemptStatus.DIALING.value,
                Attempt.call_id.is_(None),
                Attempt.decided_at < now - LOST_AFTER,
            )
        )
    )
    for attempt_id in stale:
        attempt = await _locked(session, attempt_id)
        if attempt is None or attempt.status != AttemptStatus.DIALING.value or attempt.call_id:
            continue
        call_id = await call_of(session, attempt)
        if call_id is not None:
            await placed(session, attempt.id, call_id, now)
            continue
        contact = await _contact(session, attempt)
        campaign = await session.scalar(select(Campaign).where(Campaign.id == attempt.campaign_id))
        if contact is None or campaign is None:
            continue
        attempt.status = AttemptStatus.LOST.value
        attempt.outcome = Outcome.FAILED.value
        attempt.ended_at = now
        await settle_contact(session, campaign, contact, Outcome.FAILED, now)
        await ended(platform, session, attempt, contact)
    return len(stale)


async def call_of(session: AsyncSession, attempt: Attempt) -> uuid.UUID | None:
    """The call the dialer placed for ``attempt``, found by the ``attempt_id`` in its
    metadata among the campaign's calls created since the decision."""
    rows = await session.execute(
        select(Call.id, Call.attributes).where(
            Call.placed_by == f"{PLACED_BY}{attempt.campaign_id}",
            Call.created_at >= attempt.decided_at - timedelta(seconds=1),
        )
    )
    wanted = str(attempt.id)
    return next(
        (row.id for row in rows if (row.attributes or {}).get("attempt_id") == wanted), None
    )


async def ended(
    platform: Platform, session: AsyncSession, attempt: Attempt, contact: CampaignContact
) -> None:
    """Publish ``campaigns.attempt.ended`` and let the dialer run (a line is free)."""
    await session.flush()
    await platform.events.publish(
        session,
        AttemptEnded(
            campaign_id=attempt.campaign_id,
            attempt_id=attempt.id,
            contact_id=attempt.contact_id,
            attempt_no=attempt.attempt_no,
            status=attempt.status,
            outcome=attempt.outcome,
            call_id=attempt.call_id,
            contact_status=contact.status,
        ),
    )
    await wake(platform, session)


async def complete_if_finished(
    platform: Platform, session: AsyncSession, campaign_id: uuid.UUID
) -> bool:
    """An active campaign with no contact left to dial and no attempt live completes."""
    left = await session.scalar(
        select(func.count())
        .select_from(CampaignContact)
        .where(
            CampaignContact.campaign_id == campaign_id,
            CampaignContact.status.in_([*DUE_STATUSES, ContactStatus.DIALING.value]),
        )
    )
    live = await session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(Attempt.campaign_id == campaign_id, Attempt.status.in_(LIVE_ATTEMPTS))
    )
    state = await session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
    if left or live or state != CampaignState.ACTIVE.value:
        return False
    await transition(
        platform,
        session,
        campaign_id=campaign_id,
        action="complete",
        by="dialer",
        reason="every contact was dialled to an end",
    )
    return True


async def next_due(session: AsyncSession, campaign_ids: list[uuid.UUID]) -> datetime | None:
    """The first scheduled contact of these campaigns, or the first attempt that could
    turn out lost."""
    times = [
        await session.scalar(
            select(func.min(CampaignContact.next_attempt_at)).where(
                CampaignContact.campaign_id.in_(campaign_ids),
                CampaignContact.status.in_(DUE_STATUSES),
            )
        )
        if campaign_ids
        else None,
        await session.scalar(
            select(func.min(Attempt.decided_at)).where(
                Attempt.status == AttemptStatus.DIALING.value, Attempt.call_id.is_(None)
            )
        ),
    ]
    if times[1] is not None:
        times[1] = times[1] + LOST_AFTER + timedelta(seconds=1)
    times.append(await seats.next_wrap_up_end(session))
    known = [t for t in times if t is not None]
    return min(known) if known else None


async def _locked(session: AsyncSession, attempt_id: uuid.UUID) -> Attempt | None:
    attempt: Attempt | None = await session.scalar(
        select(Attempt).where(Attempt.id == attempt_id).with_for_update()
    )
    return attempt


async def _contact(session: AsyncSession, attempt: Attempt) -> CampaignContact | None:
    contact: CampaignContact | None = await session.scalar(
        select(CampaignContact)
        .where(
            CampaignContact.campaign_id == attempt.campaign_id,
            CampaignContact.contact_id == attempt.contact_id,
        )
        .with_for_update()
    )
    return contact


DIAL_JOB = JobTopic(
    TOPIC,
    dial,
    "Dial campaigns' due contacts: the check before every dial stored with its attempt, "
    "the call placed, lost attempts retried, finished campaigns completed.",
)
