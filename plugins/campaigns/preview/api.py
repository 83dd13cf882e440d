"""Routes of preview mode: the agent takes the next contact, calls it, skips it or schedules a
callback (``docs/plugins/campaigns.md#preview-mode``)."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    PlatformDep,
    Principal,
    SessionDep,
    problem_responses,
    require,
    utcnow,
)
from plugins.campaigns.models import Attempt, Campaign
from plugins.campaigns.permissions import CAMPAIGNS_WORK
from plugins.campaigns.preview import work
from plugins.campaigns.preview.problems import (
    AGENT_BUSY,
    BLOCKED,
    INVALID_CALLBACK,
    NO_AGENT,
    NOT_ELIGIBLE,
    NOT_FOUND,
    OVER,
    UNAVAILABLE,
)
from plugins.campaigns.preview.schemas import (
    PreviewAttemptOut,
    PreviewCallbackIn,
    PreviewCampaign,
    PreviewConsent,
    PreviewConsentLine,
    PreviewContact,
    PreviewHistoryItem,
    PreviewLocalTime,
    PreviewNextIn,
    PreviewOut,
    PreviewPhone,
    PreviewSkipIn,
)
from plugins.campaigns.problems import CAMPAIGN_NOT_FOUND
from plugins.campaigns.workers import my_agent
from plugins.contacts import consent_line, contact_card

router = APIRouter(tags=["campaigns"])

Worker = Annotated[Principal, Depends(require(CAMPAIGNS_WORK.resource, CAMPAIGNS_WORK.action))]
ATTEMPT = problem_responses(NO_AGENT, CAMPAIGN_NOT_FOUND, NOT_FOUND, OVER)
CALLBACK = problem_responses(NO_AGENT, CAMPAIGN_NOT_FOUND, NOT_FOUND, OVER, INVALID_CALLBACK)


def _local_times(attempt: Attempt, time_zone: str | None) -> list[PreviewLocalTime]:
    zones = [time_zone] if time_zone else []
    if not zones:
        window = (attempt.decision.get("checks") or {}).get("window") or {}
        zones = [str(z.get("zone")) for z in window.get("zones") or [] if z.get("zone")]
    now = utcnow()
    out = []
    for zone in zones:
        try:
            local = now.astimezone(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        out.append(PreviewLocalTime(zone=zone, local_time=local.isoformat(timespec="seconds")))
    return out


async def _consent(session: AsyncSession, attempt: Attempt) -> PreviewConsent | None:
    record: dict[str, Any] = (attempt.decision.get("checks") or {}).get("callable") or {}
    if not record:
        return None
    line = None
    if record.get("consent_record_id"):
        found = await consent_line(session, uuid.UUID(str(record["consent_record_id"])))
        if found is not None:
            line = PreviewConsentLine(
                id=found.id,
                purpose=found.purpose,
                channel=found.channel,
                action=found.action,
                source=found.source,
                occurred_at=found.occurred_at,
            )
    return PreviewConsent(
        purpose=str(record.get("purpose", "")),
        allowed=bool(record.get("allowed")),
        rule=str(record.get("rule", "")),
        reason=str(record.get("reason", "")),
        line=line,
    )


async def preview_of(session: AsyncSession, attempt: Attempt) -> PreviewOut:
    """Everything the agent sees about a previewed attempt."""
    campaign = await session.scalar(select(Campaign).where(Campaign.id == attempt.campaign_id))
    assert campaign is not None
    card = await contact_card(session, attempt.contact_id)
    contact = None
    if card is not None:
        contact = PreviewContact(
            id=card.contact_id,
            name=card.name,
            company=card.company,
            phones=[PreviewPhone(number=p.number, type=p.type, label=p.label) for p in card.phones],
            time_zone=card.time_zone,
            city=card.city,
            region=card.region,
            country=card.country,
            local_times=_local_times(attempt, card.time_zone),
            last_call_at=card.last_call_at,
            last_disposition=card.last_disposition,
            call_count=card.call_count,
        )
    history = [
        PreviewHistoryItem(
            attempt_id=a.id,
            campaign_id=a.campaign_id,
            campaign_name=name,
            decided_at=a.decided_at,
            status=a.status,
            allowed=a.allowed,
            rule=a.rule,
            outcome=a.outcome,
            disposition=a.disposition,
            note=a.note,
            call_id=a.call_id,
            ended_at=a.ended_at,
        )
        for a, name in await work.history(session, attempt.contact_id, attempt.id)
    ]
    return PreviewOut(
        attempt=PreviewAttemptOut.model_validate(attempt, from_attributes=True),
        campaign=PreviewCampaign.model_validate(campaign, from_attributes=True),
        contact=contact,
        history=history,
        consent=await _consent(session, attempt),
        decision=attempt.decision,
    )


@router.post(
    "/preview/next",
    response_model=PreviewOut,
    summary="Preview the next contact",
    responses={
        204: {"description": "No contact is due in the preview campaigns you work."},
        **problem_responses(NO_AGENT, CAMPAIGN_NOT_FOUND, NOT_ELIGIBLE, UNAVAILABLE, OVER),
    },
)
async def preview_next(
    session: SessionDep,
    platform: PlatformDep,
    principal: Worker,
    body: PreviewNextIn | None = None,
) -> Any:
    """The contact you preview: the one you are previewing already, else the next due one
    of the active preview campaigns you work (your own callbacks first, then roster order),
    allowed by the check before every dial (refused ones are recorded and passed over).
    With its history, its consent for the campaign's purpose, the person's local time and
    the decision. `204` when nothing is due."""
    agent = await my_agent(session, principal)
    campaign_id = body.campaign_id if body is not None else None
    attempt = await work.next_preview(platform, session, agent, campaign_id)
    if attempt is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return await preview_of(session, attempt)


@router.post(
    "/{campaign_id}/attempts/{attempt_id}/call",
    response_model=PreviewAttemptOut,
    summary="Call the previewed contact",
    responses=problem_responses(NO_AGENT, CAMPAIGN_NOT_FOUND, NOT_FOUND, OVER, BLOCKED, AGENT_BUSY),
)
async def preview_call(
    campaign_id: uuid.UUID,
    attempt_id: uuid.UUID,
    session: SessionDep,
    platform: PlatformDep,
    principal: Worker,
) -> PreviewAttemptOut:
    """Start the call: the check before the dial runs again (a refusal ends the attempt
    `blocked`: `409 campaigns-preview-blocked` with the `rule`); your phone rings, and the
    contact is dialled from the campaign's number once you answer. The attempt is `dialing`
    (then `placed`, `ended` with its outcome)."""
    agent = await my_agent(session, principal)
    attempt = await work.call(platform, session, agent, campaign_id, attempt_id)
    return PreviewAttemptOut.model_validate(attempt, from_attributes=True)


@router.post(
    "/{campaign_id}/attempts/{attempt_id}/skip",
    response_model=PreviewAttemptOut,
    summary="Skip the previewed contact",
    responses=ATTEMPT,
)
async def preview_skip(
    campaign_id: uuid.UUID,
    attempt_id: uuid.UUID,
    body: PreviewSkipIn,
    session: SessionDep,
    platform: PlatformDep,
    principal: Worker,
) -> PreviewAttemptOut:
    """Do not call the contact now: the attempt ends `skipped` with your reason as its
    `note`; the contact is due again an hour later (for any agent), not counted as a dial."""
    agent = await my_agent(session, principal)
    attempt = await work.skip(platform, session, agent, campaign_id, attempt_id, body.reason)
    return PreviewAttemptOut.model_validate(attempt, from_attributes=True)


@router.post(
    "/{campaign_id}/attempts/{attempt_id}/callback",
    response_model=PreviewAttemptOut,
    summary="Schedule a callback of your own",
    responses=CALLBACK,
)
async def preview_callback(
    campaign_id: uuid.UUID,
    attempt_id: uuid.UUID,
    body: PreviewCallbackIn,
    session: SessionDep,
    platform: PlatformDep,
    principal: Worker,
) -> PreviewAttemptOut:
    """Call the contact later yourself: the attempt ends `callback` (`note` kept); at `at`
    the contact is yours first when you ask for the next one (and no other agent's), judged
    again by the check before the dial. Not counted as a dial."""
    at = body.at.astimezone(UTC)
    agent = await my_agent(session, principal)
    attempt = await work.schedule_callback(
        platform, session, agent, campaign_id, attempt_id, at, body.note
    )
    return PreviewAttemptOut.model_validate(attempt, from_attributes=True)
