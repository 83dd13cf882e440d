"""A campaign's states: draft -> active <-> paused -> completed -> archived (a draft or a
paused campaign may be archived directly). Activation checks that the campaign can dial
lawfully now and writes the campaign's roster (a segment is read at each activation and
resume: members who joined since are added, everyone already on it keeps their state); every
change is an event and an audit record (the API writes the latter).
"""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform, ProblemError, utcnow
from plugins.campaigns.events import CampaignStateChanged
from plugins.campaigns.models import Campaign, CampaignState, Mode
from plugins.campaigns.problems import CANNOT_ACTIVATE, TRANSITION_REFUSED
from plugins.campaigns.service import Problems, check_references, check_version, contact_count
from plugins.campaigns.service import get_campaign as _get

S = CampaignState
TRANSITIONS: dict[str, tuple[frozenset[CampaignState], CampaignState]] = {
    "activate": (frozenset({S.DRAFT, S.PAUSED}), S.ACTIVE),
    "deactivate": (frozenset({S.ACTIVE}), S.PAUSED),
    "complete": (frozenset({S.ACTIVE, S.PAUSED}), S.COMPLETED),
    "archive": (frozenset({S.DRAFT, S.PAUSED, S.COMPLETED}), S.ARCHIVED),
}
"""Each action: the states it starts from, the state it leads to."""


@dataclass(frozen=True)
class Transition:
    campaign: Campaign
    previous: CampaignState


async def transition(
    platform: Platform,
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    action: str,
    by: str,
    reason: str = "",
    if_match: str | None = None,
    now: datetime | None = None,
) -> Transition:
    """Move the campaign as ``action`` says (a key of :data:`TRANSITIONS`), publishing
    ``campaigns.campaign.state_changed``; 409 from a state the action does not start from,
    422 when activation finds the campaign not ready."""
    now = now or utcnow()
    campaign = await _get(session, campaign_id, for_update=True)
    check_version(campaign, if_match)
    sources, target = TRANSITIONS[action]
    previous = CampaignState(campaign.state)
    if previous not in sources:
        raise ProblemError(
            TRANSITION_REFUSED,
            f"a {previous.value} campaign cannot {action}",
            state=previous.value,
            to=target.value,
        )
    if target is S.ACTIVE:
        await check_ready(session, campaign, now=now)
        campaign.activated_at = campaign.activated_at or now
        await _start_dialing(platform, session, campaign)
    campaign.state = target.value
    campaign.state_changed_at = now
    campaign.version += 1
    if previous is S.ACTIVE and target is not S.ACTIVE:
        await _stop_dialing(platform, session)
    await session.flush()
    await platform.events.publish(
        session,
        CampaignStateChanged(
            campaign_id=campaign.id,
            mode=campaign.mode,
            state=campaign.state,
            revision=campaign.version,
            previous_state=previous.value,
            reason=reason,
            by=by,
        ),
    )
    return Transition(campaign, previous)


async def _stop_dialing(platform: Platform, session: AsyncSession) -> None:
    """The dialer woken, in the transaction that stops the campaign: it releases the
    campaign's seats (their agents' phones hung up, the agents available again)."""
    from plugins.campaigns.dialer import wake

    await wake(platform, session)


async def _start_dialing(platform: Platform, session: AsyncSession, campaign: Campaign) -> None:
    """The roster (contacts missing from it added; a segment is read now) and the dialer
    woken, in the activation's transaction."""
    from plugins.campaigns.dialer import wake, write_roster  # the dialer completes campaigns

    await write_roster(session, campaign)
    await wake(platform, session)


async def check_ready(session: AsyncSession, campaign: Campaign, *, now: datetime) -> None:
    """Everything the campaign names still exists and suits its mode, it has contacts, a
    predictive campaign has its abandoned-call message, and its schedule has not ended."""
    problems = Problems()
    await check_references(session, campaign, problems)
    if await contact_count(session, campaign) == 0:
        problems.add(["source"], "the campaign has no contacts to call")
    if campaign.mode == Mode.PREDICTIVE and not campaign.abandon_message:
        problems.add(
            ["abandon_message"],
            "a predictive campaign needs the message played to a person no agent could take",
        )
    schedule = campaign.schedule or {}
    end = schedule.get("end_date")
    if end:
        today = now.astimezone(zoneinfo.ZoneInfo(schedule.get("time_zone", "UTC"))).date()
        if today.isoformat() > end:
            problems.add(["schedule", "end_date"], f"the schedule ended on {end}")
    problems.raise_if_any(CANNOT_ACTIVATE)
